# Browser tests: Playwright (from the dev group) drives Debian's Chromium, headless, with every
# request outside 127.0.0.1 blocked. Included by the root Makefile (-include mk/*.mk).
#   make browser-deps   installs chromium when $(CHROMIUM) is missing (apt-get, needs root)
#   make test-browser   runs tests/browser; screenshots and the server log go to artifacts/
# Playwright never downloads a browser of its own here (`playwright install` is not used).

_browser_mk_goal := $(.DEFAULT_GOAL)

CHROMIUM ?= /usr/bin/chromium
ARTIFACTS_DIR ?= $(CURDIR)/artifacts
export CHROMIUM ARTIFACTS_DIR

.PHONY: browser-deps test-browser

browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then \
	  echo "browser-deps: $$($(CHROMIUM) --version 2>/dev/null || echo $(CHROMIUM))"; \
	elif [ "$(CHROMIUM)" != /usr/bin/chromium ]; then \
	  echo "browser-deps: CHROMIUM=$(CHROMIUM) is not an executable" >&2; exit 1; \
	elif [ "$$(id -u)" -ne 0 ]; then \
	  echo "browser-deps: /usr/bin/chromium is missing and installing it needs root:" >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	  echo "  (or point CHROMIUM=/path/to/chromium at a Chromium you already have)" >&2; \
	  exit 1; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "browser-deps: no apt-get here; install Chromium and set CHROMIUM=/path/to/it" >&2; \
	  exit 1; \
	else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	    && echo "browser-deps: $$($(CHROMIUM) --version)"; \
	fi

test-browser: install browser-deps  ## /docs and /redoc in headless Chromium, no network
	@t0=$$(date +%s); $(BIN)/pytest -m browser tests/browser $(PYTEST_ARGS) || exit 1; \
	echo "browser tests took $$(( $$(date +%s) - t0 ))s; screenshots in $(ARTIFACTS_DIR)/browser"

.DEFAULT_GOAL := $(_browser_mk_goal)
