"""File storage behind one small interface: a local folder, or S3 (any S3-compatible store)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

CHUNK = 256 * 1024


class StorageMissing(Exception):
    """The key has no stored object."""


class Storage(Protocol):
    """Where document bytes live; keys are relative, slash-separated paths."""

    name: str

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at ``path`` under ``key``."""

    def open_chunks(self, key: str) -> Iterator[bytes]:
        """Yield the stored bytes in chunks (StorageMissing when absent)."""

    def read_bytes(self, key: str) -> bytes:
        """The whole object (for annexes: small files)."""

    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Every stored key under ``prefix`` with its last-modified time (UTC)."""


def _safe_key(key: str) -> str:
    parts = [p for p in key.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return "/".join(parts)


class LocalStorage:
    """A folder on disk (the embedded default)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Copy into place atomically (temp file + rename), so a reader never sees half a file."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open_chunks(self, key: str) -> Iterator[bytes]:
        """Yield the file in chunks."""
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise StorageMissing(key) from exc
        return _iter_file(fh)

    def read_bytes(self, key: str) -> bytes:
        """The whole file."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageMissing(key) from exc

    def delete(self, key: str) -> None:
        """Unlink the file."""
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return self._path(key).is_file()

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """Walk the folder (temporary ``.up-*`` files of in-flight writes are skipped)."""
        base = self.root / _safe_key(prefix)
        if not base.exists():
            return
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".up-"):
                mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                yield path.relative_to(self.root).as_posix(), mtime


def _iter_file(fh: Any) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(CHUNK):
            yield chunk


class S3Storage:
    """An S3 bucket through boto3; the endpoint URL makes any S3-compatible store work."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
            ),
        )

    def _key(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Upload (multipart for large files, handled by boto3)."""
        self.client.upload_file(
            str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
        )

    def open_chunks(self, key: str) -> Iterator[bytes]:
        """Stream the object body."""
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageMissing(key) from exc
        body = obj["Body"]
        return _iter_body(body)

    def read_bytes(self, key: str) -> bytes:
        """The whole object."""
        return b"".join(self.open_chunks(key))

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers 204 for a missing key too)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """List the bucket under the prefix (paginated)."""
        full = self._key(prefix)
        strip = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        )
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"][len(strip) :], obj["LastModified"]


def _iter_body(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
