"""Heavy work paced to at most half of the event loop, so that light requests keep their pace.

An export of 50,000 cells or a page of 10,000 is seconds of Python work in the one event loop
that also serves everyone else. Such work runs in chunks, and after each chunk it gives the
loop back for as long as the chunk took (capped): a heavy request runs at most half the time,
and takes up to twice as long; the requests around it wait at most one chunk at a time.
"""

from __future__ import annotations

import asyncio
import time

MAX_PAUSE_SECONDS = 0.05


class Pacer:
    """`await pacer.chunk_done()` after each chunk of heavy work."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def chunk_done(self) -> None:
        worked = time.perf_counter() - self._since
        await asyncio.sleep(min(worked, MAX_PAUSE_SECONDS))
        self._since = time.perf_counter()
