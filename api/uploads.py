"""A streaming multipart reader for uploads: the file goes to a temporary file as it arrives,
hashed and counted, and reading stops as soon as the size limit is passed (413)."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from geo.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

MAX_FIELD_BYTES = 1024
# The form carries a file and a category: a few parts, with headers of a few hundred bytes. More
# is not an upload (100,000 tiny fields cost seconds of parsing and a dict of their size).
MAX_PARTS = 16
MAX_HEADER_BYTES = 8 * 1024
# Headers and boundaries around a part: a request may exceed the file limit by this much.
ENVELOPE_BYTES = 64 * 1024


@dataclass
class ReceivedUpload:
    """The received file (in a temporary file the caller removes) and the text fields."""

    path: Path | None = None
    filename: str = ""
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        """Remove the temporary file."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _Receiver:
    def __init__(self, file_field: str, limit: int, tmp_dir: Path | None) -> None:
        self.file_field = file_field
        self.limit = limit
        self.tmp_dir = tmp_dir
        self.out = ReceivedUpload()
        self._hash = hashlib.sha256()
        self._fh: object | None = None
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._is_file = False
        self._buf = bytearray()
        self._parts = 0

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise BadRequest(f"the form has more than {MAX_PARTS} fields")
        self._disposition = b""
        self._buf = bytearray()
        self._is_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._header_name) + len(self._header_value) > MAX_HEADER_BYTES:
            raise BadRequest("a form part's header is too long")

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field and b"filename" in options:
            if self.out.path is not None:
                raise BadRequest(f"send one file in the '{self.file_field}' field")
            self._is_file = True
            self.out.filename = options[b"filename"].decode("utf-8", "replace")
            fh = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in on_part_end/close
                dir=self.tmp_dir, prefix="upload-", delete=False
            )
            self._fh = fh
            self.out.path = Path(fh.name)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.out.size += len(chunk)
            if self.out.size > self.limit:
                raise PayloadTooLarge(
                    f"the file is larger than the limit of {self.limit} bytes", limit=self.limit
                )
            self._hash.update(chunk)
            self._fh.write(chunk)  # type: ignore[union-attr]
        else:
            self._buf.extend(chunk)
            if len(self._buf) > MAX_FIELD_BYTES:
                raise BadRequest(f"form field '{self._name}' is too long")

    def on_part_end(self) -> None:
        if self._is_file:
            self._fh.close()  # type: ignore[union-attr]
            self._fh = None
            self.out.sha256 = self._hash.hexdigest()
        elif self._name:
            self.out.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()  # type: ignore[attr-defined]


async def receive_upload(
    request: Request, *, file_field: str, limit: int, tmp_dir: Path | None = None
) -> ReceivedUpload:
    """Read a multipart request: one file (≤ ``limit`` bytes) and small text fields."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedMediaType("send the file as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes", limit=limit)
    receiver = _Receiver(file_field, limit, tmp_dir)
    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as exc:
        receiver.close()
        receiver.out.cleanup()
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise BadRequest("malformed multipart body") from exc
        raise
    receiver.close()
    if receiver.out.path is None:
        raise InvalidInput(f"no file in the '{file_field}' field", field=file_field)
    return receiver.out
