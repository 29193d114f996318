"""French number and date formatting for the documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MONTHS_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
MONTHS_SHORT = [
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
]
NBSP = "\u00a0"  # no-break space as thousands separator (in the PDF core fonts' charset)
MISSING = "n.d."


def fr_num(value: Any, digits: int = 0) -> str:
    """``12345.6`` → ``12 345,6``; ``n.d.`` for a missing value."""
    if value is None or isinstance(value, bool):
        return MISSING
    try:
        v = float(value)
    except (TypeError, ValueError):
        return MISSING
    s = f"{v:,.{digits}f}"
    return s.replace(",", " ").replace(".", ",").replace(" ", NBSP)


def fr_unit(value: Any, unit: str, digits: int = 0, scale: float = 1.0) -> str:
    """A number with its unit, or ``n.d.``."""
    if value is None:
        return MISSING
    try:
        return f"{fr_num(float(value) * scale, digits)} {unit}"
    except (TypeError, ValueError):
        return MISSING


def fr_date(d: datetime) -> str:
    """``25 novembre 2026``."""
    return f"{d.day} {MONTHS_FR[d.month - 1]} {d.year}"
