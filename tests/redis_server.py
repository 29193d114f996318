"""A real ``redis-server`` for the tests: started on a free loopback port in a temporary
directory (no persistence), never the machine's service; stopped by :meth:`RedisServer.stop`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.server_process import free_port


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``; ``url`` is what ``LFS_REDIS_URL`` takes."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: scripts/system-deps.sh test installs it"
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        """Start it and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        argv += ["--daemonize", "no", "--logfile", str(self.workdir / "redis.log")]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            assert self.process.poll() is None, (self.workdir / "redis.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        """Whether it answers PING (a plain socket: no client state kept)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop it (idempotent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
