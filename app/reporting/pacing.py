"""Heavy work paced to at most half of the event loop, so that light requests keep their pace.

An export of 50,000 cells or a page of 10,000 is seconds of Python work in the one event loop
that also serves everyone else. Such work runs in chunks. After each chunk the pacer looks
whether anyone else wants the loop: it yields a few turns and measures how long the others ran
meanwhile. Only if they did (other requests are being served) does it give the loop back for
as long as the chunk took (capped): then a heavy request runs at most half the time, and takes
up to twice as long; the requests around it wait at most one chunk at a time. Alone, it never
sleeps: pausing would only make it slower, with nobody to gain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

MAX_PAUSE_SECONDS = 0.05
PROBE_TURNS = 3
"""Loop turns yielded to see whether others run. A request woken by its I/O while the chunk ran
is only polled on the first turn, and its task steps one or two turns later."""
BUSY_SECONDS = 0.0002
"""Others ran at least this long during the probe: they are competing for the loop."""


class Pacer:
    """`await pacer.chunk_done()` after each chunk of heavy work."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._since = clock()

    async def chunk_done(self) -> None:
        worked = self._clock() - self._since
        probe = self._clock()
        for _ in range(PROBE_TURNS):
            await asyncio.sleep(0)
        others = self._clock() - probe
        if others >= BUSY_SECONDS:
            # They had `others` already: the rest of their half.
            await asyncio.sleep(min(max(worked - others, 0.0), MAX_PAUSE_SECONDS))
        self._since = self._clock()
