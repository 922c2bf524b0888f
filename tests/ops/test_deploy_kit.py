"""The deploy kit: deploy/kubernetes validates against the Kubernetes schemas (strict) and
compose.yaml against the Compose Specification, and both agree with the app they run: its
settings, its shutdown grace, its probes and its `relance` commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app import cli
from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE_SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec" / "compose-spec.json"
# The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
# PostgreSQL's defaults: what a fresh managed server offers before anyone tunes it.
MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3
# Environment variables read by uvicorn or the process rather than by Settings.
PROCESS_VARIABLES = {"FORWARDED_ALLOW_IPS", "PROMETHEUS_MULTIPROC_DIR"}

Doc = dict[str, Any]


def _manifests() -> dict[str, Doc]:
    """Every resource in deploy/kubernetes, by `kind/name`."""
    resources: dict[str, Doc] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                resources[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return resources


MANIFESTS = _manifests()
DEPLOYMENT = MANIFESTS["Deployment/relance-api"]
POD = DEPLOYMENT["spec"]["template"]["spec"]
API = POD["containers"][0]
JOB = MANIFESTS["Job/relance-api-migrate"]
CONFIG = MANIFESTS["ConfigMap/relance-api"]["data"]
SECRET = MANIFESTS["Secret/relance-api"]["stringData"]


def _setting_variables() -> set[str]:
    """The environment variable names Settings reads (`DB__POOL_SIZE` for nested groups)."""
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        names.add((alias or name).upper())
        group = info.annotation
        if isinstance(group, type) and hasattr(group, "model_fields"):
            names |= {f"{name}__{sub}".upper() for sub in group.model_fields}
    return names


def _settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings the app would build from exactly `environment`."""
    for name in _setting_variables():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _seconds(duration: str) -> float:
    """A Compose duration (`1m30s`, `30s`, `500ms`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def _relance(argv: list[str]) -> Any:
    """Parse a container's `relance ...` command with the real CLI parser."""
    assert argv[0] == "relance", argv
    return cli.build_parser().parse_args(argv[1:])


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("resource", sorted(MANIFESTS))
def test_manifest_is_valid_kubernetes_strictly(resource: str, version: str) -> None:
    try:
        kubernetes_validate.validate(MANIFESTS[resource], version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{resource} against {version}: {exc.message} at {list(exc.path)}")


def test_strict_validation_refuses_a_misspelt_field() -> None:
    """What the test above proves: a typo is an error, not an ignored field."""
    broken = json.loads(json.dumps(DEPLOYMENT))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProbes"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_kit_has_every_piece() -> None:
    kinds = sorted(doc["kind"] for doc in MANIFESTS.values())
    assert kinds == sorted(
        ["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Secret", "Service"]
    )


def test_configmap_holds_only_settings_the_app_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = set(CONFIG) - _setting_variables() - PROCESS_VARIABLES
    assert unknown == set(), "typo? Settings would silently ignore these"
    settings = _settings_from({**CONFIG, "DATABASE_URL": SECRET["DATABASE_URL"]}, monkeypatch)
    assert settings.env == "production"
    assert settings.production_problems() == []


def test_pods_outlive_the_apps_shutdown_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_from({**CONFIG, "DATABASE_URL": SECRET["DATABASE_URL"]}, monkeypatch)
    pre_stop = API["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # SIGTERM arrives after preStop; the kubelet kills at terminationGracePeriodSeconds.
    budget = int(pre_stop[1]) + settings.shutdown_grace_seconds
    assert POD["terminationGracePeriodSeconds"] > budget
    assert (
        settings.shutdown_grace_seconds
        >= Settings.model_fields["shutdown_grace_seconds"].get_default()
    )


def test_probes_ask_the_apps_own_endpoints() -> None:
    ports = {p["name"]: p["containerPort"] for p in API["ports"]}
    assert API["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert API["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert API["startupProbe"]["httpGet"]["path"] == "/healthz"
    serve = _relance(API["command"])
    assert serve.func is cli.cmd_serve
    assert (serve.host, serve.port) == ("0.0.0.0", ports["http"])
    # /readyz waits up to DB__CONNECT_TIMEOUT_SECONDS before answering 503: the probe waits longer.
    assert API["readinessProbe"]["timeoutSeconds"] > float(CONFIG["DB__CONNECT_TIMEOUT_SECONDS"])


def test_every_container_has_requests_and_limits() -> None:
    containers = [*POD["containers"], *JOB["spec"]["template"]["spec"]["initContainers"]]
    containers += JOB["spec"]["template"]["spec"]["containers"]
    for container in containers:
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
        assert "memory" in resources["limits"], container["name"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_migrations_run_in_the_job_never_in_the_replicas() -> None:
    spec = JOB["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    steps = [*spec["initContainers"], *spec["containers"]]
    assert [_relance(c["command"]).func for c in steps] == [cli.cmd_migrate, cli.cmd_seed]
    assert {c["image"] for c in steps} == {API["image"]}
    assert all(c["envFrom"] == API["envFrom"] for c in steps)
    assert _relance(API["command"]).func is not cli.cmd_migrate


def test_service_and_budget_select_the_api_pods() -> None:
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = MANIFESTS["Service/relance-api"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["ports"]} <= {p["name"] for p in API["ports"]}
    budget = MANIFESTS["PodDisruptionBudget/relance-api"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["maxUnavailable"] < DEPLOYMENT["spec"]["replicas"]
    # JOB pods must not receive traffic: they do not carry the api component label.
    job_labels = JOB["spec"]["template"]["metadata"]["labels"]
    assert not service["selector"].items() <= job_labels.items()


def test_connections_fit_postgresql_default_max_connections() -> None:
    """docs/operations.md, "Sizing": pods x workers x (pool + overflow) during a rollout."""
    pods = (
        DEPLOYMENT["spec"]["replicas"] + DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    )
    workers = _relance(API["command"]).workers
    per_worker = int(CONFIG["DB__POOL_SIZE"]) + int(CONFIG["DB__MAX_OVERFLOW"])
    migrate_job = 1
    assert pods * workers * per_worker + migrate_job <= (
        MAX_CONNECTIONS - SUPERUSER_RESERVED_CONNECTIONS
    )


# --- Compose --------------------------------------------------------------------------------

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)
    ]
    assert errors == []


def test_compose_schema_refuses_a_misspelt_field() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["app"]["stop_grace_periode"] = "30s"
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_compose_stops_the_app_after_its_shutdown_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = SERVICES["app"]["environment"]
    settings = _settings_from(
        {k: v for k, v in environment.items() if k != "DATABASE_URL"}, monkeypatch
    )
    assert _seconds(SERVICES["app"]["stop_grace_period"]) > settings.shutdown_grace_seconds
    assert _seconds(SERVICES["db"]["stop_grace_period"]) > 10  # above Docker's default


def test_compose_runs_the_postgresql_ci_tests() -> None:
    assert SERVICES["db"]["image"] == "postgres:18"
    # The 18 image stores its data below /var/lib/postgresql and refuses a volume on .../data.
    targets = [v.split(":", 1)[1] for v in SERVICES["db"]["volumes"]]
    assert targets == ["/var/lib/postgresql"]


def test_compose_migrates_once_before_the_app() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"][:2] == ["sh", "-c"]
    steps = [shlex.split(step) for step in migrate["command"][2].split("&&")]
    assert [_relance(step).func for step in steps] == [cli.cmd_migrate, cli.cmd_seed]
    assert SERVICES["app"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }


def test_compose_has_a_one_shot_step_for_the_first_admin_key() -> None:
    step = SERVICES["admin-key"]
    args = _relance(step["command"])
    assert (args.func, args.role, args.partner) == (cli.cmd_keys_create, "admin", None)
    assert step["restart"] == "no"
    assert step["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    # Each run mints a key: only `docker compose run --rm admin-key` starts it, never `up`.
    assert step["profiles"]
