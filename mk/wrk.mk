# wrk for `make bench` (bench/crud.py): Debian's package. Without it the bench falls back to an
# httpx client in its own process, which tops out near the floor app's rate and cannot tell the
# two servers apart (it then prints NOT MEASURED). Included by the root Makefile.
#   make wrk-deps   installs wrk when it is missing (apt-get, needs root); else says how

_wrk_mk_goal := $(.DEFAULT_GOAL)

.PHONY: wrk-deps

wrk-deps:
	@if command -v wrk >/dev/null; then \
	  echo "wrk-deps: $$(command -v wrk)"; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "wrk-deps: wrk is missing and installing it needs root:" >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y wrk" >&2; \
	  echo "  (make bench still runs, with httpx as its client: its verdicts say NOT MEASURED)" >&2; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "wrk-deps: no apt-get here; install wrk (make bench falls back to httpx)" >&2; \
	else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk \
	    && echo "wrk-deps: $$(command -v wrk)"; \
	fi

.DEFAULT_GOAL := $(_wrk_mk_goal)
