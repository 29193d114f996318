"""Write a 1M-parcel GeoJSON file shaped like an Etalab cadastre file (streamed, seeded).

.venv/bin/python bench/make_geojson.py [--parcels 1000000] [--seed 7] [--out bench/out/...]
    [--departement 73]

--departement CODE places the file on that département's square of generate.py's layout (codes
of generate.DEPARTEMENTS; 73 is the 11th, next to the 10 M build's ten) with its INSEE codes:
one more département to import on top of lfs_bench or lfs_bench_10m.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "cadastre-bench-parcelles.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--departement", help="a code of generate.DEPARTEMENTS (default: 42's place)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.departement:
        from generate import DEPARTEMENTS, departement_layout

        k = DEPARTEMENTS.index(args.departement)
        code, _, center = departement_layout(k + 1, args.seed, args.parcels)[k]
        _, insee, parcels = synth.make_region(args.seed + 1000 * k, args.parcels, center, code)
    else:
        _, insee, parcels = synth.make_region(args.seed, args.parcels)
    ids = synth.parcel_ids(insee, parcels)
    area = synth.shoelace(parcels.rings)
    rng = np.random.default_rng(args.seed)
    contenance = np.round(area * rng.uniform(0.97, 1.03, len(area))).astype(np.int64).tolist()
    rings = np.round(synth.to_wgs84(parcels.rings), 7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        fh.write('{"type":"FeatureCollection","features":[\n')
        for k in range(0, len(ids), 50_000):
            chunk = []
            for i in range(k, min(k + 50_000, len(ids))):
                r = rings[i]
                coords = ",".join(f"[{x},{y}]" for x, y in (*r.tolist(), r[0].tolist()))
                pid = ids[i]
                chunk.append(
                    f'{{"type":"Feature","id":"{pid}","geometry":{{"type":"Polygon",'
                    f'"coordinates":[[{coords}]]}},"properties":{{"id":"{pid}",'
                    f'"commune":"{pid[:5]}","prefixe":"000","section":"{pid[8:10].lstrip("0")}",'
                    f'"numero":"{int(pid[10:])}","contenance":{contenance[i]},'
                    f'"arpente":false,"created":"2019-03-12","updated":"2024-12-20"}}}}'
                )
            fh.write((",\n" if k else "") + ",\n".join(chunk))
        fh.write("\n]}\n")
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} — {len(ids):,} parcels, {size / 1e6:.0f} MB "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
