# The territorial referential shipped in app/territories/data/, extracted from a pinned npm
# package (Etalab's decoupage-administratif: INSEE and DGCL data). Only this target needs Node.js
# and npm; the service reads the extracted file and never runs Node.

TERRITORIES_PACKAGE := @etalab/decoupage-administratif
TERRITORIES_VERSION := 6.0.0
TERRITORIES_VINTAGE := 2026
# npm's integrity of the 6.0.0 tarball: the extraction refuses any other bytes.
TERRITORIES_INTEGRITY := sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYhWWcf+7bcWpA5pmCaQ==
TERRITORIES_DATA := app/territories/data

.PHONY: territories-data

territories-data: install  ## re-extract app/territories/data/ from the pinned npm package (needs npm)
	@command -v npm >/dev/null || { echo "territories-data needs npm (Node.js >= 18)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	npm pack --silent --pack-destination "$$tmp" \
		"$(TERRITORIES_PACKAGE)@$(TERRITORIES_VERSION)" >/dev/null && \
	tarball=$$(ls "$$tmp"/*.tgz) && \
	npm install --prefix "$$tmp" --no-save --no-audit --no-fund --ignore-scripts \
		--loglevel=error "$$tarball" && \
	$(BIN)/python -m scripts.extract_territories \
		--package-dir "$$tmp/node_modules/$(TERRITORIES_PACKAGE)" \
		--tarball "$$tarball" --integrity "$(TERRITORIES_INTEGRITY)" \
		--vintage $(TERRITORIES_VINTAGE) --out $(TERRITORIES_DATA)
