"""PLU zones from the Géoportail de l'Urbanisme (zone_urba): type U/AU/A/N, label, document."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import shapely

from geo.importers.core import ImportOptions, LayerSpec, Row, pick, require, row_source
from geo.importers.reader import Batch
from geo.importers.values import as_text

_PARTITION = re.compile(r"^DU_([0-9][0-9AB][0-9]{3})")


def _check(names: set[str], options: ImportOptions, path: Path) -> None:
    require(path, names, "urban-zones", ("libelle", "label"), ("typezone", "zone_type"))


def natural_key(
    lib_idzone: str | None, document: str | None, gid: str | None, label: str, wkb: bytes
) -> str:
    """A zone's stable key: GPU's lib_idzone, else document + gid, else a content hash."""
    if lib_idzone:
        return lib_idzone[:128]
    if gid:
        return f"{document or 'gpu'}:{gid}"[:128]
    digest = hashlib.sha1(f"{document}|{label}|".encode() + wkb).hexdigest()
    return f"{document or 'zone'}:{digest}"[:128]


def _prepare(batch: Batch, options: ImportOptions) -> list[Row | str]:
    c = batch.columns
    none = [None] * len(batch)
    labels = pick(c, "libelle", "label") or none
    types = pick(c, "typezone", "zone_type") or none
    longs = pick(c, "libelong", "label_long") or none
    insees = pick(c, "insee", "commune_insee") or none
    partitions = pick(c, "partition") or none
    docs = pick(c, "idurba", "document_id") or none
    gids = pick(c, "gid") or none
    zone_ids = pick(c, "lib_idzone", "natural_key") or none
    wkbs = shapely.to_wkb(batch.geoms)
    out: list[Row | str] = []
    for i in range(len(batch)):
        label, ztype = as_text(labels[i]), as_text(types[i])
        if not label or not ztype:
            out.append("no zone type or label")
            continue
        partition = as_text(partitions[i]) or ""
        m = _PARTITION.match(partition)
        insee = as_text(insees[i]) or (m.group(1) if m else None)
        doc = as_text(docs[i]) or partition or None
        key = natural_key(as_text(zone_ids[i]), doc, as_text(gids[i]), label, wkbs[i] or b"")
        long_label = as_text(longs[i])
        out.append(
            (
                key,
                insee,
                ztype[:8],
                label[:64],
                long_label[:500] if long_label else None,
                doc[:64] if doc else None,
                row_source(c, i, options),
            )
        )
    return out


SPEC = LayerSpec(
    name="urban-zones",
    table="urban_zones",
    geometry="polygon",
    fields=[
        ("natural_key", "varchar(128)"),
        ("commune_insee", "varchar(5)"),
        ("zone_type", "varchar(8)"),
        ("label", "varchar(64)"),
        ("label_long", "varchar(500)"),
        ("document_id", "varchar(64)"),
        ("source", "varchar(16)"),
    ],
    key=("natural_key",),
    compare=("commune_insee", "zone_type", "label", "label_long", "document_id", "source", "geom"),
    check_columns=_check,
    prepare=_prepare,
    coverage="communes:commune_insee",
)
