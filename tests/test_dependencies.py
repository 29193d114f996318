"""The runtime dependencies of pyproject.toml are what the packages import: every third-party
module imported by api, geo, tiles, enrichment or reports comes with the runtime set (`pip install
-e .`, what `make run` needs), and every runtime dependency is imported there or has its reason
below. Test-only libraries (geopandas, mapbox-vector-tile) belong to the dev extra."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "geo", "tiles", "enrichment", "reports")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Runtime dependencies that no import statement names, and why they are needed all the same.
USED_WITHOUT_IMPORT = {
    "email-validator": "pydantic's EmailStr (api.schemas.users)",
    "pyarrow": "pyogrio's Arrow reader, open_arrow(use_pyarrow=True) (geo.importers.reader)",
    "fastapi-offline": "Swagger UI's files, found with importlib.resources (api.docs_ui)",
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules() -> dict[str, str]:
    """Top-level third-party modules imported at run time by the packages: {module: a file}."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            skip = {
                id(n)
                for node in ast.walk(tree)
                if isinstance(node, ast.If) and _is_type_checking(node.test)
                for n in ast.walk(node)
            }
            for node in ast.walk(tree):
                if id(node) in skip:
                    continue
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def runtime_closure() -> set[str]:
    """The distributions `pip install -e .` brings: the runtime requirements and theirs."""
    seen: set[tuple[str, frozenset[str]]] = set()
    stack = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    while stack:
        req = stack.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(req.name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            marker: Marker | None = sub.marker
            extras = req.extras or {""}
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras):
                stack.append(sub)
    return {name for name, _ in seen}


def test_every_imported_library_comes_with_the_runtime_dependencies() -> None:
    closure = runtime_closure()
    by_module = metadata.packages_distributions()
    missing = {
        module: where
        for module, where in imported_modules().items()
        if not any(canonicalize_name(d) in closure for d in by_module.get(module, []))
    }
    assert not missing, f"imported but not in the runtime dependencies: {missing}"


def test_every_runtime_dependency_is_used() -> None:
    by_module = metadata.packages_distributions()
    imported = {
        canonicalize_name(d) for module in imported_modules() for d in by_module.get(module, [])
    }
    declared = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]
    }
    unused = declared - imported - {canonicalize_name(n) for n in USED_WITHOUT_IMPORT}
    assert not unused, f"runtime dependencies nothing imports (move or drop them): {unused}"


def test_test_only_libraries_are_not_runtime_dependencies() -> None:
    declared = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]
    }
    dev = {
        canonicalize_name(Requirement(r).name)
        for r in PYPROJECT["project"]["optional-dependencies"]["dev"]
    }
    assert {"geopandas", "mapbox-vector-tile"} <= dev
    # rasterio is runtime again: enrichment.terrain reads the terrain models (issue 17).
    assert not {"geopandas", "mapbox-vector-tile", "pvlib"} & declared
