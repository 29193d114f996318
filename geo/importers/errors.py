"""The one error an import raises: the file and what is wrong with it, in one line."""

from __future__ import annotations

from pathlib import Path

from geo.errors import InvalidInput


class ImportFailed(InvalidInput):
    """A file that can't be imported; nothing was written."""

    code = "import.failed"

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{Path(path).name}: {problem}", file=str(path), problem=problem)
        self.path = Path(path)
        self.problem = problem
