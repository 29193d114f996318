"""Positional parameters for hand-written SQL (asyncpg's ``$n``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Binds:
    """Positional parameters of a statement: :meth:`add` returns the ``$n`` placeholder."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        """Bind a value."""
        self.values.append(value)
        return f"${len(self.values)}"
