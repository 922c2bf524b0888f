"""The `relance` command: serve, migrate, seed, import, keys and demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import embedded, migrations
from app.actions.schemas import ActionKey
from app.auth.repository import ApiKeyRepository
from app.auth.service import create_key
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, sign_writes
from app.imports.service import ImportRefused, ImportReport, ImportService
from app.models.enums import Role
from app.ops import logs
from app.partners.repository import PartnerRepository
from app.programme.demo import demo
from app.programme.service import SeedConflict, seed
from app.programmes.repository import ProgrammeRepository

T = TypeVar("T")

logger = logging.getLogger("relance.cli")


def _settings() -> tuple[Settings, bool]:
    """The settings, with DATABASE_URL pointing at the embedded server when none was given.

    Checked before anything starts: in production, unsafe settings (no DATABASE_URL among
    them) stop the command here, so no embedded server is started and no key is printed.
    """
    try:
        settings = get_settings()
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"relance: invalid settings: {reasons}") from None
    # Before anything else logs (the embedded server, Alembic): one format from the first line.
    logs.configure(settings.log_level, settings.log_format)
    if settings.env == "production" and (problems := settings.production_problems()):
        raise SystemExit("relance: refusing to start in production: " + "; ".join(problems))
    if settings.database_url is not None:
        return settings, False
    url = embedded.start(settings.embedded.data_dir)
    os.environ["DATABASE_URL"] = url  # inherited by uvicorn's worker processes
    get_settings.cache_clear()
    return get_settings(), True


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], actor: str) -> T:
    """Run `work` in one transaction; its changes show `actor` (role `system`) in the history."""

    async def run() -> T:
        engine = create_engine(settings, serving=False)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await sign_writes(session, actor, "system")
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _migrate(settings: Settings) -> None:
    # Budget years follow each programme's period in the database: nothing to sync after.
    migrations.upgrade(settings.sqlalchemy_url())


def cmd_migrate(_: argparse.Namespace) -> None:
    settings, _embedded = _settings()
    _migrate(settings)
    logger.info("database at revision %s", migrations.head_revision())


def cmd_seed(args: argparse.Namespace) -> None:
    settings, _embedded = _settings()
    try:
        report = _in_session(
            settings, lambda session: seed(session, settings, args.file), "relance seed"
        )
    except SeedConflict as conflict:  # the transaction was rolled back: nothing changed
        raise SystemExit(f"relance seed: {conflict}; nothing was changed") from None
    except IntegrityError as exc:  # a conflict the seed does not foresee: still one line
        detail = " ".join(str(exc.orig).split())
        raise SystemExit(
            f"relance seed: the reference data conflicts with the database ({detail}); "
            "nothing was changed"
        ) from None
    print(report)


SHOWN_PROBLEMS = 50


def cmd_import(args: argparse.Namespace) -> None:
    """All or nothing, in one transaction: a bar per kind of row on a terminal (none in a
    pipe or a log), a summary at the end, or every problem by line and nothing stored."""
    settings, _embedded = _settings()
    bar = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )
    tasks: dict[str, TaskID] = {}

    def moved(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done)

    async def work(session: AsyncSession) -> ImportReport:
        service = ImportService(session, settings)
        return await service.load(
            args.file, programme=args.programme, match=ActionKey(args.match), progress=moved
        )

    try:
        with bar:
            report = _in_session(settings, work, "relance import")
    except ImportRefused as refused:
        for problem in refused.problems[:SHOWN_PROBLEMS]:
            print(f"{args.file}: {problem}", file=sys.stderr)
        hidden = len(refused.problems) - SHOWN_PROBLEMS + refused.more
        if hidden > 0:
            print(f"{args.file}: and {hidden} more", file=sys.stderr)
        raise SystemExit(f"relance import: {refused}; nothing was stored") from None
    print(f"relance import: {args.file}: {report}")


def cmd_demo(args: argparse.Namespace) -> None:
    settings, _embedded = _settings()
    report = _in_session(
        settings, lambda session: demo(session, settings, reset=args.reset), "relance demo"
    )
    print(report)


async def _new_key(
    session: AsyncSession,
    name: str,
    role: Role,
    partner_code: str | None,
    programme_codes: Sequence[str],
) -> str:
    partner_id = None
    if partner_code is not None:
        partner = await PartnerRepository(session).find_by(code=partner_code)
        if partner is None:
            raise SystemExit(f"no partner has code {partner_code!r}")
        partner_id = partner.id
    programmes = ProgrammeRepository(session)
    programme_ids = []
    for code in dict.fromkeys(programme_codes):  # once each, in the order given
        programme = await programmes.find_by(code=code)
        if programme is None:
            raise SystemExit(f"no programme has code {code!r}")
        programme_ids.append(programme.id)
    _, token = await create_key(
        ApiKeyRepository(session),
        name=name,
        role=role,
        partner_id=partner_id,
        programme_ids=programme_ids,
    )
    return token


def cmd_keys_create(args: argparse.Namespace) -> None:
    role = Role(args.role)
    if (role is Role.partner) != (args.partner is not None):
        raise SystemExit("--partner CODE is required with --role partner, and only with it")
    programmes: list[str] = args.programme or []
    if role is Role.admin and programmes:
        raise SystemExit("--programme is for editor and partner keys: an admin key reaches all")
    settings, _embedded = _settings()
    token = _in_session(
        settings,
        lambda s: _new_key(s, args.name, role, args.partner, programmes),
        "relance keys create",
    )
    scope = f" scoped to {', '.join(dict.fromkeys(programmes))}" if programmes else ""
    print(f"created {role.value} key {args.name!r}{scope}; it is shown once, store it now:")
    print(token)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings, is_embedded = _settings()
    if is_embedded:
        _migrate(settings)
        report = _in_session(settings, lambda session: seed(session, settings), "relance serve")
        logger.info("seed: %s", report)

        async def first_admin(session: AsyncSession) -> str | None:
            if await ApiKeyRepository(session).has_active_admin():
                return None
            return await _new_key(session, "first admin", Role.admin, None, ())

        token = _in_session(settings, first_admin, "relance serve")
        logger.info("Relance API on http://%s:%s (docs at /docs)", args.host, args.port)
        if token:
            # Development only (the embedded server): production makes its first key with
            # `relance keys create`, which prints it on the terminal, not in the logs.
            logger.warning("First admin key (shown once, store it now): %s", token)
        else:
            logger.info("An admin key exists already; make another with `relance keys create`.")
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics to files that /metrics adds up, whichever answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="relance-metrics-")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, so any local
        # client (or a proxy that passes the header on) could pick the address the anonymous
        # rate limit counts: forwarded headers are read only from the configured proxies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,  # no `server: uvicorn` advertising the stack; `date` stays
        date_header=True,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        access_log=False,
        log_config=logs.log_config(settings.log_level, logs.log_format(settings.log_format)),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relance", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="serve the API (embedded PostgreSQL without DATABASE_URL)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser("migrate", help="upgrade the schema to the head revision")
    migrate.set_defaults(func=cmd_migrate)

    seed_cmd = commands.add_parser("seed", help="load the programme's reference data (idempotent)")
    seed_cmd.add_argument("--file", type=Path, default=None, help="another reference file (JSON)")
    seed_cmd.set_defaults(func=cmd_seed)

    import_cmd = commands.add_parser(
        "import", help="load a CSV of actions and commitments, all or nothing (README)"
    )
    import_cmd.add_argument("file", type=Path)
    import_cmd.add_argument("--programme", metavar="CODE", help="needed when there are several")
    import_cmd.add_argument(
        "--match",
        choices=[key.value for key in ActionKey],
        default=ActionKey.code.value,
        help="the field that names a stored action (default: code)",
    )
    import_cmd.set_defaults(func=cmd_import)

    demo_cmd = commands.add_parser("demo", help="add synthetic actions and commitments")
    demo_cmd.add_argument("--reset", action="store_true", help="replace earlier demo data")
    demo_cmd.set_defaults(func=cmd_demo)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="create a key; prints it alone on the last line"
    )
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--partner", help="partner code, for --role partner")
    create.add_argument(
        "--programme",
        action="append",
        metavar="CODE",
        help="scope the key to this programme (repeatable); without it: every programme",
    )
    create.add_argument("--name", required=True)
    create.set_defaults(func=cmd_keys_create)
    return parser


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # An exit, not a death by signal: `finally` blocks and atexit hooks run, among them the
    # one stopping the embedded PostgreSQL. uvicorn swaps this handler out while it serves
    # and, once drained, puts it back and raises the signal again, which lands here.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        args.func(args)
    finally:
        embedded.stop()  # at once, whichever way the command ends (atexit would, later)
