"""Postes sources (code, name, operator, voltage, coordinates) with S3REnR capacities.

Capacities come from the postes file itself (Caparéseau records carry INFO_CR / INFO_NA /
INFO_QP) or, more recent, from a Caparéseau capacity table given with ``--capacity``, joined by
code and then by name. ``data_date`` says when the capacities were true: --data-date, else the
date in the capacity file's name, else the row's ``updated`` date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from geo.importers.core import (
    ImportOptions,
    ImportResult,
    LayerSpec,
    Row,
    pick,
    require,
    row_source,
)
from geo.importers.errors import ImportFailed
from geo.importers.reader import FRANCE_BOUNDS, XY_COLUMNS, Batch, read_batches
from geo.importers.values import as_date, as_float, as_text, date_in_name, fold

_CODE = ("code", "code_poste", "code_ps")
_NAME = ("name", "nom", "nom_poste")
_RESERVED = ("info_cr", "capacity_reserved_mw", "capacite_reservee")
_AVAILABLE = ("info_na", "capacity_available_mw", "capacite_disponible")
_QUOTE = ("info_qp_keur_per_mw", "info_qp", "quote_part_eur_kw", "quote_part")
_REGION = ("s3renr", "territory_name", "s3renr_region", "region")


@dataclass
class Capacity:
    """One poste's capacity figures (MW; quote-part in €/kW = k€/MW)."""

    reserved: float | None
    allocated: float | None
    available: float | None
    quote_part: float | None
    region: str | None


def capacity_row(cols: Mapping[str, list[Any]], i: int) -> Capacity:
    """Capacity figures of row i; allocated = reserved - still available."""
    get = {k: (pick(cols, *v) or [None] * (i + 1))[i] for k, v in _FIELDS.items()}
    reserved, available = as_float(get["reserved"]), as_float(get["available"])
    allocated = None
    if reserved is not None and available is not None:
        allocated = round(max(reserved - available, 0.0), 3)
    return Capacity(reserved, allocated, available, as_float(get["quote"]), as_text(get["region"]))


_FIELDS = {"reserved": _RESERVED, "available": _AVAILABLE, "quote": _QUOTE, "region": _REGION}


def load_capacity_table(path: Path) -> tuple[dict[str, Capacity], dict[str, Capacity]]:
    """A Caparéseau capacity CSV as {code: …} and {folded name: …}."""
    by_code: dict[str, Capacity] = {}
    by_name: dict[str, Capacity] = {}
    first = True
    for batch in read_batches(path):
        if first:
            require(path, set(batch.columns), "capacity", _CODE, _RESERVED, _AVAILABLE)
            first = False
        codes = pick(batch.columns, *_CODE) or []
        names = pick(batch.columns, *_NAME) or [None] * len(codes)
        for i, code in enumerate(codes):
            cap = capacity_row(batch.columns, i)
            code_text, name_text = as_text(code), as_text(names[i])
            if code_text:
                by_code[code_text.upper()] = cap
            if name_text:
                by_name[fold(name_text)] = cap
    return by_code, by_name


def _check(names: set[str], options: ImportOptions, path: Path) -> None:
    require(path, names, "substations", _CODE, _NAME)
    if path.name.lower().endswith((".csv", ".csv.gz", ".txt")) and not any(
        x in names and y in names for x, y, _ in XY_COLUMNS
    ):
        raise ImportFailed(
            path,
            "no coordinates (lon/lat, x_l93/y_l93 or x/y columns): a capacity table goes "
            "with --capacity beside a postes-sources file",
        )
    if options.capacity is not None:
        options.cache["capacity"] = load_capacity_table(options.capacity)
        options.cache["joined"] = 0
        options.cache["rows"] = 0
        options.cache["placed"] = set()  # codes of the table that have a position here


def _prepare(batch: Batch, options: ImportOptions) -> list[Row | str]:
    c = batch.columns
    none = [None] * len(batch)
    codes = pick(c, *_CODE) or none
    names = pick(c, *_NAME) or none
    operators = pick(c, "operator", "grd1_name", "gestionnaire") or none
    # Caparéseau gives the poste's voltage classes as text ("HTA / HTB1": HTB1 is 63 or 90 kV);
    # its numeric u_max is a code whose meaning no source we have documents: not read.
    voltages = pick(c, "voltage_kv", "tension", "voltage", "htb_type") or none
    updated = pick(c, "data_date", "updated", "date_maj") or none
    by_code: dict[str, Capacity] = {}
    by_name: dict[str, Capacity] = {}
    table_date: date | None = None
    if options.capacity is not None:
        by_code, by_name = options.cache["capacity"]
        table_date = date_in_name(options.capacity.name)
    out: list[Row | str] = []
    # Positioned in France (the rows the pipeline keeps): only those place a table's poste.
    w, so, e, no = FRANCE_BOUNDS
    geoms_ok = [
        g is not None and w <= g.x <= e and so <= g.y <= no if hasattr(g, "x") else False
        for g in batch.geoms
    ]
    for i in range(len(batch)):
        code, name = as_text(codes[i]), as_text(names[i])
        if not code or not name:
            out.append("no poste code or name")
            continue
        cap = capacity_row(c, i)
        joined = by_code.get(code.upper()) or by_name.get(fold(name))
        when = options.data_date or as_date(updated[i])
        options.cache["rows"] = options.cache.get("rows", 0) + 1
        if joined is not None:
            options.cache["joined"] += 1
            if code.upper() in by_code and geoms_ok[i]:
                options.cache["placed"].add(code.upper())
            cap = joined
            when = options.data_date or table_date or when
        out.append(
            (
                code.upper()[:32],
                name[:200],
                (as_text(operators[i]) or "")[:32] or None,
                (as_text(voltages[i]) or "")[:32] or None,
                (cap.region or "")[:100] or None,
                cap.reserved,
                cap.allocated,
                cap.available,
                cap.quote_part,
                when,
                row_source(c, i, options),
            )
        )
    return out


async def _after(session: AsyncSession, result: ImportResult) -> None:
    """Say how many postes the capacity table matched."""
    cache = result.options_cache
    if "capacity" in cache:
        result.notes.append(
            f"capacity table joined for {cache['joined']:,} of {cache['rows']:,} postes "
            "(by code, then by name); the others keep the capacities of the postes file"
        )
        listed = len(cache["capacity"][0])
        unplaced = listed - len(cache["placed"])
        result.notes.append(
            f"{unplaced:,} of the {listed:,} postes of the capacity table have no position in "
            "this file (the table has no coordinates): not placed on the map, not used"
        )


SPEC = LayerSpec(
    name="substations",
    table="substations",
    geometry="point",
    fields=[
        ("code", "varchar(32)"),
        ("name", "varchar(200)"),
        ("operator", "varchar(32)"),
        ("voltage_kv", "varchar(32)"),
        ("s3renr_region", "varchar(100)"),
        ("capacity_reserved_mw", "double precision"),
        ("capacity_allocated_mw", "double precision"),
        ("capacity_available_mw", "double precision"),
        ("quote_part_eur_kw", "double precision"),
        ("data_date", "date"),
        ("source", "varchar(16)"),
    ],
    key=("code",),
    compare=(
        "name",
        "operator",
        "voltage_kv",
        "s3renr_region",
        "capacity_reserved_mw",
        "capacity_allocated_mw",
        "capacity_available_mw",
        "quote_part_eur_kw",
        "data_date",
        "source",
        "geom",
    ),
    check_columns=_check,
    prepare=_prepare,
    after=_after,
    coverage="regions:s3renr_region",
)
