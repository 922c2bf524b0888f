"""Schema fuzzing: schemathesis against a real `relance serve` on a scratch database.

    .venv/bin/python -m tests.contract.fuzz [--max-examples 30] [--seed 2020]

Every operation, authenticated as admin, with the checks of the contract; stateful runs follow
the links the OpenAPI document declares (create -> get -> update -> delete). Exit status is
schemathesis's: zero failures or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from app import migrations
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models.enums import Role
from app.programme.demo import demo
from app.programme.service import seed
from tests.database import admin_url, create_scratch_database, drop_database
from tests.processes import reserved_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "negative_data_rejection",
    "use_after_free",
    "problem_json",
    "response_headers_conformance",
]


async def _prepare(url: str) -> str:
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    engine = create_engine(settings, serving=False)  # seeds run long
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
        await demo(session, settings)
        _, token = await create_key(
            ApiKeyRepository(session), name="schemathesis", role=Role.admin, partner_id=None
        )
    await engine.dispose()
    return token


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()

    url = asyncio.run(create_scratch_database(admin_url(), "relance_fuzz"))
    held = ExitStack()  # the server's port, kept from other processes while it runs
    try:
        token = asyncio.run(_prepare(url))
        port = held.enter_context(reserved_port())
        env = os.environ | {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, process=server)
            # The document is generated on its first request (then cached): seconds on a
            # loaded machine, beyond schemathesis's own 10 s to load it. Made once here first.
            with urllib.request.urlopen(f"{base}/openapi.json", timeout=300) as answer:
                answer.read()
            command = [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(Path(__file__).with_name("schemathesis.toml")),
                "run",
                f"{base}/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                "1",
                "--request-timeout",
                "15",
                "--suppress-health-check",
                "too_slow,filter_too_much",
            ]
            hooks = {"SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(ROOT)}
            return subprocess.call(command, env=os.environ | hooks, cwd=ROOT)
        finally:
            server.terminate()
            server.wait(30)
    finally:
        held.close()
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    raise SystemExit(main())
