"""Generate the SYNTHETIC demo layers around commune 69114 (seeded; the output is committed).

    .venv/bin/python data/generate_synthetic.py

No open file exists in this repository for the PLU zones of 69114, its protected areas, or its
own commune outline (69114 postdates the 2018 communes file). This script derives them from the
real cadastre of 69114, and every feature says ``"source": "synthetic"``:
- commune-69114-synthetic.geojson: the outline of 69114 = union of its parcels (roads closed);
- plu-69114-synthetic.geojson: PLU zones following the cadastral sections (U, AUc, AUs, A, N and
  the solar sectors Npv and Aenr), as real PLU zones follow parcel lines, plus three small sectors
  (an activity zone Ui, an Aenr and an Npv sector, 6.6–9.2 ha) cut out of the sections nearest the
  real poste source AMPÈRE (8.9 MW available), so that the demo's default search finds sites;
- env-zones-synthetic.geojson: a ZNIEFF I, a ZNIEFF II, a Natura 2000 ZSC, a réserve naturelle
  régionale, an APPB, a zone humide, a PPRI red zone and a friche, in and around 69114.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import LineString, Point, mapping

HERE = Path(__file__).resolve().parent
SEED = 69114
L93 = 2154
# The sectors near the poste with capacity: (kind, target ha). Sizes between the site finder's
# default minimum (5 ha) and what AMPÈRE's 8.9 MW take at 1.5 ha/MWc (13 ha).
SECTORS = [("Ui", 9.0), ("Aenr", 7.5), ("Npv", 6.5)]
ANCHOR_POSTE = "AMPE5"  # AMPÈRE, in the real Caparéseau map file of data/
SECTOR_MAX_M = 5_300.0  # sector parcels this close to the poste
SECTOR_CENTRE_M = 4_800.0  # and each sector's centre this close (the default criterion is 5 km)
SECTOR_GAP_M = 30.0  # sectors apart, and apart from other PV-allowed land (site gap is 5 m)
# The section kinds the site finder's default PLU criterion admits (sectors and activity zones by
# label, DOMAIN.md): a sector is kept SECTOR_GAP_M from them, else both would make one site.
ALLOWED = {"Npv", "Aenr", "Ui"}


def _poste_l93(code: str) -> Point:
    """A poste's Lambert-93 position from the Caparéseau map file of data/."""
    with gzip.open(HERE / "capareseau_map_2026-03.json.gz", "rt", encoding="utf-8") as f:
        rows = json.load(f)
    row = next(r for r in rows if r["code"].strip() == code)
    return Point(row["X_l93"], row["Y_l93"])


def _grow(free: gpd.GeoDataFrame, seed: int, target_ha: float, poste: Point) -> list[int] | None:
    """Touching parcels from the seed, nearest to the poste first, up to target_ha; None when
    they run out or the group's centre ends up beyond SECTOR_CENTRE_M."""
    group, area = [seed], free.geometry[seed].area
    while area < target_ha * 10_000:
        shape = shapely.union_all(free.geometry[group].to_list()).buffer(1)
        nxt = [i for i in free.index if i not in group and free.geometry[i].intersects(shape)]
        if not nxt:
            return None
        group.append(nxt[0])  # free is sorted by distance to the poste: a compact sector
        area += free.geometry[nxt[0]].area
    centre = shapely.union_all(free.geometry[group].to_list()).centroid
    return group if centre.distance(poste) <= SECTOR_CENTRE_M else None


def _sectors(parcels: gpd.GeoDataFrame, kinds: dict[str, str]) -> dict[int, str]:
    """Parcel index → sector kind: compact groups of touching parcels grown from the parcels
    nearest the poste, each kept SECTOR_GAP_M from the others and from PV-allowed sections."""
    poste = _poste_l93(ANCHOR_POSTE)
    dist = parcels.geometry.distance(poste)
    near = parcels[dist <= SECTOR_MAX_M]
    allowed_elsewhere = shapely.union_all(
        parcels.geometry[parcels.section.map(kinds).isin(ALLOWED)].to_list()
    )
    taken: dict[int, str] = {}
    for kind, target_ha in SECTORS:
        blocked = shapely.union_all(
            [parcels.geometry[i] for i in taken] + [allowed_elsewhere]
        ).buffer(SECTOR_GAP_M)
        free = near[~near.geometry.intersects(blocked)]
        free = free.loc[dist[free.index].sort_values().index]
        group = next(
            (g for seed in free.index if (g := _grow(free, seed, target_ha, poste)) is not None),
            None,
        )
        if group is None:
            raise SystemExit(f"no room for the {kind} sector of {target_ha} ha")
        taken |= dict.fromkeys(group, kind)
    return taken


def _write(path: Path, features: list[dict]) -> None:
    fc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {path.name}: {len(features)} features, {path.stat().st_size:,} bytes")


def _feature(geom_l93: shapely.Geometry, props: dict) -> dict:
    g = gpd.GeoSeries([geom_l93], crs=L93).to_crs(4326).iloc[0]
    g = shapely.set_precision(g, 1e-7)  # ~1 cm: keeps the files small
    return {
        "type": "Feature",
        "properties": props | {"source": "synthetic"},
        "geometry": mapping(g),
    }


def _blob(rng: np.random.Generator, center: Point, radius: float, parts: int) -> shapely.Geometry:
    """An irregular natural-looking area: a union of a few overlapping discs, smoothed."""
    discs = [
        Point(center.x + dx, center.y + dy).buffer(radius * rng.uniform(0.45, 0.8))
        for dx, dy in rng.normal(0, radius * 0.45, (parts, 2))
    ]
    return shapely.union_all(discs).buffer(radius * 0.1).simplify(5)


def main() -> None:
    """Write the three synthetic files next to this script."""
    rng = np.random.default_rng(SEED)
    parcels = pyogrio.read_dataframe(f"/vsigzip/{HERE / 'cadastre-69114-parcelles.json.gz'}")
    parcels = parcels.to_crs(L93)

    # Commune outline: the union of the parcels, with the roads between them closed.
    outline = shapely.union_all(parcels.geometry.buffer(12)).buffer(-12).simplify(2)
    _write(
        HERE / "commune-69114-synthetic.geojson",
        [
            _feature(
                outline,
                {
                    "code": "69114",
                    "nom": "Commune 69114 (contour synthétique)",
                    "dep": "69",
                    "reg": "84",
                },
            )
        ],
    )

    # PLU zones: one per section, typed so that each family and both solar sectors appear.
    sections = sorted(parcels.section.unique())
    kinds = ["U", "AUc", "AUs", "Npv", "Aenr"]
    kinds += list(rng.choice(["A", "A", "A", "N", "N", "U"], len(sections) - len(kinds)))
    rng.shuffle(kinds)
    kinds_of = dict(zip(sections, kinds, strict=True))
    # Near the poste with capacity, sectors cut out of the sections (of the village's Ub and the
    # fields' A), as real PLUs draw Ui/Aenr/Npv sectors over a few parcels.
    sector_of = _sectors(parcels, kinds_of)
    labels = {
        "U": ("Ub", "Zone urbaine à dominante d'habitat"),
        "AUc": ("1AU", "Zone à urbaniser ouverte"),
        "AUs": ("2AU", "Zone à urbaniser fermée"),
        "A": ("A", "Zone agricole"),
        "N": ("N", "Zone naturelle et forestière"),
        "Npv": ("Npv", "Secteur naturel destiné aux installations photovoltaïques au sol"),
        "Aenr": ("Aenr", "Secteur agricole destiné aux énergies renouvelables"),
        "Ui": ("Ui", "Zone urbaine d'activités économiques"),
    }
    in_sector = parcels.index.isin(list(sector_of))
    parts = [(kinds_of[s], (parcels.section == s) & ~in_sector) for s in sections]
    for k, _ in SECTORS:
        parts.append((k, parcels.index.isin([i for i, x in sector_of.items() if x == k])))
    zones = []
    for n, (kind, mask) in enumerate(parts, 1):
        geom = shapely.union_all(parcels.geometry[mask].buffer(3))
        geom = geom.buffer(-3).simplify(2)
        ztype = {"Npv": "N", "Aenr": "A", "Ui": "U"}.get(kind, kind)
        label, long_label = labels[kind]
        zones.append(
            _feature(
                geom,
                {
                    "lib_idzone": f"69114_PLU_SYNTH_ZO{n:02d}",
                    "libelle": label,
                    "libelong": f"{label} : {long_label} (synthétique)",
                    "typezone": ztype,
                    "insee": "69114",
                    "idurba": "69114_PLU_SYNTH",
                },
            )
        )
    _write(HERE / "plu-69114-synthetic.geojson", zones)

    # Env zones: sizes typical of each designation, placed over and around the commune.
    c = outline.centroid
    minx, miny, maxx, maxy = outline.bounds
    specs = [
        ("znieff1", "820030001", "Vallon du ruisseau des Sablons", 500, 4),
        ("znieff2", "820030002", "Monts du Beaujolais méridional", 3000, 6),
        ("natura2000_zsc", "FR8201999", "Pelouses sèches des Pierres Dorées", 900, 5),
        ("rnr", "RNR999", "Réserve naturelle régionale du Bois Joly", 250, 3),
        ("appb", "FR3800999", "Falaise du Crêt (arrêté de biotope)", 120, 2),
        ("zone_humide", "ZH69-0001", "Prairie humide du Vernay", 90, 3),
        ("friche", "FRICHE-69-0001", "Ancienne carrière des Pierres Dorées", 80, 2),
    ]
    envs = []
    for ztype, code, name, radius, parts in specs:
        center = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if ztype == "znieff2":
            center = Point(c.x + 1500, c.y + 800)
        geom = _blob(rng, center, radius, parts)
        envs.append(
            _feature(geom, {"zone_type": ztype, "code": code, "nom": f"{name} (synthétique)"})
        )
    river = LineString([(minx - 500, miny + 600), (c.x, c.y - 200), (maxx + 500, maxy - 900)])
    envs.append(
        _feature(
            river.buffer(120).simplify(5),
            {
                "zone_type": "ppri_rouge",
                "code": "PPRI-69-0001",
                "nom": "PPRI zone rouge (synthétique)",
            },
        )
    )
    _write(HERE / "env-zones-synthetic.geojson", envs)


if __name__ == "__main__":
    main()
