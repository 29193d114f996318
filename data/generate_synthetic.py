"""Generate the SYNTHETIC demo layers around commune 69114 (seeded; the output is committed).

    .venv/bin/python data/generate_synthetic.py

No open file exists in this repository for the PLU zones of 69114, its protected areas, or its
own commune outline (69114 postdates the 2018 communes file). This script derives them from the
real cadastre of 69114, and every feature says ``"source": "synthetic"``:
- commune-69114-synthetic.geojson: the outline of 69114 = union of its parcels (roads closed);
- plu-69114-synthetic.geojson: PLU zones following the cadastral sections (U, AUc, AUs, A, N and
  the solar sectors Npv and Aenr), as real PLU zones follow parcel lines;
- env-zones-synthetic.geojson: a ZNIEFF I, a ZNIEFF II, a Natura 2000 ZSC, a réserve naturelle
  régionale, an APPB, a zone humide, a PPRI red zone and a friche, in and around 69114.
"""

from __future__ import annotations

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
    labels = {
        "U": ("Ub", "Zone urbaine à dominante d'habitat"),
        "AUc": ("1AU", "Zone à urbaniser ouverte"),
        "AUs": ("2AU", "Zone à urbaniser fermée"),
        "A": ("A", "Zone agricole"),
        "N": ("N", "Zone naturelle et forestière"),
        "Npv": ("Npv", "Secteur naturel destiné aux installations photovoltaïques au sol"),
        "Aenr": ("Aenr", "Secteur agricole destiné aux énergies renouvelables"),
    }
    zones = []
    for n, (section, kind) in enumerate(zip(sections, kinds, strict=True), 1):
        geom = shapely.union_all(parcels.geometry[parcels.section == section].buffer(3))
        geom = geom.buffer(-3).simplify(2)
        ztype = {"Npv": "N", "Aenr": "A"}.get(kind, kind)
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
