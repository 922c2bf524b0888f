"""What ops read off a running service: route labels for every answer, pool and process
metrics, and logs that are JSON from the first line."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.processes import ROOT, serve, wait_ready


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition text; 0 when it is not there (yet)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_answers_given_before_the_router_are_counted_under_their_route(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A replay answered by the idempotency layer, a 401 answered by the key check and a 405
    never reach the router: they are still counted under the route they were for."""
    partner = {"code": "OBS", "name": "Observatoire", "kind": "other"}
    created = {"method": "POST", "route": "/v1/partners", "status": "201"}
    refused = {"method": "POST", "route": "/v1/partners", "status": "401"}
    before = (await client.get("/metrics")).text
    headers = admin | {"Idempotency-Key": "observed-1"}
    first = await client.post("/v1/partners", json=partner, headers=headers)
    replay = await client.post("/v1/partners", json=partner, headers=headers)
    anonymous = await client.post("/v1/partners", json=partner)
    assert (first.status_code, replay.status_code, anonymous.status_code) == (201, 201, 401)
    assert replay.headers["Idempotent-Replayed"] == "true"
    await client.get("/docs")
    after = (await client.get("/metrics")).text
    total = "relance_http_requests_total"
    assert sample(after, total, **created) - sample(before, total, **created) == 2
    assert sample(after, total, **refused) - sample(before, total, **refused) == 1
    assert sample(after, total, method="GET", route="/docs", status="200") >= 1
    for status in ("201", "401"):  # none of this test's requests fell to "unmatched"
        unmatched = {"method": "POST", "route": "unmatched", "status": status}
        assert sample(after, total, **unmatched) == sample(before, total, **unmatched)


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/12345")
    text = (await client.get("/metrics")).text
    assert "/no/such/path" not in text
    assert (
        sample(text, "relance_http_requests_total", method="GET", route="unmatched", status="404")
        >= 1
    )


async def test_pool_gauges_read_what_is_open_and_process_metrics_are_there(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/metrics")).text
    size = sample(text, "relance_db_pool_size")
    assert size >= 1
    assert sample(text, "relance_db_pool_overflow") == 0  # a quiet pool: none beyond the size
    assert sample(text, "relance_db_pool_checked_out") <= size
    assert sample(text, "relance_db_pool_max_overflow") >= 0
    assert sample(text, "process_resident_memory_bytes") > 0
    assert sample(text, "process_cpu_seconds_total") > 0
    assert re.search(r"^python_info\{", text, re.MULTILINE)


def _json_lines(output: str) -> list[dict[str, object]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "no output"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"a log line is not JSON: {line!r}") from None
    return parsed


async def test_migrate_logs_json_from_the_first_line(own_database: str) -> None:
    """Alembic's lines included (alembic.ini's text logging is for the `alembic` command)."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app", "migrate"],
        env={"DATABASE_URL": own_database, "PATH": "/usr/bin:/bin"},
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    records = _json_lines(result.stdout + result.stderr)
    assert any(str(r["logger"]).startswith("alembic") for r in records)
    assert any("database at revision" in str(r["message"]) for r in records)


def test_serve_logs_json_from_the_first_line_and_text_when_asked(
    own_database: str, server_port: int, tmp_path: Path
) -> None:
    for fmt in ("auto", "text"):
        log = tmp_path / f"{fmt}.log"
        server = serve(own_database, server_port, log=log, LOG_FORMAT=fmt)
        try:
            base = f"http://127.0.0.1:{server_port}"
            wait_ready(base, process=server)
            httpx.get(f"{base}/v1/priorities", headers={"X-Request-ID": "seen-in-log"})
        finally:
            server.terminate()
            server.wait(timeout=60)
        output = log.read_text()
        if fmt == "auto":  # a file, not a terminal: JSON
            records = _json_lines(output)
            assert records[0]["logger"] == "uvicorn.error"
            assert "color_message" not in records[0]  # uvicorn's copy with terminal colours
            access = [r for r in records if r.get("request_id") == "seen-in-log"]
            assert [r["route"] for r in access] == ["/v1/priorities"]
        else:
            assert not output.lstrip().startswith("{")
            assert re.search(r"INFO +relance\.access: GET /v1/priorities 200", output)
            assert "request_id=seen-in-log" in output


class _Collector(ThreadingHTTPServer):
    """The OTLP/HTTP trace endpoint of a collector: takes the protobuf export requests the
    service sends, as an OpenTelemetry Collector would, and keeps their spans."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, dict[str, object]]] = []  # (name, trace id, attrs)
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            for span in scope.spans:
                                attrs = {a.key: _value(a.value) for a in span.attributes}
                                collector.spans.append((span.name, span.trace_id.hex(), attrs))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def test_traces_reach_the_collector_and_log_lines_carry_their_trace_id(
    own_database: str, server_port: int, tmp_path: Path
) -> None:
    collector = _Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    log = tmp_path / "server.log"
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    server = serve(
        own_database, server_port, log=log,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_BSP_SCHEDULE_DELAY="50",
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{server_port}"
        wait_ready(base, process=server)
        answer = httpx.get(f"{base}/v1/priorities", headers={"X-Request-ID": "traced-1"})
        assert answer.status_code == 200
    finally:
        server.terminate()  # the lifespan's end flushes the spans still buffered
        server.wait(timeout=60)
        collector.shutdown()
    requests = [s for s in collector.spans if s[2].get("http.route") == "/v1/priorities"]
    assert requests, collector.spans
    trace_id = requests[0][1]
    statements = [s for s in collector.spans if s[1] == trace_id and "db.statement" in s[2]]
    names = [s[0] for s in collector.spans]
    assert any("FROM priorities" in str(s[2]["db.statement"]) for s in statements), names
    assert not [s for s in collector.spans if s[2].get("http.route") == "/readyz"]  # probes
    records = _json_lines(log.read_text())
    access = [r for r in records if r.get("request_id") == "traced-1"]
    assert [r["trace_id"] for r in access] == [trace_id]
