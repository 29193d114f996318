"""Parcels: Etalab cadastre files (id, commune, prefixe, section, numero, contenance, updated)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geo.importers.core import (
    ImportOptions,
    ImportResult,
    LayerSpec,
    Row,
    pick,
    require,
    warn,
)
from geo.importers.core import row_source as _source
from geo.importers.errors import ImportFailed
from geo.importers.reader import Batch
from geo.importers.values import as_date, as_int, as_text

# INSEE code (2A/2B in Corsica), 3-digit prefix, 2-character section, 4-digit number.
PARCEL_ID = re.compile(r"^[0-9][0-9AB][0-9]{3}[0-9]{3}[0-9A-Z]{2}[0-9]{4}$")


def _check(names: set[str], options: ImportOptions, path: Path) -> None:
    if "id" in names or "idu" in names:
        return
    try:
        require(path, names, "parcels", ("commune", "code_insee"), ("section",), ("numero",))
    except ImportFailed:
        raise ImportFailed(
            path, "missing columns: id (or commune, section, numero) (is this a parcels file?)"
        ) from None


def parcel_id(
    pid: str | None, commune: str | None, prefixe: str | None, section: str | None, num: str | None
) -> str | None:
    """The 14-character id, given as is or built from its parts (section and number padded)."""
    if pid:
        return pid.replace(" ", "0").upper()
    if not (commune and section and num):
        return None
    return f"{commune}{(prefixe or '000').zfill(3)}{section.upper().rjust(2, '0')}{num.zfill(4)}"


def _contenance(value: object, row_no: int, options: ImportOptions) -> int | None:
    """The declared area; a value that is not a number ("abc") is a warning, stored unknown."""
    area = as_int(value)
    if area is None and value is not None and str(value).strip():
        warn(options, row_no, f"contenance '{str(value)[:40]}' is not a number: stored as unknown")
    return area


def _prepare(batch: Batch, options: ImportOptions) -> list[Row | str]:
    c = batch.columns
    n = len(batch)
    none = [None] * n
    ids = pick(c, "id", "idu") or none
    communes = pick(c, "commune", "code_insee") or none
    prefixes = pick(c, "prefixe", "com_abs") or none
    sections = pick(c, "section") or none
    numeros = pick(c, "numero") or none
    contenances = pick(c, "contenance") or none
    updated = pick(c, "updated", "date_maj") or none
    # One provenance for the whole batch unless the file has a 'source' column.
    source = None if "source" in c else _source(c, 0, options)
    out: list[Row | str] = []
    for i in range(n):
        raw = ids[i]
        if type(raw) is str and len(raw) == 14:  # the Etalab case, kept cheap (1M rows)
            pid: str | None = raw.upper()
        else:
            pid = parcel_id(
                as_text(raw),
                as_text(communes[i]),
                as_text(prefixes[i]),
                as_text(sections[i]),
                as_text(numeros[i]),
            )
        if pid is None or not PARCEL_ID.match(pid):
            out.append(f"invalid parcel id '{pid or ''}'")
            continue
        out.append(
            (
                pid,
                pid[:5],
                pid[5:8],
                pid[8:10],
                pid[10:14],
                _contenance(contenances[i], batch.offset + i + 1, options),
                source if source is not None else _source(c, i, options),
                as_date(updated[i]),
            )
        )
    return out


async def _after(session: AsyncSession, result: ImportResult) -> None:
    """Report parcels whose commune is missing from the communes layer (a newer commune)."""
    rows = (
        await session.execute(
            text(
                """SELECT p.commune, count(*) FROM parcels p
                   WHERE p.import_id = :id AND EXISTS (SELECT 1 FROM communes)
                     AND NOT EXISTS (SELECT 1 FROM communes c WHERE c.insee = p.commune)
                   GROUP BY p.commune ORDER BY p.commune"""
            ),
            {"id": result.import_id},
        )
    ).all()
    if rows:
        listed = ", ".join(f"{code} ({n:,} parcels)" for code, n in rows[:10])
        result.notes.append(
            f"communes absent from the communes layer: {listed} — not imported yet, or the "
            "cadastre is newer than the communes file (a merger): import a matching vintage"
        )


SPEC = LayerSpec(
    name="parcels",
    table="parcels",
    geometry="polygon",
    fields=[
        ("id", "varchar(14)"),
        ("commune", "varchar(5)"),
        ("prefixe", "varchar(3)"),
        ("section", "varchar(2)"),
        ("numero", "varchar(4)"),
        ("contenance", "integer"),
        ("source", "varchar(16)"),
        ("source_updated", "date"),
    ],
    key=("id",),
    compare=("commune", "prefixe", "section", "numero", "contenance", "source", "geom"),
    check_columns=_check,
    prepare=_prepare,
    after=_after,
    coverage="communes:commune",
)
