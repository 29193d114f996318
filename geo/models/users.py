"""Users, revoked tokens and the web sessions' refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base, Timestamps, str_enum
from geo.models.enums import Role


class User(Timestamps, Base):
    """A person who logs in; the role decides what they see and do."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    password_hash: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Moves on with each password change: a token issued for an earlier version is refused
    # (api.deps.authenticate_claims, the one token check of every route).
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))

    # Emails are unique whatever their case.
    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)


class RevokedToken(Base):
    """A JWT id revoked by logout (with the tile tokens minted from it); rows can be purged once
    ``expires_at`` has passed."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class RefreshToken(Base):
    """One refresh token of a web session (the httpOnly cookie of ``/api/auth/session``).

    Only its SHA-256 is kept. Each use rotates it: the row is marked ``used_at`` and a new row of
    the same ``family`` is issued; presenting a used token again (a stolen copy) revokes the whole
    family. ``token_version`` is the user's at issue: a password change refuses the family.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    family: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
