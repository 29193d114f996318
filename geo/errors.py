"""The domain exception hierarchy; the API maps each class to one HTTP status.

Every error carries a stable machine ``code`` (``auth.bad_credentials``, ``lead.not_found``…):
the class gives a default, a raise site may name a more precise one (``code=``). Clients key
their messages on the code, never on the English ``detail``. :data:`CODES` is the one list of
them (docs/api.md, "Error codes"); the web app has a French message for each
(``web/src/api/problemCodes.json`` is this list, kept equal by tests/test_error_codes.py).
"""

from __future__ import annotations

from typing import Any

# Every machine code a problem+json may carry, with what it means. Add a code here first.
CODES: dict[str, str] = {
    # generic, one per class / HTTP status
    "request.bad": "The request is malformed.",
    "request.malformed_json": "The request body is not valid JSON.",
    "request.invalid": "A field of the request is invalid (see errors).",
    "request.rate_limited": "Too many requests; retry after Retry-After seconds.",
    "auth.required": "Missing, expired or revoked credentials.",
    "auth.forbidden": "The caller's role may not do this.",
    "resource.not_found": "The resource does not exist or is not visible to the caller.",
    "resource.conflict": "The resource's state forbids the operation.",
    "resource.stale": "The resource changed since it was read (If-Match).",
    "http.not_found": "No such route.",
    "http.method_not_allowed": "The route does not take this method.",
    "http.not_acceptable": "No representation matches the Accept header.",
    "http.error": "Another HTTP error.",
    "upload.too_large": "The body or the file is over the size limit.",
    "upload.unsupported_type": "The file's content is not an accepted type.",
    "service.unavailable": "A dependency (database, storage, external service) can't answer.",
    "service.not_ready": "The instance is not ready for traffic.",
    "service.timeout": "The query took too long.",
    "server.error": "An unexpected server error.",
    # authentication and users
    "auth.bad_credentials": "Wrong email or password.",
    "auth.account_disabled": "The account is deactivated (said only after a correct password, "
    "or to a session of that account).",
    "auth.wrong_current_password": "The current password given to change it is wrong.",
    "auth.session_expired": "The access token or the web session expired: log in again.",
    "auth.session_revoked": "The session was ended (logout, or a replayed refresh cookie).",
    "auth.password_changed": "The user's password changed since this session began.",
    "user.not_found": "No such user.",
    "user.email_taken": "A user with this email already exists.",
    "user.self_demotion": "An admin can't demote or deactivate themselves.",
    # leads and their workflow
    "lead.not_found": "No such lead, or not visible to the caller.",
    "lead.not_assigned": "An OPS user changes only the leads assigned to them.",
    "transition.refused": "The lead's status can't move to the target status.",
    "transition.role_refused": "The caller's role may not make this move.",
    "transition.reason_required": "This move needs a reason.",
    "transition.needs_enrichment": "Entering ENRICHED needs a completed enrichment.",
    "transition.needs_score": "Entering QUALIFIED needs a quality score.",
    "lead.parcels_taken": "A parcel is already in an active lead (see other_leads); "
    "send allow_duplicate with a duplicate_reason to proceed.",
    "lead.overlaps": "A drawn outline overlaps an active lead by more than 5 % of the smaller "
    "area (see other_leads); send allow_duplicate with a duplicate_reason to proceed.",
    # imports
    "import.failed": "A file that can't be imported; nothing was written.",
    # lead exports written by a worker
    "export.not_found": "No such export of the caller's, or its file expired and was removed.",
    "export.not_ready": "The export is not written yet (or failed): poll it, then download.",
    "export.too_many": "The caller already has exports waiting; retry once they are written.",
}


class DomainError(Exception):
    """Base of every error the product raises on purpose; rendered as problem+json by the API."""

    title = "Bad request"
    slug = "bad-request"
    code = "request.bad"

    def __init__(self, detail: str, *, code: str | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extensions = extensions


class InvalidInput(DomainError):
    """The request is well-formed but its content is wrong (422)."""

    title = "Invalid input"
    slug = "invalid-input"
    code = "request.invalid"


class BadRequest(DomainError):
    """The request itself is malformed (400)."""

    title = "Bad request"
    slug = "bad-request"
    code = "request.bad"


class NotAuthenticated(DomainError):
    """Missing, expired, forged or revoked credentials (401)."""

    title = "Not authenticated"
    slug = "not-authenticated"
    code = "auth.required"


class PermissionDenied(DomainError):
    """Authenticated, but the role may not do this (403)."""

    title = "Forbidden"
    slug = "forbidden"
    code = "auth.forbidden"


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know it exists (404)."""

    title = "Not found"
    slug = "not-found"
    code = "resource.not_found"


class Conflict(DomainError):
    """The resource's state forbids the operation (409), e.g. a duplicate or wrong status."""

    title = "Conflict"
    slug = "conflict"
    code = "resource.conflict"


class PreconditionFailed(DomainError):
    """A conditional write against a stale version (412)."""

    title = "Precondition failed"
    slug = "precondition-failed"
    code = "resource.stale"


class PayloadTooLarge(DomainError):
    """An upload over the configured limit (413)."""

    title = "Payload too large"
    slug = "payload-too-large"
    code = "upload.too_large"


class UnsupportedMediaType(DomainError):
    """A file whose content is not an accepted type (415)."""

    title = "Unsupported media type"
    slug = "unsupported-media-type"
    code = "upload.unsupported_type"


class RateLimited(DomainError):
    """Too many requests (429); ``retry_after`` seconds go in the Retry-After header."""

    title = "Too many requests"
    slug = "rate-limited"
    code = "request.rate_limited"

    def __init__(self, detail: str, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """A dependency (database, external service) can't answer now (503)."""

    title = "Service unavailable"
    slug = "service-unavailable"
    code = "service.unavailable"
