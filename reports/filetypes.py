"""What a file really is, from its bytes (magic numbers), not from its name."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from geo.errors import UnsupportedMediaType

OOXML = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "ppt/": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
}
OLE_BY_EXT = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
GEOJSON_TYPES = {
    "FeatureCollection",
    "Feature",
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}
# Every type sniff() answers: what a download may be (the OpenAPI document lists them).
CONTENT_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    *OLE_BY_EXT.values(),
    "application/x-ole-storage",
    *(ctype for ctype, _ in OOXML.values()),
    "application/x-zipped-shp",
    "application/vnd.google-earth.kmz",
    "application/vnd.google-earth.kml+xml",
    "application/geo+json",
)
# Refused outright, whatever their name says (a PE/ELF/Mach-O binary or a script).
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"#!")


@dataclass(frozen=True)
class FileKind:
    """The detected type: MIME type and the usual extension."""

    content_type: str
    extension: str

    @property
    def is_pdf(self) -> bool:
        """A PDF (appended to the dossier as annex pages)."""
        return self.content_type == "application/pdf"

    @property
    def is_image(self) -> bool:
        """A raster image (placed on a dossier page)."""
        return self.content_type in ("image/png", "image/jpeg")


def _ext(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def sniff(path: Path, filename: str = "") -> FileKind:
    """Detect an accepted type from the content; UnsupportedMediaType for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(EXECUTABLE_MAGIC):
        raise UnsupportedMediaType("executables and scripts are not accepted", filename=filename)
    if head.startswith(b"%PDF-"):
        return FileKind("application/pdf", "pdf")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind("image/png", "png")
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind("image/jpeg", "jpg")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        ext = _ext(filename)
        return FileKind(OLE_BY_EXT.get(ext, "application/x-ole-storage"), ext or "ole")
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path, filename)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return _sniff_geojson(path, filename)
    if text.startswith(b"<") and b"<kml" in head:
        return FileKind("application/vnd.google-earth.kml+xml", "kml")
    raise UnsupportedMediaType(
        "accepted types: PDF, PNG, JPEG, office documents, GeoJSON, KML/KMZ, zipped shapefile",
        filename=filename,
    )


def _sniff_zip(path: Path, filename: str) -> FileKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n.lower() for n in zf.namelist()]
    except zipfile.BadZipFile as exc:
        raise UnsupportedMediaType("corrupt zip archive", filename=filename) from exc
    if "[content_types].xml" in names:
        for prefix, (ctype, ext) in OOXML.items():
            if any(n.startswith(prefix) for n in names):
                return FileKind(ctype, ext)
    stems = {n.rsplit(".", 1)[0] for n in names if n.endswith(".shp")}
    if any(f"{s}.dbf" in names and f"{s}.shx" in names for s in stems):
        return FileKind("application/x-zipped-shp", "zip")
    if any(n.endswith(".kml") for n in names):
        return FileKind("application/vnd.google-earth.kmz", "kmz")
    raise UnsupportedMediaType(
        "a zip archive must be an office document, a KMZ or a zipped shapefile "
        "(.shp, .shx and .dbf)",
        filename=filename,
    )


def _sniff_geojson(path: Path, filename: str) -> FileKind:
    # orjson, not the standard json module: its parser refuses nesting deeper than 1,024 levels
    # with a JSONDecodeError, where json.load recurses once per level and a file of 100,000 `[`
    # ended in a RecursionError (a 500). A GeoJSON geometry nests at most 4 levels of arrays (7
    # inside a FeatureCollection); the file's size is bounded by the upload limit.
    try:
        doc = orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:  # malformed, not UTF-8, or nested too deep
        raise UnsupportedMediaType("JSON files must be valid GeoJSON", filename=filename) from exc
    if not isinstance(doc, dict) or doc.get("type") not in GEOJSON_TYPES:
        raise UnsupportedMediaType("JSON files must be GeoJSON objects", filename=filename)
    return FileKind("application/geo+json", "geojson")
