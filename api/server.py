"""Serve the app with uvicorn; several workers each get their own SO_REUSEPORT socket.

``uvicorn --workers N`` shares one listening socket: whichever process wakes first accepts, and
under load one worker ends up holding most keep-alive connections while the other idles
(measured on the lead API: 90 % vs 20 % CPU, tail latencies 5x the median). With one
SO_REUSEPORT socket per worker the kernel spreads connections evenly by their address hash.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn

from api.logjson import use_json_logs
from api.logsafe import SafeExceptionFilter

APP = "api.app:create_app_from_env"


@dataclass(frozen=True)
class _Options:
    host: str
    port: int
    app: str
    factory: bool
    log_level: str
    access_log: bool
    forwarded_allow_ips: str | None = None
    json_logs: bool = False


def _config(o: _Options) -> uvicorn.Config:
    trusted = [ip.strip() for ip in (o.forwarded_allow_ips or "").split(",") if ip.strip()]
    config = uvicorn.Config(
        o.app,
        factory=o.factory,
        host=o.host,
        port=o.port,
        # X-Forwarded-For/-Proto only from the proxies named in LFS_FORWARDED_ALLOW_IPS: from
        # anyone else they are ignored (the client is the socket's peer). uvicorn's own default
        # would trust 127.0.0.1, i.e. anything a local process sends.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
        log_level=o.log_level,
        # In JSON, api.observe's line per request replaces uvicorn's access line.
        access_log=o.access_log and not o.json_logs,
    )
    # uvicorn logs an unexpected exception with its message (which may quote a request's
    # values); the filter keeps its class, SQLSTATE and stack (api.logsafe). The Config set
    # logging up just now.
    logging.getLogger("uvicorn.error").addFilter(SafeExceptionFilter())
    # A spawned worker (--workers N) starts with bare logging: the root logger the
    # `leadfactory` command sets up in its own process, for the request lines (api.observe).
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if o.json_logs:
        use_json_logs()
    if not o.access_log:
        logging.getLogger("lfs.request").setLevel(logging.WARNING)
    return config


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(o: _Options) -> None:
    sock = _reuseport_socket(o.host, o.port)
    uvicorn.Server(_config(o)).run(sockets=[sock])


def serve(
    host: str,
    port: int,
    *,
    workers: int = 1,
    app: str = APP,
    factory: bool = True,
    log_level: str = "info",
    access_log: bool = True,
    forwarded_allow_ips: str | None = None,
    json_logs: bool = False,
) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM stop every worker)."""
    o = _Options(host, port, app, factory, log_level, access_log, forwarded_allow_ips, json_logs)
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.Server(_config(o)).run()
        return
    # Bind once here first: a port already taken fails now, with a clear error, not in N children.
    _reuseport_socket(host, port).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(o,), daemon=False) for _ in range(workers)]
    for p in procs:
        p.start()

    def stop(signum: int, frame: FrameType | None) -> Any:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes in-flight requests and exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        sys.exit(f"{len(failed)} worker(s) failed (exit codes {failed})")
