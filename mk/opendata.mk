# The open-data exports against the validators data portals run: validata-table (the SCDL
# subventions validator of schema.data.gouv.fr) and frictionless (Fiscal Data Package). They
# live in their own virtualenv, .tools/opendata, pinned by devtools/opendata/requirements.in,
# apart from the service's dependencies. Included by the root Makefile (-include mk/*.mk).

_opendata_mk_goal := $(.DEFAULT_GOAL)

OPENDATA_TOOLS := $(TOOLS)/opendata
export OPENDATA_TOOLS

.PHONY: opendata-check

$(OPENDATA_TOOLS)/.installed: devtools/opendata/requirements.in
	$(PYTHON) -m venv $(OPENDATA_TOOLS)
	$(OPENDATA_TOOLS)/bin/pip install --quiet --disable-pip-version-check \
		-r devtools/opendata/requirements.in
	@touch $@

opendata-check: install $(OPENDATA_TOOLS)/.installed  ## exports of the demo data through validata-table and frictionless: 0 errors
	$(BIN)/pytest -q -p no:cacheprovider -m opendata tests/opendata

.DEFAULT_GOAL := $(_opendata_mk_goal)
