"""Communes: INSEE code, name, department, region (france-geojson, Admin Express, …)."""

from __future__ import annotations

import re
from pathlib import Path

from geo.importers.core import ImportOptions, LayerSpec, Row, pick, require, row_source
from geo.importers.reader import Batch
from geo.importers.values import as_text

INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
_CODE = ("insee", "code", "insee_com", "code_insee", "codgeo")
_NAME = ("nom", "name", "nom_com", "libelle", "libgeo")


def department_of(insee: str) -> str:
    """Department of a commune: 3 characters overseas (971…), 2 otherwise (2A, 69…)."""
    return insee[:3] if insee.startswith("97") else insee[:2]


def _check(names: set[str], options: ImportOptions, path: Path) -> None:
    require(path, names, "communes", _CODE, _NAME)


def _prepare(batch: Batch, options: ImportOptions) -> list[Row | str]:
    c = batch.columns
    none = [None] * len(batch)
    codes = pick(c, *_CODE) or none
    names = pick(c, *_NAME) or none
    deps = pick(c, "dep", "code_dep", "insee_dep", "departement") or none
    regs = pick(c, "reg", "code_reg", "insee_reg", "region") or none
    out: list[Row | str] = []
    for i in range(len(batch)):
        code, name = as_text(codes[i]), as_text(names[i])
        if code is None or not INSEE.match(code):
            out.append(f"invalid INSEE code '{code or ''}'")
        elif name is None:
            out.append(f"no name for commune '{code}'")
        else:
            dep = as_text(deps[i]) or department_of(code)
            reg = as_text(regs[i])
            reg = reg if reg and len(reg) <= 3 else None  # a code, not a region's name
            out.append((code, name[:200], dep[:3], reg, row_source(c, i, options)))
    return out


SPEC = LayerSpec(
    name="communes",
    table="communes",
    geometry="polygon",
    fields=[
        ("insee", "varchar(5)"),
        ("name", "varchar(200)"),
        ("department", "varchar(3)"),
        ("region", "varchar(3)"),
        ("source", "varchar(16)"),
    ],
    key=("insee",),
    compare=("name", "department", "region", "source", "geom"),
    check_columns=_check,
    prepare=_prepare,
    coverage="outlines",
)
