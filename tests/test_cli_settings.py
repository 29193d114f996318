"""The command line (bootstrap, users create, migrate) and the settings' production guard."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from pydantic import ValidationError

from api.security import password_problem
from api.settings import Settings, to_async_url, to_plain_url


def _cli(
    db_url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LFS_ENVIRONMENT": "test",
        "LFS_AUTH__BCRYPT_ROUNDS": "10",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        input=stdin,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _users(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT email, role FROM users ORDER BY id")]


def test_bootstrap_then_users_create(db_url: str) -> None:
    r = _cli(db_url, "migrate")
    assert r.returncode == 0, r.stderr
    r = _cli(db_url, "bootstrap", env={"LFS_ADMIN__EMAIL": "boss@example.fr"})
    assert r.returncode == 0, r.stderr
    assert "generated password (shown once):" in r.stdout
    password = r.stdout.strip().rsplit(" ", 1)[-1]
    assert len(password) >= 12
    r = _cli(db_url, "bootstrap")
    assert "exists already" in r.stdout
    r = _cli(
        db_url,
        "users",
        "create",
        "--email",
        "ops1@example.fr",
        "--role",
        "OPS",
        stdin="a-long-password\n",
    )
    assert r.returncode == 0, r.stderr
    r = _cli(
        db_url,
        "users",
        "create",
        "--email",
        "OPS1@example.fr",
        "--role",
        "OPS",
        "--password",
        "a-long-password",
    )
    assert r.returncode == 1 and "already exists" in r.stderr
    r = _cli(
        db_url,
        "users",
        "create",
        "--email",
        "x@example.fr",
        "--role",
        "KING",
        "--password",
        "a-long-password",
    )
    assert r.returncode == 2
    # The API's password policy: too weak, over 72 bytes (French messages, exit code 1).
    for weak, why in [("12345678", "trop facile"), ("é" * 40, "80 octets"), ("court", "8 car")]:
        r = _cli(db_url, "users", "create", "--email", "w@example.fr", "--role", "OPS", stdin=weak)
        assert r.returncode == 1 and why in r.stderr, r.stderr
    assert _users(db_url) == [("boss@example.fr", "ADMIN"), ("ops1@example.fr", "OPS")]
    # The generated admin password passes the policy at the default minimum score.
    assert password_problem(password, Settings().auth.password_min_score) is None


def test_bootstrap_refuses_a_weak_configured_password(db_url: str) -> None:
    r = _cli(db_url, "migrate")
    assert r.returncode == 0, r.stderr
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM users WHERE role = 'ADMIN'")
    r = _cli(db_url, "bootstrap", env={"LFS_ADMIN__PASSWORD": "password"})
    assert r.returncode == 1 and "trop facile" in r.stderr, r.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE role = 'ADMIN'").fetchone() == (0,)


def test_production_refuses_missing_secrets() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", database_url="postgresql://x/y")
    ok = Settings(
        environment="production",
        database_url="postgresql://x/y",
        auth={"jwt_secret": "s" * 40},
        crypto={"keys": "k1:" + "A" * 43 + "="},
    )
    assert ok.environment == "production"


def test_url_normalisation() -> None:
    assert to_async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert to_plain_url("postgresql+asyncpg://u@h:5/db") == "postgresql://u@h:5/db"
