"""The domain exception hierarchy; the API maps each class to one HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the product raises on purpose; rendered as problem+json by the API."""

    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(DomainError):
    """The request is well-formed but its content is wrong (422)."""

    title = "Invalid input"
    slug = "invalid-input"


class BadRequest(DomainError):
    """The request itself is malformed (400)."""

    title = "Bad request"
    slug = "bad-request"


class NotAuthenticated(DomainError):
    """Missing, expired, forged or revoked credentials (401)."""

    title = "Not authenticated"
    slug = "not-authenticated"


class PermissionDenied(DomainError):
    """Authenticated, but the role may not do this (403)."""

    title = "Forbidden"
    slug = "forbidden"


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know it exists (404)."""

    title = "Not found"
    slug = "not-found"


class Conflict(DomainError):
    """The resource's state forbids the operation (409), e.g. a duplicate or wrong status."""

    title = "Conflict"
    slug = "conflict"


class PreconditionFailed(DomainError):
    """A conditional write against a stale version (412)."""

    title = "Precondition failed"
    slug = "precondition-failed"


class PayloadTooLarge(DomainError):
    """An upload over the configured limit (413)."""

    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(DomainError):
    """A file whose content is not an accepted type (415)."""

    title = "Unsupported media type"
    slug = "unsupported-media-type"


class RateLimited(DomainError):
    """Too many requests (429); ``retry_after`` seconds go in the Retry-After header."""

    title = "Too many requests"
    slug = "rate-limited"

    def __init__(self, detail: str, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """A dependency (database, external service) can't answer now (503)."""

    title = "Service unavailable"
    slug = "service-unavailable"
