"""Spreadsheet cells from any value: the one writer behind every workbook and CSV we export.

Two hazards are handled here and nowhere else:

* **Formula injection** (OWASP, "CSV Injection"): a spreadsheet runs text starting with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return as a formula (``=HYPERLINK(…)``,
  ``=WEBSERVICE(…)`` in a lead's name or a comment). In a CSV such text is prefixed with a single
  quote, as OWASP advises. In a workbook it is a string cell — never a formula — marked
  ``quotePrefix``, the workbook's own form of that quote: the text is kept as typed and Excel keeps
  it text even when the cell is edited.
* **Characters a workbook can't hold**: XML 1.0 forbids the C0 controls but tab, line feed and
  carriage return, lone surrogates and U+FFFE/U+FFFF (openpyxl raises ``IllegalCharacterError``:
  one ``\\x01`` in a lead's name made its workbook a 500 for everyone who could see it). With
  DEL and the C1 controls, which are legal but invisible, they are replaced by U+FFFD (visible:
  the reader sees that something was there), in both formats.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` with every character a workbook can't hold (or would hide) replaced by U+FFFD."""
    return _UNWRITABLE.sub(REPLACEMENT, text)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula."""
    return text.startswith(FORMULA_STARTS)


def _plain(value: Any) -> Any:
    """Enums as their value, Decimals as floats, containers as JSON text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def csv_field(value: Any) -> str:
    """A value as one CSV field: empty for None, date-times in ISO 8601 UTC, floats to 6
    decimals, text cleaned and quoted (``'``) when it would start a formula."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float):
        return repr(round(value, 6))
    if not isinstance(value, str):
        return str(value)  # numbers, booleans, dates: never quoted ("-5" is a number)
    text = clean_text(value)
    return "'" + text if looks_like_formula(text) else text


def xlsx_cell(ws: Any, value: Any, number_format: str | None = None) -> Any:
    """A value for a write-only worksheet row: numbers, booleans and dates typed (date-times in
    UTC, Excel having no time zones), with ``number_format`` when given; text as a string cell,
    cleaned, never a formula."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if not isinstance(value, str | bool | int | float | date):
        value = str(value)
    if isinstance(value, str):
        text = clean_text(value)
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"  # openpyxl makes text starting with '=' a formula
        if looks_like_formula(text):
            cell.quotePrefix = True
        return cell
    if number_format is None:
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell
