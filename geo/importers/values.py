"""Parsing of attribute values as they come in open-data files (strings, numbers, dates)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Any

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%Y-%m-%dT%H:%M:%S")


def as_text(value: Any) -> str | None:
    """A trimmed string, or None for blanks."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = str(value).strip()
    return s or None


_WITH_UNIT = re.compile(r"^([-+]?\d+(?:\.\d+)?)[a-zA-Zµ€$/%²]+$")


def as_float(value: Any) -> float | None:
    """A number from 12.5, '12,5', '78 %' or a blank."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    s = str(value).strip().replace("\u202f", "").replace(" ", "").rstrip("%").replace(",", ".")
    try:
        return float(s)
    except ValueError:
        # A number with its unit, as Caparéseau's raw records give quote-parts: "1.88  k€/MW".
        m = _WITH_UNIT.match(s)
        return float(m[1]) if m else None


def as_int(value: Any) -> int | None:
    """An integer (rounded) or None."""
    if type(value) is int:  # the common case, kept cheap: it runs once per row
        return value
    f = as_float(value)
    return None if f is None or f != f else round(f)


def as_date(value: Any) -> date | None:
    """A date from ISO, French (dd/mm/yyyy) or compact forms; None when unparseable."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parse_date(str(value).strip())


@lru_cache(maxsize=4096)
def _parse_date(s: str) -> date | None:
    # strptime is slow and files repeat the same few dates: cached.
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s[: len(datetime.now().strftime(fmt))], fmt).date()
        except ValueError:
            continue
    return None


def date_in_name(name: str) -> date | None:
    """A YYYY-MM-DD date in a file name (capareseau_2026-04-28.csv)."""
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", name)
    return as_date(m.group(0)) if m else None


def fold(value: str) -> str:
    """Upper-case, accents and punctuation removed: how names are matched."""
    s = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z0-9]+", " ", s.upper()).strip()
