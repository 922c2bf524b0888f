# PgBouncer for the tests (tests/pgbouncer/): Debian's package, which the harness starts itself
# in transaction pooling mode in front of the test server. Included by the root Makefile.
#   make pgbouncer-deps   installs pgbouncer when $(PGBOUNCER) is missing (apt-get, needs root)
# `make pytest` (and so `make test`) depends on it: the PgBouncer tests run everywhere, never
# skipped. The package's own service is never started here (the harness runs its own).

_pgbouncer_mk_goal := $(.DEFAULT_GOAL)

PGBOUNCER ?= /usr/sbin/pgbouncer
export PGBOUNCER

.PHONY: pgbouncer-deps

pgbouncer-deps:
	@if [ -x "$(PGBOUNCER)" ]; then \
	  echo "pgbouncer-deps: $$($(PGBOUNCER) --version 2>/dev/null | head -1)"; \
	elif [ "$(PGBOUNCER)" != /usr/sbin/pgbouncer ]; then \
	  echo "pgbouncer-deps: PGBOUNCER=$(PGBOUNCER) is not an executable" >&2; exit 1; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "pgbouncer-deps: /usr/sbin/pgbouncer is missing and installing it needs root:" >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y pgbouncer" >&2; \
	  echo "  (or point PGBOUNCER=/path/to/pgbouncer at one you already have)" >&2; \
	  exit 1; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "pgbouncer-deps: no apt-get here; install PgBouncer and set PGBOUNCER=/path/to/it" >&2; \
	  exit 1; \
	else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer \
	    && echo "pgbouncer-deps: $$($(PGBOUNCER) --version | head -1)"; \
	fi

.DEFAULT_GOAL := $(_pgbouncer_mk_goal)
