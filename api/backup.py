"""Backups that restore: the database and the stored documents in one dated archive.

An archive is a tar file ``lfs-backup-<UTC time>.tar`` holding:

* ``database.dump``: ``pg_dump --format=custom`` of the whole database;
* ``documents/<storage key>``: every file a ``documents`` row points at (local folder or S3);
* ``manifest.json``: when, the schema revision, the row count of every table, and the size and
  SHA-256 of every member.

The dump, the row counts and the list of documents come from one snapshot (a REPEATABLE READ
transaction exports it and ``pg_dump --snapshot`` uses it), so the manifest describes exactly
what the dump holds even while the API writes. ``restore`` checks every member against the
manifest first, refuses a database that is not empty, runs ``pg_restore``, puts the documents
back into the configured storage and compares the row counts.

The encryption keys of owners' data (``LFS_CRYPTO__KEYS``) and the JWT secret are not in the
archive: keep them in the secret store; without the same keys, restored owners do not decrypt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from api.settings import Settings, StorageSettings, to_plain_url
from api.storage import make_storage
from reports.storage import S3Storage

FORMAT = "lfs-backup/1"
DUMP = "database.dump"
MANIFEST = "manifest.json"
DOCS = "documents/"


class BackupError(Exception):
    """A backup or restore that can't go on; the message says why."""


@dataclass(frozen=True)
class Result:
    """What a backup or restore did."""

    archive: str
    tables: dict[str, int]
    documents: int
    bytes: int
    seconds: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    out = {}
    for name in _tables(conn):
        schema, table = name.split(".", 1)
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema.strip('"')), sql.Identifier(table.strip('"'))
        )
        row = conn.execute(query).fetchone()
        out[name] = int(row[0]) if row else 0
    return out


def _split_s3(url: str) -> tuple[str, str]:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise BackupError(f"no bucket in {url!r} (s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _s3(cfg: StorageSettings, bucket: str, prefix: str) -> S3Storage:
    secret = cfg.s3_secret_access_key
    key_id = cfg.s3_access_key_id
    return S3Storage(
        bucket,
        endpoint_url=cfg.s3_endpoint_url,
        region=cfg.s3_region,
        access_key_id=key_id.get_secret_value() if key_id else None,
        secret_access_key=secret.get_secret_value() if secret else None,
        prefix=prefix,
    )


def backup(settings: Settings, to: str | None = None) -> Result:
    """Write one archive to the folder or ``s3://bucket/prefix`` ``to`` (default:
    ``<data_dir>/backups``)."""
    started = time.monotonic()
    url = to_plain_url(settings.database_url)
    storage = make_storage(settings.storage)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"lfs-backup-{stamp}.tar"
    with tempfile.TemporaryDirectory(prefix="lfs-backup-") as tmp:
        work = Path(tmp)
        dump = work / DUMP
        with psycopg.connect(url) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", "-f", str(dump), url])
            counts = _counts(conn)
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            docs = conn.execute("SELECT storage_key, content_type FROM documents ORDER BY id")
            keys = {r[0]: r[1] for r in docs}
            conn.rollback()
        members: dict[str, dict[str, Any]] = {
            DUMP: {"bytes": dump.stat().st_size, "sha256": _sha256(dump)}
        }
        archive = work / name
        with tarfile.open(archive, "w") as tar:
            tar.add(dump, DUMP)
            for key in keys:
                path = work / "doc"
                try:
                    with path.open("wb") as fh:
                        for chunk in storage.open_chunks(key):
                            fh.write(chunk)
                except Exception as exc:
                    raise BackupError(
                        f"document {key!r} can't be read from storage: {exc}"
                    ) from exc
                members[DOCS + key] = {
                    "bytes": path.stat().st_size,
                    "sha256": _sha256(path),
                    "content_type": keys[key],
                }
                tar.add(path, DOCS + key)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(),
                "alembic_revision": revision[0] if revision else None,
                "storage": storage.name,
                "tables": counts,
                "documents": len(keys),
                "members": members,
            }
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        size = archive.stat().st_size
        target = to or str(settings.data_dir / "backups")
        if target.startswith("s3://"):
            bucket, prefix = _split_s3(target)
            _s3(settings.storage, bucket, prefix).put_file(name, archive, "application/x-tar")
            where = f"s3://{bucket}/{prefix + '/' if prefix else ''}{name}"
        else:
            folder = Path(target)
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(str(archive), folder / name)
            where = str(folder / name)
    return Result(where, counts, len(keys), size, time.monotonic() - started)


def _run(cmd: list[str]) -> None:
    """Run a PostgreSQL client tool; its error output becomes the BackupError (the URL, which
    may hold a password, is not repeated)."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} failed: {done.stderr.strip()[-2000:]}")


def _fetch(archive: str, settings: Settings, work: Path) -> Path:
    if not archive.startswith("s3://"):
        path = Path(archive)
        if not path.is_file():
            raise BackupError(f"no archive at {archive}")
        return path
    bucket, key = _split_s3(archive)
    prefix, _, name = key.rpartition("/")
    local = work / (name or "archive.tar")
    with local.open("wb") as fh:
        for chunk in _s3(settings.storage, bucket, prefix).open_chunks(name):
            fh.write(chunk)
    return local


def _is_empty(conn: psycopg.Connection) -> bool:
    # PostGIS's own table (spatial_ref_sys) may exist where the extension was pre-installed.
    return all(t == "public.spatial_ref_sys" for t in _tables(conn))


def restore(settings: Settings, archive: str) -> Result:
    """Restore ``archive`` (a path or ``s3://bucket/key``) into the empty database of
    ``settings`` and its documents into the configured storage."""
    started = time.monotonic()
    url = to_plain_url(settings.database_url)
    with tempfile.TemporaryDirectory(prefix="lfs-restore-") as tmp:
        work = Path(tmp)
        path = _fetch(archive, settings, work)
        try:
            tar = tarfile.open(path, "r")
        except tarfile.TarError as exc:
            raise BackupError(f"{archive} is not a backup archive: {exc}") from exc
        with tar:
            manifest = _manifest(tar)
            _extract_checked(tar, manifest, work / "x")
        with psycopg.connect(url, autocommit=True) as conn:
            if not _is_empty(conn):
                raise BackupError("the target database is not empty: restore into a new database")
        _run(
            [
                "pg_restore",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "-d",
                url,
                str(work / "x" / DUMP),
            ]
        )
        storage = make_storage(settings.storage)
        keys = [m for m in manifest["members"] if m.startswith(DOCS)]
        for member in keys:
            content_type = manifest["members"][member].get("content_type")
            storage.put_file(
                member.removeprefix(DOCS),
                work / "x" / member,
                content_type or "application/octet-stream",
            )
        with psycopg.connect(url) as conn:
            counts = _counts(conn)
        differ = {
            t: (n, counts.get(t)) for t, n in manifest["tables"].items() if counts.get(t) != n
        }
        if differ:
            raise BackupError(f"row counts differ after the restore (expected, found): {differ}")
    size = path.stat().st_size if path.exists() else 0
    return Result(archive, counts, len(keys), size, time.monotonic() - started)


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest: dict[str, Any] = json.loads(member.read()) if member else {}
    except (KeyError, ValueError) as exc:
        raise BackupError(f"the archive has no readable {MANIFEST}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown archive format {manifest.get('format')!r}")
    return manifest


def _extract_checked(tar: tarfile.TarFile, manifest: dict[str, Any], out: Path) -> None:
    """Extract the members the manifest lists (nothing else, no path outside ``out``), each
    checked against its size and SHA-256."""
    for name, meta in manifest["members"].items():
        target = (out / name).resolve()
        if not str(target).startswith(str(out.resolve()) + os.sep):
            raise BackupError(f"unsafe member name {name!r}")
        try:
            src = tar.extractfile(name)
        except KeyError as exc:
            raise BackupError(f"member {name} is missing from the archive") from exc
        if src is None:
            raise BackupError(f"member {name} is not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            shutil.copyfileobj(src, fh)
        if target.stat().st_size != meta["bytes"] or _sha256(target) != meta["sha256"]:
            raise BackupError(f"member {name} does not match its checksum: the archive is damaged")
