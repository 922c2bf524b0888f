"""The identifier rule (app/common/fields.py) checked on its own, every character class at
either end and inside: the C-speed path taken by printable ASCII and the general path give the
answer of the rule as written (no control character anywhere, no whitespace at either end)."""

from __future__ import annotations

import re

import pytest

from app.common.fields import _untrimmed_identifier

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SAMPLES = ["A", "é", " ", "\t", "\u00a0", "\u2003", "\x7f", "\x85", "-", "\u3000", "\x1f"]


def _allowed(value: str) -> bool:
    return CONTROL.search(value) is None and value == value.strip()


@pytest.mark.parametrize("inside", SAMPLES)
@pytest.mark.parametrize("end", SAMPLES)
def test_every_character_class_at_either_end_and_inside(end: str, inside: str) -> None:
    for value in (f"{end}X{inside}Y", f"X{inside}Y{end}", f"{end}", f"X{inside}{end}"):
        try:
            accepted = _untrimmed_identifier(value) == value
        except ValueError as refused:
            accepted = False
            message = str(refused)
            assert ("control characters" in message) == (CONTROL.search(value) is not None)
        assert accepted == _allowed(value), repr(value)


def test_other_types_pass_through_to_the_string_validation() -> None:
    assert _untrimmed_identifier(42) == 42
    assert _untrimmed_identifier("") == ""
