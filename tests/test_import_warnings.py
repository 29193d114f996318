"""A doubtful value kept is a warning with its row number, never a silent NULL (issue 16)."""

from __future__ import annotations

import json

from tests.importing import GEODATA, run_import, scalar

P69 = GEODATA / "cadastre-69114-extract.json"


async def test_non_numeric_contenance_is_a_warning(state, tmp_path) -> None:
    doc = json.loads(P69.read_text())
    bad = doc["features"][11]
    bad["properties"]["contenance"] = "abc"
    doc["features"][40]["properties"]["contenance"] = "1 234"  # a number with a space: fine
    path = tmp_path / "cadastre-abc.json"
    path.write_text(json.dumps(doc))
    result = await run_import(state, "parcels", path)
    assert result.rejected == 0 and result.inserted == len(doc["features"])
    assert result.warnings == [
        {"row": 12, "warning": "contenance 'abc' is not a number: stored as unknown"}
    ]
    summary = result.summary()
    assert "warnings 1: rows kept with a doubtful value" in summary
    assert "contenance 'abc' is not a number: stored as unknown (row 12)" in summary
    pid = bad["properties"]["id"]
    assert await scalar(state, "SELECT contenance FROM parcels WHERE id = :id", id=pid) is None
    other = doc["features"][40]["properties"]["id"]
    assert await scalar(state, "SELECT contenance FROM parcels WHERE id = :id", id=other) == 1234
