"""Documents of a lead: upload (type checked by content), list, download, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, SessionDep, SettingsDep, ViewerDep
from api.errors import PROBLEM_JSON, Problem
from api.schemas.documents import DocumentList, DocumentOut
from api.schemas.strict import RowId
from api.schemas.text import check_text
from api.storage import StorageDep
from api.uploads import receive_upload
from geo.errors import InvalidInput, NotFound, ServiceUnavailable
from geo.leads import get_visible_lead
from geo.models import Document, DocumentCategory
from reports import documents as svc
from reports.filetypes import CONTENT_TYPES, sniff
from reports.storage import StorageMissing

RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Payload too large"},
    415: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Unsupported type"},
    503: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Storage unavailable"},
}
router = APIRouter(prefix="/leads/{lead_id}/documents", tags=["documents"], responses=RESPONSES)

_BINARY = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_CATEGORIES = [c.value for c in DocumentCategory if c is not DocumentCategory.DOSSIER]
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "category": {
                            "type": "string",
                            "enum": UPLOAD_CATEGORIES,
                            "default": "other",
                        },
                    },
                }
            }
        },
    }
}


def download_url(lead_id: int, doc_id: int) -> str:
    """The relative URL a client downloads a document from."""
    return f"/api/leads/{lead_id}/documents/{doc_id}"


def document_out(doc: Document) -> DocumentOut:
    """The API shape of a document row."""
    return DocumentOut.model_validate(
        {
            **{c: getattr(doc, c) for c in DocumentOut.model_fields if c != "download_url"},
            "download_url": download_url(doc.lead_id, doc.id),
        }
    )


def content_disposition(filename: str) -> str:
    """An attachment header with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = svc.safe_filename(filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.post(
    "",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
)
async def upload_document(
    lead_id: RowId,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    user: CurrentUser,
    viewer: ViewerDep,
) -> DocumentOut:
    """Attach a file to a lead (PDF, PNG/JPEG, office, GeoJSON, KML, zipped shapefile)."""
    lead = await get_visible_lead(session, viewer, lead_id)
    limit = int(settings.storage.max_upload_mb * 1024 * 1024)
    upload = await receive_upload(request, file_field="file", limit=limit)
    try:
        if upload.size == 0:
            raise InvalidInput("the file is empty", field="file")
        raw_category = upload.fields.get("category") or DocumentCategory.OTHER.value
        if raw_category not in UPLOAD_CATEGORIES:
            raise InvalidInput(
                f"category must be one of: {', '.join(UPLOAD_CATEGORIES)}", field="category"
            )
        try:  # the file name is shown and exported: one line (api.schemas.text)
            check_text(upload.filename)
        except ValueError as exc:
            raise InvalidInput(f"file name: {exc}", field="file") from None
        assert upload.path is not None
        kind = await asyncio.to_thread(sniff, upload.path, upload.filename)
        doc = await svc.create_document(
            session,
            storage,
            lead=lead,
            user_id=user.id,
            path=upload.path,
            filename=upload.filename or f"document.{kind.extension}",
            content_type=kind.content_type,
            size_bytes=upload.size,
            sha256=upload.sha256,
            category=DocumentCategory(raw_category),
        )
    finally:
        upload.cleanup()
    response.headers["Location"] = download_url(lead_id, doc.id)
    return document_out(doc)


@router.get("", response_model=DocumentList)
async def list_documents(
    lead_id: RowId,
    session: SessionDep,
    viewer: ViewerDep,
    category: Annotated[DocumentCategory | None, Query(description="Only this category")] = None,
) -> DocumentList:
    """The documents of a lead, newest first."""
    await get_visible_lead(session, viewer, lead_id)
    docs = await svc.list_documents(session, lead_id, category, sees_owners=viewer.sees_owners)
    return DocumentList(items=[document_out(d) for d in docs], total=len(docs))


@router.get(
    "/{doc_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {t: _BINARY for t in CONTENT_TYPES}, "description": "The file"}},
)
async def download_document(
    lead_id: RowId, doc_id: RowId, session: SessionDep, storage: StorageDep, viewer: ViewerDep
) -> StreamingResponse:
    """Download a document (streamed, as an attachment)."""
    await get_visible_lead(session, viewer, lead_id)
    doc = await svc.get_document(session, lead_id, doc_id, sees_owners=viewer.sees_owners)
    try:
        chunks = await asyncio.to_thread(storage.open_chunks, doc.storage_key)
    except StorageMissing as exc:
        raise NotFound(f"the file of document {doc_id} is missing from the storage") from exc
    except Exception as exc:
        raise ServiceUnavailable("the file storage is unavailable, try again later") from exc
    return StreamingResponse(
        chunks,
        media_type=doc.content_type,
        headers={
            "Content-Disposition": content_disposition(doc.filename),
            "Content-Length": str(doc.size_bytes),
            "ETag": f'"{doc.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{doc_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_document(
    lead_id: RowId,
    doc_id: RowId,
    session: SessionDep,
    storage: StorageDep,
    user: CurrentUser,
    viewer: ViewerDep,
) -> Response:
    """Delete a document (its uploader, a MANAGER or an ADMIN)."""
    await get_visible_lead(session, viewer, lead_id)
    doc = await svc.get_document(session, lead_id, doc_id, sees_owners=viewer.sees_owners)
    await svc.delete_document(session, storage, user=user, doc=doc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
