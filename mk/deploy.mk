# The deploy kit's check: deploy/kubernetes against the Kubernetes schemas (kubernetes-validate,
# strict: an unknown field is an error) and compose.yaml against the Compose Specification,
# then tests/ops/test_deploy_kit.py, which also checks them against the app (settings, grace,
# probes, commands). Included by the root Makefile (-include mk/*.mk).

_deploy_mk_goal := $(.DEFAULT_GOAL)

# The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
KUBERNETES_VERSIONS ?= 1.30.0 1.37.0

.PHONY: deploy-check

deploy-check: install  ## validate deploy/kubernetes and compose.yaml (schemas, then the app's view)
	@t0=$$(date +%s); set -e; \
	for version in $(KUBERNETES_VERSIONS); do \
	  $(BIN)/kubernetes-validate --strict --quiet -k $$version deploy/kubernetes/*.yaml; \
	  echo "deploy/kubernetes: valid for Kubernetes $$version (strict)"; \
	done; \
	if docker compose version >/dev/null 2>&1; then \
	  docker compose -f compose.yaml config --quiet && echo "compose.yaml: docker compose config ok"; \
	elif command -v docker-compose >/dev/null; then \
	  docker-compose -f compose.yaml config --quiet && echo "compose.yaml: docker-compose config ok"; \
	fi; \
	$(BIN)/pytest -q -p no:cacheprovider tests/ops/test_deploy_kit.py; \
	echo "deploy check took $$(( $$(date +%s) - t0 ))s"

.DEFAULT_GOAL := $(_deploy_mk_goal)
