"""Helpers shared by the importer tests: run an import in process or through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from api.state import AppState
from geo.db import session_scope
from geo.importers import LAYERS, ImportOptions, ImportResult, import_file

GEODATA = Path(__file__).resolve().parent / "fixtures" / "geodata"
ROOT = Path(__file__).resolve().parent.parent


async def run_import(state: AppState, layer: str, path: Path, **options: Any) -> ImportResult:
    """Import one file in its own transaction."""
    async with session_scope(state.sessions) as session:
        return await import_file(session, LAYERS[layer], path, ImportOptions(**options))


async def scalar(state: AppState, sql: str, **params: Any) -> Any:
    """One value from the database."""
    async with state.sessions() as session:
        return (await session.execute(text(sql), params)).scalar()


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``leadfactory …`` as a user would, against this module's database."""
    env = {**os.environ, "DATABASE_URL": db_url, "LFS_ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
