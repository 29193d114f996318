"""Schemathesis over the whole OpenAPI document, with an ADMIN token and with an OPS token.

    .venv/bin/python bench/fuzz.py [--seconds 300] [--role ADMIN --role OPS] [--seed N]
    LFS_FUZZ_SECONDS=60 make fuzz          # a quick try

Builds a throwaway template database on the cluster of DATABASE_URL (migrated, the demo layers
loaded with ``leadfactory demo``), then per role: a database cloned from it (``CREATE DATABASE …
TEMPLATE``, so one run's writes can't change the other's start), a few leads, the role's user,
a server and its enrichment worker on a free loopback port (rate limits off, PVGIS off: the
offline estimate), a token,
and ``schemathesis run --checks all`` with every phase (examples, coverage, fuzzing, stateful)
for ``--seconds``, logout excluded (it would revoke the run's own token). Prints schemathesis'
summary and every 5xx of the server's access log; exits non-zero when the server answered any
5xx (or schemathesis could not run). Everything it created is dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
HOOKS = Path(__file__).resolve().parent / "fuzz_hooks.py"  # the run's own user left alone
DEFAULT_SECONDS = 300
# Paths left out: logout revokes the token the whole run uses.
EXCLUDED_PATHS = ["/api/auth/logout"]
# A demo parcel of data/cadastre-69114-parcelles.json.gz and a point inside the demo commune.
DEMO_PARCEL = "69114000AA0030"
DEMO_SQUARE = [[4.6512, 45.9768], [4.6543, 45.9763], [4.6538, 45.9751], [4.6512, 45.9768]]
ACCESS_LINE = re.compile(r'"(?P<request>[A-Z]+ \S+) HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass
class Run:
    """One role's results."""

    role: str
    server_errors: list[str]
    summary: list[str]
    exit_code: int


def server_url(dbname: str) -> str:
    """DATABASE_URL (or the project-local cluster's) pointed at another database."""
    url = (
        os.environ.get("DATABASE_URL")
        or subprocess.run(
            [str(ROOT / "scripts" / "pg.sh"), "url"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return url.rsplit("/", 1)[0] + "/" + dbname


def admin_sql(sql: str) -> None:
    """Run one statement on the cluster's maintenance database."""
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def drop_database(name: str) -> None:
    """Drop a database, disconnecting whoever is still on it."""
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leadfactory(env: dict[str, str], *args: str) -> str:
    """Run a ``leadfactory`` command; its output."""
    out = subprocess.run(
        [str(BIN / "leadfactory"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"leadfactory {' '.join(args[:2])} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def base_env(db: str, tmp: Path) -> dict[str, str]:
    """The server's and the CLI's environment for one database."""
    return {
        **os.environ,
        "DATABASE_URL": server_url(db),
        "LFS_ENVIRONMENT": "development",
        "LFS_DATA_DIR": str(tmp),
        "LFS_STORAGE__LOCAL_DIR": str(tmp / "files"),
        "LFS_WEB_DIST": str(tmp / "no-web"),
        "LFS_RATE_LIMIT__API_PER_MINUTE": "0",
        "LFS_RATE_LIMIT__LOGIN_PER_MINUTE": "0",
        "LFS_PVGIS__ENABLED": "false",
        "LFS_AUTH__BCRYPT_ROUNDS": "10",
    }


def build_template(name: str, tmp: Path) -> None:
    """The migrated database with the demo layers, the template of every run's database."""
    admin_sql(f'CREATE DATABASE "{name}"')
    with psycopg.connect(server_url(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    env = base_env(name, tmp)
    leadfactory(env, "migrate")
    leadfactory(env, "demo")


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """``leadfactory serve`` on 127.0.0.1:port, its log (access log included) in ``log``."""
    # With its enrichment worker, as `make run` serves: batches run, /api/ready is ready.
    cmd = [str(BIN / "leadfactory"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd.append("--with-worker")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError("the server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not stop."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login(base: str, email: str, password: str) -> str:
    """An access token."""
    r = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def seed(base: str, admin: str, ops_id: int | None) -> None:
    """A few leads for the operations on ids to find: by parcel, by polygon, public, assigned."""
    h = {"Authorization": f"Bearer {admin}"}
    bodies: list[dict[str, object]] = [
        {"parcel_ids": [DEMO_PARCEL], "name": "fuzz parcel"},
        {
            "geometry": {"type": "Polygon", "coordinates": [DEMO_SQUARE]},
            "is_public": True,
            # Over the parcel lead above: a declared duplicate (else 409 lead.overlaps).
            "allow_duplicate": True,
            "duplicate_reason": "fuzz seed",
        },
        {"point": {"lat": 45.9757, "lon": 4.6538}, "name": "fuzz point", "assignee_id": ops_id},
    ]
    for body in bodies:
        r = httpx.post(f"{base}/api/leads", json=body, headers=h, timeout=30)
        if r.status_code != 201:
            print(f"  seed lead refused ({r.status_code}): {r.text[:300]}", file=sys.stderr)


def create_user(env: dict[str, str], email: str, role: str, password: str) -> int:
    """A user of ``role`` through the CLI; its id."""
    # --password=…: a generated password may start with "-", which argparse takes for an option.
    args = ["users", "create", "--email", email, "--role", role, f"--password={password}"]
    out = leadfactory(env, *args)
    return int(re.search(r"\(id (\d+)\)", out).group(1))  # type: ignore[union-attr]


def schemathesis(
    base: str, token: str, user_id: int, seconds: int, seed_value: int | None, cwd: Path
) -> tuple[int, str]:
    """``schemathesis run --checks all``, every phase, for ``seconds``; (exit code, output)."""
    cmd = [
        str(BIN / "schemathesis"),
        "--no-color",
        "run",
        f"{base}/api/openapi.json",
        "--url",
        base,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-time",
        str(seconds),
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {token}",
    ]
    for path in EXCLUDED_PATHS:
        cmd += ["--exclude-path", path]
    if seed_value is not None:
        cmd += ["--seed", str(seed_value)]
    shown = [c if not c.startswith("Authorization:") else "Authorization: Bearer …" for c in cmd]
    print("$ " + " ".join(_quote(c) for c in shown), flush=True)
    # In the run's scratch folder: schemathesis keeps replay data in ./.schemathesis.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "LFS_FUZZ_USER_ID": str(user_id)}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _quote(arg: str) -> str:
    return f"'{arg}'" if re.search(r"[\s\"&|$]", arg) else arg


def summary_lines(output: str) -> list[str]:
    """Schemathesis' closing summary (from its SUMMARY banner to the end)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "SUMMARY" in line:
            return lines[i:]
    return lines[-40:]


def server_errors(log: Path) -> list[str]:
    """Every request the server answered with a 5xx, from its access log."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        m = ACCESS_LINE.search(line)
        if m and m.group("status").startswith("5"):
            found.append(f"{m.group('status')} {m.group('request')[:200]}")
    return found


def run_role(role: str, template: str, seconds: int, seed_value: int | None, tmp: Path) -> Run:
    """One role's database, server and schemathesis run."""
    db = f"{template.removesuffix('_tpl')}_{role.lower()}"
    admin_sql(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
    env = base_env(db, tmp / role)
    env["LFS_AUTH__JWT_SECRET"] = secrets.token_urlsafe(48)
    env["LFS_CRYPTO__KEYS"] = "fuzz:" + base64.b64encode(os.urandom(32)).decode()
    (tmp / role).mkdir(parents=True, exist_ok=True)
    email, password = f"fuzz-{role.lower()}@example.com", secrets.token_urlsafe(24)
    user_id = create_user(env, email, role, password)
    # The leads to find are made by an ADMIN (the run's own user when it is one).
    seeder = (email, password)
    if role != "ADMIN":
        seeder = ("fuzz-seeder@example.com", secrets.token_urlsafe(24))
        create_user(env, seeder[0], "ADMIN", seeder[1])
    port = free_port()
    log = tmp / role / "server.log"
    proc = start_server(env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        token = login(base, email, password)
        seed(base, login(base, *seeder), user_id if role == "OPS" else None)
        print(f"== {role}: {base} on database {db}, {seconds} s", flush=True)
        code, output = schemathesis(base, token, user_id, seconds, seed_value, tmp / role)
        still = httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        if still.status_code != 200:
            output += f"\nwarning: the {role} token was refused at the end ({still.status_code})\n"
        crashed = proc.poll() is not None
    finally:
        stop_server(proc)
    (tmp / role / "schemathesis.txt").write_text(output)
    errors = server_errors(log) + (["the server process exited during the run"] if crashed else [])
    return Run(role, errors, summary_lines(output), code)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("LFS_FUZZ_SECONDS", DEFAULT_SECONDS)),
        help=f"per role (default LFS_FUZZ_SECONDS or {DEFAULT_SECONDS})",
    )
    ap.add_argument("--role", action="append", choices=["ADMIN", "OPS"], help="default: both")
    ap.add_argument("--seed", type=int, default=None, help="schemathesis' random seed")
    ap.add_argument(
        "--keep",
        type=Path,
        default=os.environ.get("LFS_FUZZ_KEEP") or None,
        help="copy the server logs and outputs to this folder (default LFS_FUZZ_KEEP)",
    )
    args = ap.parse_args(argv)
    if not (BIN / "schemathesis").exists():
        print("schemathesis is missing: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    template = f"lfs_fuzz_{os.getpid()}_tpl"
    tmp = Path(tempfile.mkdtemp(prefix="lfs-fuzz-"))
    runs: list[Run] = []
    try:
        t = time.monotonic()
        build_template(template, tmp / "tpl")
        print(f"template database {template} ready in {time.monotonic() - t:.0f} s", flush=True)
        for role in args.role or ["ADMIN", "OPS"]:
            try:
                runs.append(run_role(role, template, args.seconds, args.seed, tmp))
            finally:
                drop_database(f"lfs_fuzz_{os.getpid()}_{role.lower()}")
    finally:
        drop_database(template)
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    failed = False
    for run in runs:
        print(f"\n== {run.role}: schemathesis exit code {run.exit_code}")
        print("\n".join(run.summary))
        print(f"server errors (5xx) in the access log: {len(run.server_errors)}")
        for line in run.server_errors[:50]:
            print("  " + line)
        failed |= bool(run.server_errors) or run.exit_code not in (0, 1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
