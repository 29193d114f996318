"""User and auth request/response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from api.schemas.patch import omittable
from api.schemas.text import SINGLE_LINE
from geo.models import Role

# bcrypt reads at most 72 bytes; 8 characters is the floor we accept.
Password = Annotated[str, StringConstraints(min_length=8, max_length=72)]
FullName = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), SINGLE_LINE]


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None = None


class UserCreate(BaseModel):
    """A new user (ADMIN only)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=254)
    password: Password
    role: Role
    full_name: FullName = ""


class UserUpdate(BaseModel):
    """Fields an ADMIN may change on a user."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName = omittable()
    role: Role = omittable()
    is_active: bool = omittable()
    password: Password = omittable()


class UserPage(BaseModel):
    """A page of users."""

    items: list[UserOut]
    total: int
    page: int
    page_size: int


class LoginIn(BaseModel):
    """Email and password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "ops@example.fr", "password": "s3cret-pass"}]},
    )

    email: Annotated[str, StringConstraints(min_length=3, max_length=254, strip_whitespace=True)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=72)]


class TokenOut(BaseModel):
    """An access token and who it is for."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
    user: UserOut


class PasswordChange(BaseModel):
    """A user changing their own password."""

    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=72)]
    new_password: Password


class Message(BaseModel):
    """A plain acknowledgement."""

    detail: str
