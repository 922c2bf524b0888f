"""The pacer of heavy work: it pauses only when other work competes for the event loop, for as
long as the chunk took, capped. Time is a fake clock that the work and the competitor move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.reporting.pacing import MAX_PAUSE_SECONDS, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every positive pause the pacer asks for (its zero-second yields are not pauses)."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        if delay > 0:
            asked.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)  # as the pacer sees it
    return asked


@pytest.fixture
async def competitor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Clock]:
    """A clock, and another task that works 1 ms of it every turn of the loop."""
    clock = Clock()
    real_sleep = asyncio.sleep
    running = True

    async def compete() -> None:
        while running:
            clock.now += 0.001
            await real_sleep(0)

    task = asyncio.get_running_loop().create_task(compete())
    await real_sleep(0)
    yield clock
    running = False
    await task


async def test_alone_the_pacer_never_pauses(pauses: list[float]) -> None:
    clock = Clock()
    pacer = Pacer(clock)
    for _ in range(5):
        clock.now += 0.010  # a chunk of 10 ms of work
        await pacer.chunk_done()
    assert pauses == []


async def test_with_competition_the_pacer_pauses_for_the_rest_of_the_chunk(
    competitor: Clock, pauses: list[float]
) -> None:
    pacer = Pacer(competitor)
    competitor.now += 0.010
    await pacer.chunk_done()
    assert len(pauses) == 1
    # The others already ran during the probe (1 ms a turn): the pause is what is left.
    assert 0 < pauses[0] < 0.010


async def test_a_long_chunk_pauses_at_most_the_cap(competitor: Clock, pauses: list[float]) -> None:
    pacer = Pacer(competitor)
    competitor.now += 1.0
    await pacer.chunk_done()
    assert pauses == [MAX_PAUSE_SECONDS]
