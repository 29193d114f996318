"""The product served by a real process (``python -m api.cli serve``) on a free loopback port, for
the tests that kill it, and the processes it starts (read from /proc: Linux only)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from api.settings import PROJECT_ROOT, Settings


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a child process needs to run with these test settings."""
    assert settings.auth.jwt_secret is not None and settings.crypto.keys is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LFS_")}
    env.update(
        DATABASE_URL=settings.database_url,
        LFS_ENVIRONMENT="test",
        LFS_DATA_DIR=str(settings.data_dir),
        LFS_WEB_DIST=str(settings.web_dist),
        LFS_STORAGE__LOCAL_DIR=str(settings.storage.local_dir),
        # The same secrets as the test's own app: its tokens are valid for the child too.
        LFS_AUTH__JWT_SECRET=settings.auth.jwt_secret.get_secret_value(),
        LFS_CRYPTO__KEYS=settings.crypto.keys.get_secret_value(),
        LFS_RATE_LIMIT__LOGIN_PER_MINUTE="0",
        LFS_RATE_LIMIT__API_PER_MINUTE="0",
        LFS_PVGIS__BASE_URL=settings.pvgis.base_url,
        LFS_PVGIS__RETRIES=str(settings.pvgis.retries),
        LFS_ENRICHMENT__TASK_CHUNK=str(settings.enrichment.task_chunk),
        LFS_ENRICHMENT__STALLED_AFTER_S=str(settings.enrichment.stalled_after_s),
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def worker_process(
    settings: Settings, log: Path, concurrency: int = 1, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``leadfactory worker`` with these test settings (same database and storage), its output in
    ``log``; stopped on exit (SIGTERM: its running task ends first)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
        cwd=PROJECT_ROOT,
        env=settings_env(settings, **extra),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServerProcess:
    """``leadfactory serve`` in a child process: ``kill`` it as you like, ``close`` it always."""

    def __init__(
        self, settings: Settings, log: Path, *, with_worker: bool = False, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)]
        argv += ["--log-level", "warning", "--no-access-log"]
        if with_worker:
            argv.append("--with-worker")
        self.argv = argv
        self.env = settings_env(settings, **env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.seen_children: set[int] = set()

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            self.argv,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def children(self) -> list[int]:
        """The live (not zombie) processes the server started."""
        found = [pid for pid in _pids() if _ppid(pid) == self.pid and alive(pid)]
        self.seen_children.update(found)
        return found

    def workers(self) -> list[int]:
        """The live enrichment workers the server started."""
        return [pid for pid in self.children() if "worker" in cmdline(pid)]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server and wait for it to end."""
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(30)

    def close(self) -> None:
        """Kill the server and every process it was seen to start, if still running."""
        if self.process is not None and self.process.poll() is None:
            self.children()
            self.kill()
        for pid in self.seen_children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid …": comm may hold spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def _ppid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def cmdline(pid: int) -> list[str]:
    """A process's arguments ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, does not)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def zombie(pid: int) -> bool:
    """Whether ``pid`` is dead but not reaped by its parent."""
    fields = _stat(pid)
    return fields is not None and fields[0] == "Z"


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail saying ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval_s)
