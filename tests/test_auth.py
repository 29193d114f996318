"""Login, logout/revocation, me, own password, bad tokens; each error is problem+json."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
from sqlalchemy import func, select

from api.security import create_token
from api.settings import Settings
from api.state import AppState
from geo.models import RevokedToken, Role
from tests.conftest import PASSWORD, HeadersFactory, UserFactory, assert_problem, login


async def test_login_me_logout(
    client: httpx.AsyncClient, make_user: UserFactory, settings: Settings
) -> None:
    user = await make_user(Role.MANAGER)
    r = await client.post(
        "/api/auth/login", json={"email": user.email.upper(), "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "MANAGER"
    assert "password_hash" not in body["user"]
    claims = jwt.decode(
        body["access_token"], settings.auth.jwt_secret.get_secret_value(), algorithms=["HS256"]
    )
    assert claims["sub"] == str(user.id) and claims["role"] == "MANAGER"
    assert {"exp", "jti"} <= claims.keys()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == user.email
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    assert_problem(await client.get("/api/auth/me", headers=headers), 401)
    # Another login gives a new, working token.
    token = await login(client, user.email)
    assert (
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


async def test_form_login_for_docs(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(Role.OPS)
    r = await client.post("/api/auth/token", data={"username": user.email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["access_token"]


async def test_wrong_credentials_same_answer(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    wrong_pw = assert_problem(
        await client.post("/api/auth/login", json={"email": user.email, "password": "nope-nope"}),
        401,
    )
    unknown = assert_problem(
        await client.post(
            "/api/auth/login", json={"email": "ghost@example.fr", "password": "nope-nope"}
        ),
        401,
    )
    assert wrong_pw["detail"] == unknown["detail"]


async def test_disabled_user_cannot_log_in(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS, is_active=False)
    assert_problem(
        await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}), 401
    )


async def test_bad_tokens(
    client: httpx.AsyncClient, make_user: UserFactory, settings: Settings
) -> None:
    user = await make_user(Role.OPS)
    secret = settings.auth.jwt_secret.get_secret_value()
    expired, _ = create_token(user.id, Role.OPS, secret, timedelta(seconds=-10))
    forged, _ = create_token(user.id, Role.ADMIN, "not-the-secret", timedelta(minutes=5))
    tile, _ = create_token(user.id, Role.OPS, secret, timedelta(minutes=5), kind="tile")
    bad_role = jwt.encode(
        {"sub": str(user.id), "role": "SUPERUSER", "jti": "x", "exp": 9999999999},
        secret,
        algorithm="HS256",
    )
    for token, why in [
        (expired, "expired"),
        (forged, "invalid"),
        (tile, "tile"),
        (bad_role, "claims"),
        ("garbage", "invalid"),
    ]:
        body = assert_problem(
            await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}), 401
        )
        assert why in body["detail"] or why == "tile", body
    assert_problem(await client.get("/api/auth/me"), 401)


async def test_logout_twice_and_revocation_table(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, state: AppState
) -> None:
    headers = await auth_headers(Role.COMMERCIAL)
    async with state.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(RevokedToken))
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    assert_problem(await client.post("/api/auth/logout", headers=headers), 401)
    async with state.sessions() as s:
        after = await s.scalar(select(func.count()).select_from(RevokedToken))
    assert after == before + 1


async def test_change_own_password(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(Role.OPS)
    headers = {"Authorization": f"Bearer {await login(client, user.email)}"}
    assert_problem(
        await client.post(
            "/api/auth/password",
            headers=headers,
            json={"current_password": "wrong-one", "new_password": "another-pass-1"},
        ),
        422,
    )
    assert_problem(
        await client.post(
            "/api/auth/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "short"},
        ),
        422,
    )
    r = await client.post(
        "/api/auth/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "another-pass-1"},
    )
    assert r.status_code == 200
    await login(client, user.email, "another-pass-1")
    assert_problem(
        await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}), 401
    )


async def test_malformed_and_overlong_input(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/login",
        content=b'{"email": "a@b.fr", "pass',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 400)
    body = assert_problem(await client.post("/api/auth/login", json={"email": "a@b.fr"}), 422)
    assert any(e["field"] == "body.password" for e in body["errors"])
    assert_problem(
        await client.post("/api/auth/login", json={"email": "a@b.fr", "password": "x" * 500}), 422
    )
