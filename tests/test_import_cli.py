"""``leadfactory import`` on bad input (one-line error, exit code, database unchanged) and demo."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import psycopg
import pytest

from api.cli import main
from api.settings import get_settings
from tests.importing import GEODATA, ROOT, cli, scalar

P69 = GEODATA / "cadastre-69114-extract.json"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad")
    empty = tmp / "empty.geojson"
    empty.write_bytes(b"")
    no_features = tmp / "nothing.geojson"
    no_features.write_text('{"type": "FeatureCollection", "features": []}')
    truncated = tmp / "cadastre-69114-parcelles.json.gz"
    blob = gzip.compress(P69.read_bytes())
    truncated.write_bytes(blob[: len(blob) // 2])
    # Lambert-93 numbers with no CRS declared anywhere.
    data = json.loads(P69.read_text())
    for f in data["features"]:
        f["geometry"]["coordinates"] = [
            [[x * 1e5 + 400_000, y * 1e5 + 1_900_000] for x, y in ring]
            for ring in f["geometry"]["coordinates"]
        ]
    no_crs = tmp / "parcelles-l93-sans-crs.geojson"
    no_crs.write_text(json.dumps(data))
    return {
        "empty": empty,
        "no_features": no_features,
        "truncated": truncated,
        "no_crs": no_crs,
        "wrong_layer": GEODATA / "communes-69-extract.geojson",
    }


CASES = [
    ("parcels", "empty", [], "empty file"),
    ("parcels", "no_features", [], "no features"),
    ("parcels", "truncated", [], "truncated gzip"),
    ("parcels", "no_crs", [], "unknown CRS"),
    ("parcels", "wrong_layer", [], "missing columns: id"),
    ("substations", "wrong_layer", [], "every row was rejected"),
    ("env-zones", "wrong_layer", [], "zone type unknown"),
    ("urban-zones", "wrong_layer", [], "missing columns: libelle"),
    ("communes", "wrong_layer", ["--crs", "EPSG:99999"], "unknown CRS 'EPSG:99999'"),
]


def _count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM imports) + (SELECT count(*) FROM parcels)"
            " + (SELECT count(*) FROM communes) + (SELECT count(*) FROM substations)"
        ).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize(("layer", "key", "extra", "message"), CASES)
def test_bad_input_one_line_error_and_nothing_written(
    settings, bad_files, monkeypatch, capsys, layer: str, key: str, extra: list[str], message: str
) -> None:
    # In process (the command's main()) to stay fast; the exit code is what main() returns.
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    before = _count(settings.database_url)
    path = bad_files[key]
    code = main(["import", layer, str(path), *extra])
    get_settings.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {path.name}: ") and message in err[0], err[0]
    assert _count(settings.database_url) == before


def test_bad_input_exit_code_of_the_real_command(settings, bad_files) -> None:
    proc = cli(settings.database_url, "import", "parcels", str(bad_files["truncated"]))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "truncated gzip" in proc.stderr


async def test_cli_import_prints_summary(state, settings) -> None:
    proc = cli(settings.database_url, "import", "parcels", str(P69))
    assert proc.returncode == 0, proc.stderr
    assert "read 150, inserted 150, updated 0, unchanged 0" in proc.stdout
    assert "\r" not in proc.stdout  # no progress bar when stdout is not a terminal
    again = cli(settings.database_url, "import", "parcels", str(P69))
    assert "inserted 0, updated 0, unchanged 150" in again.stdout


async def test_demo_loads_everything_once(state, settings) -> None:
    proc = cli(settings.database_url, "demo")
    assert proc.returncode == 0, proc.stderr
    counts = await scalar(
        state,
        "SELECT json_build_object('communes', (SELECT count(*) FROM communes), "
        "'parcels', (SELECT count(*) FROM parcels WHERE commune = '69114'), "
        "'substations', (SELECT count(*) FROM substations), "
        "'env_synth', (SELECT count(*) FROM env_zones WHERE source = 'synthetic'), "
        "'plu_synth', (SELECT count(*) FROM urban_zones WHERE source = 'synthetic'))",
    )
    # Metropolitan France's 35,228 communes (COG 2018) + the synthetic 69114 outline.
    assert counts["communes"] == 35_229
    assert counts["parcels"] == 6032
    # Caparéseau's 3,118 postes less the 46 positioned outside France; the AURA extract updates
    # 31 of them (AUZERETTE's bogus position is rejected there too).
    assert counts["substations"] == 3_072
    # Coverage: one row per import, except the postes extract and the 3 ZPS (no claim).
    uncovered = await scalar(
        state,
        "SELECT array_agg(i.file_name ORDER BY i.file_name) FROM imports i "
        "WHERE NOT EXISTS (SELECT 1 FROM layer_coverage c WHERE c.import_id = i.id)",
    )
    assert uncovered == ["natura2000_zps_cotes-darmor.geojson.gz", "postes_source_extract_AURA.csv"]
    assert counts["env_synth"] >= 5 and counts["plu_synth"] >= 5
    types = await scalar(
        state, "SELECT array_agg(DISTINCT label) FROM urban_zones WHERE commune_insee = '69114'"
    )
    assert {"Npv", "Aenr"} <= set(types)
    imports = await scalar(state, "SELECT count(*) FROM imports")
    second = cli(settings.database_url, "demo")
    assert second.returncode == 0
    assert second.stdout.count("already loaded") == second.stdout.count("\n")
    assert await scalar(state, "SELECT count(*) FROM imports") == imports
    assert (ROOT / "data" / "SOURCES.md").exists()
