"""Protected and constrained zones (INPN and others): type, official code, name."""

from __future__ import annotations

import re
from pathlib import Path

from geo.importers.core import ImportOptions, LayerSpec, Row, pick, require, row_source
from geo.importers.errors import ImportFailed
from geo.importers.reader import Batch
from geo.importers.values import as_text
from geo.models.enums import EnvZoneType

_CODE = ("code", "sitecode", "id_mnhn", "code_site", "id_local", "code_mnhn", "id")
_NAME = ("name", "nom", "sitename", "nom_site", "libelle", "site_name")
_TYPE = ("zone_type", "type_zone", "type")

# What people and the INPN call the types, folded to our values.
_ALIASES = {
    "zps": EnvZoneType.NATURA2000_ZPS,
    "natura2000zps": EnvZoneType.NATURA2000_ZPS,
    "zsc": EnvZoneType.NATURA2000_ZSC,
    "sic": EnvZoneType.NATURA2000_ZSC,
    "psic": EnvZoneType.NATURA2000_ZSC,
    "natura2000zsc": EnvZoneType.NATURA2000_ZSC,
    "natura2000sic": EnvZoneType.NATURA2000_ZSC,
    "znieff1": EnvZoneType.ZNIEFF1,
    "znieff2": EnvZoneType.ZNIEFF2,
    "znieffi": EnvZoneType.ZNIEFF1,
    "znieffii": EnvZoneType.ZNIEFF2,
    "znieff_type1": EnvZoneType.ZNIEFF1,
    "znieff_type2": EnvZoneType.ZNIEFF2,
    "pnr": EnvZoneType.PNR,
    "pn": EnvZoneType.PARC_NATIONAL_COEUR,
    "pncoeur": EnvZoneType.PARC_NATIONAL_COEUR,
    "pnadhesion": EnvZoneType.PARC_NATIONAL_ADHESION,
    "aa": EnvZoneType.PARC_NATIONAL_ADHESION,
    "rnn": EnvZoneType.RESERVE_NATURELLE_NATIONALE,
    "rnr": EnvZoneType.RESERVE_NATURELLE_REGIONALE,
    "rb": EnvZoneType.RESERVE_BIOLOGIQUE,
    "rbi": EnvZoneType.RESERVE_BIOLOGIQUE,
    "appb": EnvZoneType.APPB,
    "apb": EnvZoneType.APPB,
    "ramsar": EnvZoneType.RAMSAR,
}


def zone_type(value: str | None) -> EnvZoneType | None:
    """Our type for a value like 'ZPS', 'znieff1', 'natura2000_zsc' (None if unknown)."""
    if not value:
        return None
    v = value.strip().lower()
    try:
        return EnvZoneType(v)
    except ValueError:
        pass
    compact = re.sub(r"[^a-z0-9]", "", v)
    return _ALIASES.get(v) or _ALIASES.get(compact)


def type_from_file_name(path: Path) -> EnvZoneType | None:
    """A type named in the file name (natura2000_zps_cotes-darmor.geojson → ZPS)."""
    tokens = re.split(r"[^a-z0-9]+", path.name.lower())
    joined = "".join(tokens)
    for t in tokens:
        found = zone_type(t)
        if found is not None and t not in {"pn", "aa", "rb"}:
            return found
    for word in ("znieff1", "znieff2"):
        if word in joined:
            return zone_type(word)
    return None


def _check(names: set[str], options: ImportOptions, path: Path) -> None:
    require(path, names, "env-zones", _CODE, _NAME)
    if options.zone_type is not None:
        if zone_type(options.zone_type) is None:
            raise ImportFailed(path, f"unknown zone type '{options.zone_type}'")
    elif not any(t in names for t in _TYPE):
        inferred = type_from_file_name(path)
        if inferred is None:
            choices = ", ".join(t.value for t in EnvZoneType)
            raise ImportFailed(path, f"zone type unknown: pass --zone-type ({choices})")
        options.zone_type = inferred.value  # the import's own copy of the options


def _prepare(batch: Batch, options: ImportOptions) -> list[Row | str]:
    c = batch.columns
    none = [None] * len(batch)
    codes = pick(c, *_CODE) or none
    names = pick(c, *_NAME) or none
    types = pick(c, *_TYPE) or none
    fixed = zone_type(options.zone_type) if options.zone_type else None
    out: list[Row | str] = []
    for i in range(len(batch)):
        code, name = as_text(codes[i]), as_text(names[i])
        ztype = fixed or zone_type(as_text(types[i]))
        if ztype is None:
            out.append(f"unknown zone type '{as_text(types[i]) or ''}'")
        elif code is None:
            out.append("no zone code")
        else:
            out.append((ztype.value, code[:64], (name or code)[:300], row_source(c, i, options)))
    return out


SPEC = LayerSpec(
    name="env-zones",
    table="env_zones",
    geometry="polygon",
    fields=[
        ("zone_type", "varchar(32)"),
        ("code", "varchar(64)"),
        ("name", "varchar(300)"),
        ("source", "varchar(16)"),
    ],
    key=("zone_type", "code"),
    compare=("name", "source", "geom"),
    check_columns=_check,
    prepare=_prepare,
)
