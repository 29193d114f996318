"""The enrichment worker of ``leadfactory serve --with-worker``: one per server, kept alive by it,
gone with it.

Server side, ``WorkerSupervisor`` runs the worker as a child process from a thread of its own,
waits for it (so a dead worker is reaped, never left a zombie) and starts a new one when it
exits, after a pause that doubles from ``min_backoff_s`` to ``max_backoff_s`` (back to the
minimum once a worker has lived ``healthy_after_s``), so a worker that can't start (database
down) doesn't spin. The worker gets its own session: a terminal's Ctrl-C reaches the server
only, which stops the worker itself (SIGTERM: running tasks finish).

Worker side, ``leadfactory worker --parent-pid PID`` exits when its server is gone, however it
died: on Linux the kernel sends it SIGTERM (``PR_SET_PDEATHSIG``, set by ``die_with_parent``);
everywhere ``parent_gone`` is polled by the worker (``api.queue.run_worker``), which also covers
a server that died before the worker asked the kernel. So a ``kill -9`` of the server leaves no
orphan worker behind, and the next ``make run`` has one worker, not two.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> bool:
    """Ask Linux for SIGTERM when the parent dies; False if the parent is already gone.

    The kernel ties the request to the parent *thread* that started this process: the
    supervisor's thread, which lives as long as the server. Elsewhere than Linux only the
    polling of ``parent_gone`` applies.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    # Checked after the request: a parent that died before it would never send the signal.
    return not parent_gone(parent_pid)


def parent_gone(parent_pid: int) -> bool:
    """Whether this process's parent is no longer ``parent_pid`` (it died; we were adopted)."""
    return os.getppid() != parent_pid


class WorkerSupervisor:
    """Keep one worker process running until ``stop``; restart it with backoff when it exits."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self.argv = list(argv)
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_after_s = healthy_after_s
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no new worker once stop() has begun
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    @classmethod
    def for_this_server(cls) -> WorkerSupervisor:
        """``leadfactory worker`` told to exit when this process is gone."""
        return cls([sys.executable, "-m", "api.cli", "worker", "--parent-pid", str(os.getpid())])

    def start(self) -> WorkerSupervisor:
        """Start the first worker and watch it from a thread."""
        self._thread.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            self.process = subprocess.Popen(self.argv, start_new_session=True)
            self.starts += 1
            return self.process

    def _run(self) -> None:
        delay = self.min_backoff_s
        while True:
            started = time.monotonic()
            process = self._spawn()
            if process is None:
                return
            code = process.wait()  # reaps it: a killed worker never stays a zombie
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self.healthy_after_s:
                delay = self.min_backoff_s
            log.warning(
                "enrichment worker %d exited (code %s); a new one in %.1f s",
                process.pid,
                code,
                delay,
            )
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_backoff_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the worker (SIGTERM: running tasks finish; SIGKILL after ``timeout_s``)."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
