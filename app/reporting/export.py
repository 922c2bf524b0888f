"""CSV exports that hold no database connection while they are sent.

The whole export is written first, from a server-side cursor, into a spooled temporary file
(memory up to SPOOL_MEMORY_BYTES, then disk; its size bounded by AGGREGATES__MAX_CELLS); the
connection goes back to the pool; only then is the file sent. A client that does not read
costs a socket and that file, never a pooled connection, and is abandoned once it has read
nothing for AGGREGATES__EXPORT_STALL_SECONDS.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any

from starlette.responses import StreamingResponse
from starlette.types import Message, Send

from app.errors import NotAcceptable
from app.reporting.csv_safety import FormulaSafeWriter
from app.reporting.pacing import Pacer

logger = logging.getLogger("relance.export")

SPOOL_MEMORY_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024
ROWS_PER_WRITE = 100


def accepts_json(accept: str) -> bool:
    """Whether an Accept header admits JSON (no header, application/json, application/*, */*)."""
    if not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("application/json", "application/*", "*/*"):
            return True
    return False


def json_only(accept: str, csv_path: str) -> None:
    """A JSON operation whose CSV is another one: an Accept asking for CSV without admitting
    JSON is a 406 that names where the CSV is, never JSON the client did not ask for."""
    if "text/csv" in accept and not accepts_json(accept):
        raise NotAcceptable(
            f"This operation answers application/json only: the CSV is GET {csv_path}, with "
            "the same parameters."
        )


class ClientStalled(Exception):
    """The client read nothing of the answer for the stall bound."""


async def spool_csv(
    header: Iterable[str], rows: AsyncIterable[Iterable[Any]], preamble: str = ""
) -> IO[bytes]:
    """`preamble`, then every row as `;`-separated CSV, formulas neutralised, into a spooled
    temporary file, UTF-8, rewound; the caller sends it (SpooledFileResponse closes it)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        buffer = io.StringIO()
        writer = FormulaSafeWriter(csv.writer(buffer, delimiter=";", lineterminator="\r\n"))
        buffer.write(preamble)
        writer.writerow(header)
        pending = 0
        pacer = Pacer()
        async for row in rows:
            writer.writerow(row)
            pending += 1
            if pending == ROWS_PER_WRITE:
                spool.write(_drain(buffer))
                pending = 0
                await pacer.chunk_done()  # an export of 50,000 cells must not stall the others
        spool.write(_drain(buffer))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


async def spool_text(chunks: AsyncIterable[str]) -> IO[bytes]:
    """Text already written (a CSV of another dialect: the SCDL's) into a spooled temporary
    file, UTF-8, rewound: the export runs to its end, and releases its connection, first."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        pacer = Pacer()
        async for chunk in chunks:
            spool.write(chunk.encode("utf-8"))
            await pacer.chunk_done()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


class SpooledFileResponse(StreamingResponse):
    """Sends a finished export from its spooled file, with its Content-Length (so that a client
    cut off knows it), and gives up on a client that reads nothing for `stall_seconds`."""

    def __init__(
        self,
        spool: IO[bytes],
        stall_seconds: float,
        *,
        media_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.spool = spool
        self.stall_seconds = stall_seconds
        size = spool.seek(0, io.SEEK_END)
        spool.seek(0)
        super().__init__(
            self._chunks(),
            media_type=media_type,
            headers={**(headers or {}), "Content-Length": str(size)},
        )

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := self.spool.read(CHUNK_BYTES):
            yield chunk

    async def stream_response(self, send: Send) -> None:
        async def bounded(message: Message) -> None:
            # uvicorn's send waits while the socket's buffers are full: a reader that stops
            # reading stops it here.
            try:
                async with asyncio.timeout(self.stall_seconds):
                    await send(message)
            except TimeoutError as stalled:
                raise ClientStalled from stalled

        try:
            await super().stream_response(bounded)
        except ClientStalled:
            # Returning without completing the answer makes the server close the connection:
            # the client sees a cut answer (shorter than Content-Length), never a complete one.
            logger.warning("export abandoned: the client read nothing for %g s", self.stall_seconds)
        finally:
            self.spool.close()
