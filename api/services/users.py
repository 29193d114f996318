"""Users: create, authenticate, update; ADMIN bootstrap."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import (
    DEFAULT_ROUNDS,
    check_new_password,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from api.slots import Slots
from geo.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from geo.models import Role, User

# bcrypt is tens of milliseconds of CPU and releases the GIL: on the event loop, every login
# held up every other request of the process for that long, so it runs in a worker thread. And
# one hash at a time per API process: on 2 cores, a burst of logins hashing side by side took
# both cores from the requests of everyone already at work (the load test's P95s at 300 people
# were login queues); queued here, a burst waits for itself (~21 logins/s per process at cost
# 10) and the rest of the process keeps its share of the machine.
HASHING = Slots(1)


async def _verify(password: str, hashed: str) -> bool:
    return await HASHING.run(verify_password, password, hashed)


async def _hash(password: str, rounds: int) -> str:
    return await HASHING.run(hash_password, password, rounds)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this email, whatever its case."""
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    role: Role,
    full_name: str = "",
    bcrypt_rounds: int = DEFAULT_ROUNDS,
    min_score: int = 3,
) -> User:
    """Add a user (caller commits); a duplicate email is a Conflict, a weak password a 422."""
    check_new_password(password, min_score, [email, full_name])
    if await get_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email!r} already exists", code="user.email_taken")
    user = User(
        email=email.strip(),
        password_hash=await _hash(password, bcrypt_rounds),
        role=role,
        full_name=full_name,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate_password(
    session: AsyncSession, email: str, password: str, bcrypt_rounds: int = DEFAULT_ROUNDS
) -> User:
    """The active user with these credentials; one error for every failure (no enumeration).
    A password stored at another bcrypt cost than ``bcrypt_rounds`` is stored again at it
    (caller commits): the cost setting reaches every account at its next login. The session's
    read transaction is committed before the hash check (the caller's changes come after)."""
    user = await get_by_email(session, email)
    # The check waits for its hashing slot and takes tens of milliseconds: the read's
    # transaction ends first, so a queue of logins holds no pooled connection (under a login
    # burst on a loaded machine they held them all, and every other route timed out).
    await session.commit()
    if user is not None:
        hashed = user.password_hash
    else:
        hashed = await HASHING.run(dummy_hash, bcrypt_rounds)
    ok = await _verify(password, hashed)
    if user is None or not ok:
        raise NotAuthenticated("wrong email or password", code="auth.bad_credentials")
    if not user.is_active:
        # Said only to whoever knows the password: it tells nothing to someone guessing.
        raise NotAuthenticated("this account is deactivated", code="auth.account_disabled")
    if needs_rehash(password, hashed, bcrypt_rounds):
        rehashed = await _hash(password, bcrypt_rounds)
        # Only over the hash that was checked: a password changed meanwhile stays changed.
        await session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == hashed)
            .values(password_hash=rehashed)
        )
    user.last_login_at = datetime.now(UTC)
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    """A user by id, or NotFound."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", code="user.not_found")
    return user


async def set_password(
    user: User,
    new: str,
    bcrypt_rounds: int = DEFAULT_ROUNDS,
    min_score: int = 3,
    field: str = "body.password",
) -> None:
    """Give a user a new password (caller commits); every token issued to them before stops
    working (their ``token_version`` moves on), a weak password is a 422 naming ``field``."""
    check_new_password(new, min_score, [user.email, user.full_name], field)
    user.password_hash = await _hash(new, bcrypt_rounds)
    user.token_version += 1


def generate_password() -> str:
    """16 random URL-safe characters (96 bits): zxcvbn scores them 4."""
    return secrets.token_urlsafe(12)


async def reset_password(
    user: User, bcrypt_rounds: int = DEFAULT_ROUNDS, min_score: int = 3
) -> str:
    """An ADMIN's reset: a generated password (returned once, never stored in clear) replaces
    the user's, and every session they had ends (caller commits)."""
    password = generate_password()
    await set_password(user, password, bcrypt_rounds, min_score)
    return password


async def change_password(
    session: AsyncSession,
    user: User,
    current: str,
    new: str,
    bcrypt_rounds: int = DEFAULT_ROUNDS,
    min_score: int = 3,
) -> None:
    """Change a user's own password after checking the current one."""
    if not await _verify(current, user.password_hash):
        raise InvalidInput("the current password is wrong", code="auth.wrong_current_password")
    await set_password(user, new, bcrypt_rounds, min_score, field="body.new_password")


async def ensure_admin(
    session: AsyncSession,
    email: str,
    password: str | None,
    bcrypt_rounds: int = DEFAULT_ROUNDS,
    min_score: int = 3,
) -> tuple[User, str | None] | None:
    """Create the first ADMIN when there is none; return it and the generated password, if any."""
    exists = await session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1))
    if exists is not None:
        return None
    generated = None
    if password is None:
        generated = password = generate_password()
    user = await create_user(
        session, email, password, Role.ADMIN, "Administrateur", bcrypt_rounds, min_score
    )
    return user, generated
