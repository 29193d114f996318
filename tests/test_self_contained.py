"""A clone of the repository alone runs the product, its tests and its benchmarks.

The open data the project was built from sits in a folder beside the repository on the
developers' machines; nothing may read it there (copy the file into ``data/`` or
``tests/fixtures/`` with its provenance in ``data/SOURCES.md``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_SUFFIXES = {".py", ".sh", ".sql", ".ts", ".tsx", ".js", ".mjs", ".toml", ".ini", ".cfg"}
CODE_NAMES = {"Makefile", "run", "Dockerfile"}
# A path out of the repository: the sibling data folder (as a path or joined with "/"), an
# absolute path into the machine's work folder, or an environment variable pointing there.
OUTSIDE = re.compile(
    r"""\.\./shared|["']shared["']\s*/\s*["']data["']|/work/|LFS_SHARED_DATA|parent\.parent\.parent"""
)


def _tracked_code() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    paths = [ROOT / p for p in out if p and "node_modules" not in p]
    return [p for p in paths if p.is_file() and (p.suffix in CODE_SUFFIXES or p.name in CODE_NAMES)]


def test_the_pattern_catches_what_it_must() -> None:
    """The check itself: the forms used before the data was copied in are caught."""
    sibling = "sha" + "red"  # spelled in parts: this file must not match its own check
    for line in (
        f'DATA = Path(__file__).resolve().parent.parent.parent / "{sibling}" / "data"',
        f'open("../{sibling}/data/pvgis/x.json")',
        f"p = '/work/{sibling}/data/cadastre'",
        'os.environ.get("LFS_SHARED_DATA")',
    ):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search('DATA = ROOT / "data" / "communes-69-rhone.geojson.gz"')


def test_nothing_reads_outside_the_repository() -> None:
    """No code, test, script or benchmark names a path outside the repository."""
    files = _tracked_code()
    assert len(files) > 100  # the listing worked (the project has hundreds of code files)
    offenders = []
    for path in files:
        if path == Path(__file__):
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_fixture_files_have_their_provenance() -> None:
    """Every real data file shipped for the tests is named in data/SOURCES.md."""
    sources = (ROOT / "data" / "SOURCES.md").read_text()
    shipped = [
        p
        for folder in ("pvgis", "reference", "geodata")
        for p in sorted((ROOT / "tests" / "fixtures" / folder).iterdir())
    ]
    assert shipped
    missing = [p.name for p in shipped if p.name not in sources]
    assert not missing, f"not in data/SOURCES.md: {missing}"
