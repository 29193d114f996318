"""Seeded synthetic reference geodata that looks like a department (vectorised with numpy).

Everything is built in Lambert-93 (metres), then projected to WGS84 at the end:
- communes: a jittered grid of convex quadrilaterals sharing their corners;
- sections: each commune split recursively into quadrilaterals of ~70 ha;
- parcels: each section split recursively until every piece is under a drawn target size
  (log-normal, 0.17-30 ha, so pieces are 0.05-30 ha). A split cuts a convex quadrilateral by a
  segment joining two opposite edges, so both halves are convex quadrilaterals and the two halves
  share the cut exactly: the layer tiles the region with no gap and no overlap (neighbours meet
  along collinear edges, with T-junctions like a real cadastre).
- PLU zones: each commune split into zones of 50-300 ha with U/AU/A/N types;
- env zones: star-shaped polygons (always simple) with the real types and typical sizes;
- postes sources: points with S3REnR-like capacities.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer

# Around Feurs (Loire): a real, rural part of metropolitan France, so PVGIS-like calls make sense.
CENTER_L93 = (800_000.0, 6_520_000.0)
DEPARTMENT = "42"
REGION = "84"
# Mean parcel area produced by the splitting below (measured: m² per parcel), used to size the
# region so that a requested parcel count is reached.
MEAN_PARCEL_M2 = 4_700.0

_TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)


def shoelace(quads: np.ndarray) -> np.ndarray:
    """Areas (m²) of an (n, k, 2) array of rings (not closed)."""
    x, y = quads[..., 0], quads[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))


def _cut(q: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cut each convex quad (n, 4, 2) in two convex quads across its longer direction."""
    p0, p1, p2, p3 = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    len02 = np.hypot(*(p1 - p0).T) + np.hypot(*(p2 - p3).T)  # edges 0-1 and 3-2
    len13 = np.hypot(*(p2 - p1).T) + np.hypot(*(p3 - p0).T)  # edges 1-2 and 0-3
    # Mostly cut the longer way; sometimes the other way (strips), unless it makes slivers.
    flip = (rng.random(len(q)) < 0.15) & (np.maximum(len02, len13) < 2.5 * np.minimum(len02, len13))
    across02 = (len02 >= len13) ^ flip
    t1 = rng.uniform(0.3, 0.7, len(q))[:, None]
    t2 = np.clip(t1 + rng.uniform(-0.08, 0.08, (len(q), 1)), 0.25, 0.75)
    a = np.empty((len(q), 4, 2))
    b = np.empty((len(q), 4, 2))
    # Cut points on edges 0-1 and 3-2: halves (p0, m, n, p3) and (m, p1, p2, n).
    m = p0 + t1 * (p1 - p0)
    n = p3 + t2 * (p2 - p3)
    # Cut points on edges 1-2 and 0-3: halves (p0, p1, m', n') and (n', m', p2, p3).
    m2 = p1 + t1 * (p2 - p1)
    n2 = p0 + t2 * (p3 - p0)
    s = across02[:, None]
    a[:, 0] = p0
    a[:, 1] = np.where(s, m, p1)
    a[:, 2] = np.where(s, n, m2)
    a[:, 3] = np.where(s, p3, n2)
    b[:, 0] = np.where(s, m, n2)
    b[:, 1] = np.where(s, p1, m2)
    b[:, 2] = p2
    b[:, 3] = np.where(s, n, p3)
    return a, b


def split_until(
    quads: np.ndarray,
    owner: np.ndarray,
    rng: np.random.Generator,
    median_m2: float,
    sigma: float,
    lo_m2: float,
    hi_m2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Split quads recursively until each is under a log-normal target; keep the owner index."""

    def target(n: int) -> np.ndarray:
        return np.clip(rng.lognormal(np.log(median_m2), sigma, n), lo_m2, hi_m2)

    done_q, done_o = [], []
    goal = target(len(quads))
    while len(quads):
        big = shoelace(quads) > goal
        done_q.append(quads[~big])
        done_o.append(owner[~big])
        quads, owner = quads[big], owner[big]
        if not len(quads):
            break
        a, b = _cut(quads, rng)
        quads = np.concatenate([a, b])
        owner = np.concatenate([owner, owner])
        goal = target(len(quads))
    out_q, out_o = np.concatenate(done_q), np.concatenate(done_o)
    order = np.argsort(out_o, kind="stable")
    return out_q[order], out_o[order]


def commune_grid(
    rng: np.random.Generator,
    side_m: float,
    n: int,
    center: tuple[float, float] = CENTER_L93,
) -> np.ndarray:
    """An n×n grid of convex quads (n², 4, 2) covering a square of side_m around center."""
    step = side_m / n
    gx, gy = np.meshgrid(np.arange(n + 1) * step, np.arange(n + 1) * step, indexing="ij")
    jitter = rng.uniform(-0.2, 0.2, (n + 1, n + 1, 2)) * step
    jitter[[0, -1], :, 0] = 0  # keep the outline straight
    jitter[:, [0, -1], 1] = 0
    nodes = np.stack([gx, gy], axis=-1) + jitter
    nodes += np.array(center) - side_m / 2
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    i, j = i.ravel(), j.ravel()
    return np.stack([nodes[i, j], nodes[i + 1, j], nodes[i + 1, j + 1], nodes[i, j + 1]], axis=1)


def to_wgs84(rings: np.ndarray) -> np.ndarray:
    """Project (n, k, 2) Lambert-93 rings to lon/lat."""
    lon, lat = _TO_WGS84.transform(rings[..., 0].ravel(), rings[..., 1].ravel())
    return np.stack([lon, lat], axis=-1).reshape(rings.shape)


def ewkb_multipolygons(rings: np.ndarray, srid: int = 4326) -> list[str]:
    """Hex EWKB MultiPolygons (one polygon, one closed ring) for an (n, k, 2) array of rings."""
    n, k, _ = rings.shape
    closed = np.concatenate([rings, rings[:, :1]], axis=1)
    dt = np.dtype(
        [
            ("o1", "u1"),
            ("t1", "<u4"),
            ("srid", "<u4"),
            ("npoly", "<u4"),
            ("o2", "u1"),
            ("t2", "<u4"),
            ("nring", "<u4"),
            ("npts", "<u4"),
            ("xy", "<f8", ((k + 1) * 2,)),
        ]
    )
    rec = np.zeros(n, dtype=dt)
    rec["o1"] = rec["o2"] = 1
    rec["t1"] = 0x20000006  # MultiPolygon with SRID flag
    rec["srid"] = srid
    rec["npoly"] = 1
    rec["t2"] = 3
    rec["nring"] = 1
    rec["npts"] = k + 1
    rec["xy"] = closed.reshape(n, -1)
    hexed = binascii.hexlify(rec.tobytes()).decode()
    w = dt.itemsize * 2
    return [hexed[i * w : (i + 1) * w] for i in range(n)]


def ewkb_points(xy: np.ndarray, srid: int = 4326) -> list[str]:
    """Hex EWKB Points for an (n, 2) array."""
    dt = np.dtype([("o", "u1"), ("t", "<u4"), ("srid", "<u4"), ("xy", "<f8", (2,))])
    rec = np.zeros(len(xy), dtype=dt)
    rec["o"] = 1
    rec["t"] = 0x20000001
    rec["srid"] = srid
    rec["xy"] = xy
    hexed = binascii.hexlify(rec.tobytes()).decode()
    w = dt.itemsize * 2
    return [hexed[i * w : (i + 1) * w] for i in range(len(xy))]


def section_code(i: int) -> str:
    """Section codes like the cadastre's: 0A..0Z, then AA..ZZ."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if i < 26:
        return "0" + letters[i]
    i -= 26
    return letters[(i // 26) % 26] + letters[i % 26]


_SYLLABLES = (
    "bel mont val ro cha ver lan sau mar bou tar nay fle cour vil lieu pey ris gnac tel"
).split()


def commune_names(rng: np.random.Generator, n: int) -> list[str]:
    """Plausible, unique French-looking commune names."""
    prefixes = ["", "", "", "Saint-", "Sainte-", "Le ", "La ", "Les "]
    suffixes = ["", "", "", "", "-sur-Loire", "-en-Forez", "-le-Haut", "-les-Bois"]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        core = "".join(rng.choice(_SYLLABLES, rng.integers(2, 4))).capitalize()
        name = rng.choice(prefixes) + core + rng.choice(suffixes)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@dataclass
class Parcels:
    """Generated parcels: Lambert-93 rings plus their cadastral identifiers."""

    rings: np.ndarray  # (n, 4, 2) Lambert-93
    commune: np.ndarray  # index into the communes
    section: list[str]
    numero: np.ndarray  # 1-based within the section


def region_side(n_parcels: int) -> float:
    """Side (m) of the square region holding about n_parcels parcels."""
    return float(np.sqrt(n_parcels * MEAN_PARCEL_M2 * 1.04))


def make_region(
    seed: int,
    n_parcels: int,
    center: tuple[float, float] = CENTER_L93,
    department: str = DEPARTMENT,
) -> tuple[np.ndarray, list[str], Parcels]:
    """Communes (rings, INSEE codes) and parcels tiling them, about n_parcels of them, in a
    square around center (Lambert-93) with the INSEE codes of department."""
    rng = np.random.default_rng(seed)
    side = region_side(n_parcels)
    n_comm = max(2, min(30, round(side / 3_800)))  # communes of ~14 km²
    communes = commune_grid(rng, side, n_comm, center)
    insee = [f"{department}{i + 1:03d}" for i in range(len(communes))]
    sections, sec_comm = split_until(
        communes, np.arange(len(communes)), rng, 700_000, 0.4, 250_000, 2_000_000
    )
    # Section codes numbered within each commune.
    first = np.searchsorted(sec_comm, sec_comm, side="left")
    sec_rank = np.arange(len(sections)) - first
    parcels, par_sec = split_until(
        sections, np.arange(len(sections)), rng, 6_000, 1.1, 2_000, 300_000
    )
    first_p = np.searchsorted(par_sec, par_sec, side="left")
    numero = np.arange(len(parcels)) - first_p + 1
    codes = [section_code(int(r)) for r in sec_rank]
    return (
        communes,
        insee,
        Parcels(
            rings=parcels,
            commune=sec_comm[par_sec],
            section=[codes[s] for s in par_sec],
            numero=numero,
        ),
    )


def parcel_ids(insee: list[str], p: Parcels) -> list[str]:
    """The 14-character ids: INSEE + '000' + section + 4-digit number."""
    return [
        f"{insee[c]}000{s}{n:04d}"
        for c, s, n in zip(p.commune.tolist(), p.section, p.numero.tolist(), strict=True)
    ]


# (type, count, radius range in m, max elongation): typical sizes of the real designations.
ENV_ZONES = [
    ("znieff1", 820, (300, 2_500), 2.0),
    ("znieff2", 200, (2_000, 8_000), 2.0),
    ("natura2000_zsc", 110, (1_000, 6_000), 2.5),
    ("natura2000_zps", 50, (2_000, 8_000), 2.0),
    ("pnr", 2, (15_000, 25_000), 1.5),
    ("parc_national_coeur", 1, (4_000, 8_000), 1.5),
    ("parc_national_adhesion", 1, (12_000, 18_000), 1.5),
    ("rnn", 12, (500, 2_000), 2.0),
    ("rnr", 20, (300, 1_500), 2.0),
    ("reserve_biologique", 15, (300, 1_500), 2.0),
    ("appb", 140, (100, 1_000), 2.0),
    ("ramsar", 3, (2_000, 5_000), 2.0),
    ("site_classe", 70, (300, 3_000), 2.0),
    ("zone_humide", 300, (100, 800), 3.0),
    ("ppri_rouge", 60, (300, 2_000), 6.0),
    ("foret", 120, (300, 3_000), 2.0),
    ("friche", 45, (60, 400), 1.5),
    ("zone_acceleration", 31, (200, 1_500), 2.0),
]


def star_polygons(
    rng: np.random.Generator, centers: np.ndarray, radius: np.ndarray, elong: np.ndarray, k: int
) -> np.ndarray:
    """Smooth star-shaped rings (simple by construction) around centers, in metres."""
    n = len(centers)
    theta = np.linspace(0, 2 * np.pi, k, endpoint=False)
    r = np.ones((n, k))
    for h in (2, 3, 5):
        amp = rng.uniform(0, 0.12, (n, 1))
        ph = rng.uniform(0, 2 * np.pi, (n, 1))
        r += amp * np.sin(h * theta + ph)
    x = r * np.cos(theta) * elong[:, None]
    y = r * np.sin(theta)
    rot = rng.uniform(0, np.pi, (n, 1))
    xr = x * np.cos(rot) - y * np.sin(rot)
    yr = x * np.sin(rot) + y * np.cos(rot)
    # Scale so the area matches a disc of the drawn radius.
    return (
        np.stack([xr, yr], axis=-1) * (radius / np.sqrt(elong))[:, None, None] + centers[:, None, :]
    )
