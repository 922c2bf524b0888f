"""The cyclic garbage collector, tuned once the application has started: what start-up built is
frozen out of its sight, and its youngest generation is collected less often, so that a
10,000-item batch does not walk the heap dozens of times."""

from __future__ import annotations

import gc

from app.config import Settings
from app.main import YOUNG_COLLECTION_THRESHOLD, create_app


async def test_the_lifespan_freezes_start_up_and_collects_young_objects_less_often(
    settings: Settings,
) -> None:
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)  # CPython's defaults
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
            assert YOUNG_COLLECTION_THRESHOLD >= 10_000
            assert gc.get_freeze_count() > 10_000  # routes, validators, metadata, modules
    finally:
        gc.set_threshold(*before)
