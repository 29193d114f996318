"""The ``leadfactory`` command line: serve, migrate, bootstrap, users, import, worker, …"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from api.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:  # imported where used at run time: `leadfactory --help` stays quick
    from sqlalchemy.ext.asyncio import AsyncSession

    from geo.models import User

T = TypeVar("T")

Handler = Callable[[argparse.Namespace, Settings], int]


def run_migrations(database_url: str, revision: str = "head") -> None:
    """``alembic upgrade`` programmatically against ``database_url``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, revision)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    run_migrations(settings.database_url, args.revision)
    print(f"database migrated to {args.revision}")
    return 0


async def _with_session(settings: Settings, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from geo.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(settings.async_database_url, pool_size=2, max_overflow=0)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            return await fn(session)
    finally:
        await engine.dispose()


def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from api.services.users import ensure_admin

    pw = settings.admin.password.get_secret_value() if settings.admin.password else None

    async def go(session: AsyncSession) -> tuple[User, str | None] | None:
        auth = settings.auth
        return await ensure_admin(
            session, settings.admin.email, pw, auth.bcrypt_rounds, auth.password_min_score
        )

    from geo.errors import DomainError

    try:
        result = asyncio.run(_with_session(settings, go))
    except DomainError as exc:  # LFS_ADMIN__PASSWORD breaks the password policy
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    if result is None:
        print("an ADMIN user exists already")
    else:
        user, generated = result
        print(f"created ADMIN {user.email}")
        if generated:
            print(f"generated password (shown once): {generated}")
    return 0


def _users_create(args: argparse.Namespace, settings: Settings) -> int:
    from api.services.users import create_user
    from geo.models import Role

    password = args.password or (
        getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    )

    async def go(session: AsyncSession) -> User:
        # The API's password policy (api.security.check_new_password): a refusal is exit code 1.
        return await create_user(
            session,
            args.email,
            password,
            Role(args.role),
            args.name or "",
            settings.auth.bcrypt_rounds,
            settings.auth.password_min_score,
        )

    from geo.errors import DomainError

    try:
        user = asyncio.run(_with_session(settings, go))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(f"created {user.role.value} {user.email} (id {user.id})")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.metrics import prepare_multiprocess_dir, remove_multiprocess_dir
    from api.server import serve
    from api.supervisor import WorkerSupervisor

    # Before any process that records metrics starts: the API workers and the enrichment
    # worker write theirs there, /metrics adds them up.
    metrics_dir = prepare_multiprocess_dir()
    supervisor = None
    if args.with_worker and _has_command("worker"):
        # One worker per server, restarted when it dies, gone when the server goes.
        supervisor = WorkerSupervisor.for_this_server().start()
    try:
        serve(
            args.host,
            args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=not args.no_access_log,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            json_logs=settings.json_logs,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()
        remove_multiprocess_dir(metrics_dir)
    return 0


def _has_command(name: str) -> bool:
    return name in _build_parser()[1]


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="leadfactory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    handlers: dict[str, Handler] = {}

    p = sub.add_parser("serve", help="serve the API and web app with uvicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers", type=int, default=1, help="processes, each on its own SO_REUSEPORT socket"
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--no-access-log", action="store_true", help="don't log every request")
    p.add_argument("--with-worker", action="store_true", help="also run an enrichment worker")
    handlers["serve"] = _serve

    p = sub.add_parser("migrate", help="apply the database migrations")
    p.add_argument("revision", nargs="?", default="head")
    handlers["migrate"] = _migrate

    sub.add_parser("bootstrap", help="create the first ADMIN user if there is none")
    handlers["bootstrap"] = _bootstrap

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="users_cmd", required=True
    )
    p = users.add_parser("create", help="create a user")
    p.add_argument("--email", required=True)
    p.add_argument("--role", required=True, choices=["ADMIN", "MANAGER", "OPS", "COMMERCIAL"])
    p.add_argument("--name", default="")
    p.add_argument("--password", help="read from the terminal or stdin when omitted")
    handlers["users"] = _users_create

    for module in _EXTENSIONS:
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError:  # pragma: no cover - an optional command's package is absent
            continue
        handlers.update(mod.register(sub))
    return parser, handlers


# Modules that add subcommands: each has ``register(subparsers) -> {name: handler}``.
_EXTENSIONS: list[str] = ["api.worker", "api.cli_import", "api.cli_documents", "api.cli_backup"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``leadfactory`` command."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from api.logs import install_token_redaction

    install_token_redaction()
    parser, handlers = _build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    if settings.json_logs:
        from api.logjson import use_json_logs

        use_json_logs()
    return handlers[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
