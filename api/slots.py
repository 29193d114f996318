"""Bounds on CPU-heavy work per API process: a few at a time, the others waiting their turn.

bcrypt and the export writers run in worker threads so the event loop keeps serving, but a
burst of them side by side still takes the 2 cores (bcrypt) or the interpreter lock (openpyxl,
the CSV writer) from every request of the process. A :class:`Slots` lets ``n`` of them run at
once and queues the rest, first come first served.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


class Slots:
    """``n`` concurrent runs per event loop (tests run several loops one after the other, and an
    asyncio semaphore belongs to the loop it first waited in)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.n)
        return semaphore

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread once a slot is free."""
        async with self._semaphore():
            return await anyio.to_thread.run_sync(fn, *args)
