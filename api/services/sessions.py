"""Web sessions: the refresh token behind the httpOnly cookie of ``/api/auth/session``.

A browser keeps its access token in memory only; the refresh cookie gets it a new one after a
reload or in a new tab. Each refresh token is used once: a use marks it and issues the next one
of the same *family* (one family per login). A token presented after it was used — a stolen copy
replayed, or the thief's copy when the owner refreshed first — revokes the whole family, so
neither side goes on. Logout, a password change and a deactivation revoke the families of the
user; only the SHA-256 of a token is stored (docs/security.md, "Web sessions").
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from geo.errors import NotAuthenticated
from geo.models import RefreshToken, User

COOKIE = "lfs_refresh"
# The cookie goes to this path only (the refresh and its end), never to the rest of the API.
COOKIE_PATH = "/api/auth/session"


def token_hash(token: str) -> str:
    """What is stored of a refresh token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue(
    session: AsyncSession, user: User, family: str, ttl: timedelta
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl
    session.add(
        RefreshToken(
            token_hash=token_hash(token),
            family=family,
            user_id=user.id,
            token_version=user.token_version,
            expires_at=expires,
        )
    )
    await session.flush()
    return token, expires


async def _purge(session: AsyncSession, user_id: int) -> None:
    """Delete the user's expired tokens: a family lives no longer than its last token."""
    await session.execute(
        delete(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.expires_at < func.now()
        )
    )


async def open_session(session: AsyncSession, user: User, ttl: timedelta) -> tuple[str, datetime]:
    """A new family's first refresh token and its expiry (the caller commits); the user's
    expired tokens are deleted on the way."""
    await _purge(session, user.id)
    return await _issue(session, user, uuid.uuid4().hex, ttl)


async def revoke_family(session: AsyncSession, family: str) -> None:
    """Refuse every token of a family from now on (the caller commits)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def revoke_user(session: AsyncSession, user_id: int) -> None:
    """End every web session of a user (password change, deactivation; the caller commits)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def _refuse(session: AsyncSession, family: str | None, detail: str, code: str) -> NoReturn:
    """Revoke ``family`` (when given), commit, and refuse with ``code``."""
    if family is not None:
        await revoke_family(session, family)
    await session.commit()
    raise NotAuthenticated(detail, code=code)


async def rotate(session: AsyncSession, token: str, ttl: timedelta) -> tuple[User, str, datetime]:
    """The user of a refresh token and the next token of its family (committed), or a 401 whose
    code says why the session ended: ``auth.session_expired``, ``auth.session_revoked`` (logged
    out, or a used token replayed: the family is revoked), ``auth.password_changed``,
    ``auth.account_disabled``; ``auth.required`` for a token never issued."""
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(token)).with_for_update()
    )
    if row is None:
        raise NotAuthenticated("unknown refresh token")
    family = row.family
    # Why the session ended, the user's own state first: a password change or a deactivation
    # also revoked the family (revoke_user), and the login page says which.
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        await _refuse(session, family, "user unknown or disabled", "auth.account_disabled")
    if user.token_version != row.token_version:
        await _refuse(session, family, "password changed", "auth.password_changed")
    if row.revoked_at is not None:
        await _refuse(session, None, "session revoked", "auth.session_revoked")
    if row.used_at is not None:
        await _refuse(
            session,
            family,
            "refresh token already used: the session is revoked",
            "auth.session_revoked",
        )
    if row.expires_at <= datetime.now(UTC):
        await _refuse(session, None, "session expired", "auth.session_expired")
    row.used_at = datetime.now(UTC)
    await _purge(session, user.id)
    new, expires = await _issue(session, user, family, ttl)
    await session.commit()
    return user, new, expires


async def end_session(session: AsyncSession, token: str) -> None:
    """Revoke the family of a refresh token (unknown tokens are ignored; the caller commits)."""
    family = await session.scalar(
        select(RefreshToken.family).where(RefreshToken.token_hash == token_hash(token))
    )
    if family is not None:
        await revoke_family(session, family)
