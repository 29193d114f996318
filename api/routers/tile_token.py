"""Short-lived signed tokens for map clients that cannot send headers (?token= on tiles/OGC)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ClaimsDep, CurrentUser, SettingsDep
from api.security import create_token

router = APIRouter(prefix="/auth", tags=["auth"])


class TileTokenOut(BaseModel):
    """A tile token: valid only on /tiles and /ogc, as ``?token=``, until it expires, the access
    token it was minted with is revoked (logout) or the user's password changes."""

    token: str = Field(description="Signed token of kind 'tile'.")
    expires_in: int = Field(description="Lifetime in seconds.")


@router.post("/tile-token", response_model=TileTokenOut)
async def tile_token(user: CurrentUser, claims: ClaimsDep, settings: SettingsDep) -> TileTokenOut:
    """A short-lived tile token for the current user (same visibility as the user)."""
    assert settings.auth.jwt_secret is not None
    ttl = timedelta(minutes=settings.auth.tile_token_ttl_minutes)
    token, _ = create_token(
        user.id,
        user.role,
        settings.auth.jwt_secret.get_secret_value(),
        ttl,
        kind="tile",
        version=user.token_version,
        session=claims.jti,
    )
    return TileTokenOut(token=token, expires_in=int(ttl.total_seconds()))
