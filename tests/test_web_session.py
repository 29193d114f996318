"""The web session's refresh cookie: its attributes, rotation, reuse, and every way it ends,
each with its own problem code (the web app's login page says each in French)."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import psycopg

from api.security import create_token
from api.settings import Settings
from geo.models import Role
from tests.conftest import PASSWORD, UserFactory, assert_problem
from tests.lead_fixtures import sync_url

PATH = "/api/auth/session"


def _cookie(r: httpx.Response) -> tuple[str, dict[str, str]]:
    """The refresh cookie a response sets: its value and attributes (lower-case names)."""
    headers = [v for k, v in r.headers.multi_items() if k.lower() == "set-cookie"]
    assert len(headers) == 1, headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    morsel = jar["lfs_refresh"]
    attrs = {k: str(v) for k, v in morsel.items() if v}
    # SimpleCookie keeps flags as True: name them.
    for flag in ("httponly", "secure"):
        if flag in headers[0].lower():
            attrs[flag] = "true"
    return morsel.value, attrs


async def _login(client: httpx.AsyncClient, email: str) -> tuple[str, str]:
    r = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    value, _ = _cookie(r)
    return r.json()["access_token"], value


async def _refresh(client: httpx.AsyncClient, cookie: str) -> httpx.Response:
    # Sent by hand: the test client's jar would not return a Secure cookie over http://test.
    return await client.post(PATH, headers={"Cookie": f"lfs_refresh={cookie}"})


def _code(r: httpx.Response) -> object:
    body = assert_problem(r, 401)
    # A refusal also tells the browser to forget the cookie.
    value, attrs = _cookie(r)
    assert value == "" and attrs["max-age"] == "0", attrs
    return body["code"]


async def test_login_sets_a_strict_httponly_cookie_for_the_session_path_only(
    client: httpx.AsyncClient, make_user: UserFactory, settings: Settings
) -> None:
    user = await make_user(Role.OPS)
    r = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200
    value, attrs = _cookie(r)
    assert len(value) >= 40
    assert attrs["path"] == PATH
    assert attrs["samesite"].lower() == "strict"
    assert attrs["httponly"] == "true" and attrs["secure"] == "true"
    assert int(attrs["max-age"]) == settings.auth.session_ttl_days * 86400
    # The bearer flow is untouched: the access token works alone, no cookie needed.
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["email"] == user.email
    # Only the hash is stored.
    with psycopg.connect(sync_url(settings.database_url)) as conn:
        stored = conn.execute(
            "SELECT token_hash FROM refresh_tokens WHERE user_id = %s", (user.id,)
        ).fetchall()
    assert len(stored) == 1 and stored[0][0] != value and len(stored[0][0]) == 64


async def test_refresh_rotates_and_a_replayed_cookie_revokes_the_family(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.MANAGER)
    _, first = await _login(client, user.email)
    r = await _refresh(client, first)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["user"]["email"] == user.email
    second, attrs = _cookie(r)
    assert second != first and attrs["path"] == PATH and attrs["httponly"] == "true"
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    # The next use of the new one works too.
    r = await _refresh(client, second)
    assert r.status_code == 200
    third, _ = _cookie(r)
    # A used cookie comes back (a stolen copy): refused, and the whole family with it.
    assert _code(await _refresh(client, first)) == "auth.session_revoked"
    assert _code(await _refresh(client, third)) == "auth.session_revoked"
    # Another login is another family, untouched.
    _, other = await _login(client, user.email)
    assert (await _refresh(client, other)).status_code == 200


async def test_no_cookie_or_an_unknown_one(client: httpx.AsyncClient) -> None:
    r = await client.post(PATH)
    assert assert_problem(r, 401)["code"] == "auth.required"
    assert _code(await _refresh(client, "x" * 43)) == "auth.required"


async def test_logout_ends_the_cookie_and_the_access_token(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    token, cookie = await _login(client, user.email)
    bearer = {"Authorization": f"Bearer {token}"}
    r = await client.delete(PATH, headers={**bearer, "Cookie": f"lfs_refresh={cookie}"})
    assert r.status_code == 204
    value, attrs = _cookie(r)
    assert value == "" and attrs["max-age"] == "0" and attrs["path"] == PATH
    assert _code(await _refresh(client, cookie)) == "auth.session_revoked"
    r = await client.get("/api/auth/me", headers=bearer)
    assert assert_problem(r, 401)["code"] == "auth.session_revoked"
    # Ending a session that is already over is not an error.
    r = await client.delete(PATH, headers={**bearer, "Cookie": f"lfs_refresh={cookie}"})
    assert r.status_code == 204


async def test_password_change_ends_every_session_saying_why(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    token_a, cookie_a = await _login(client, user.email)
    token_b, cookie_b = await _login(client, user.email)  # another browser
    new_password = "violet tramway sous la pluie 42"
    r = await client.post(
        "/api/auth/password",
        headers={"Authorization": f"Bearer {token_a}"},
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert r.status_code == 200, r.text
    assert _code(await _refresh(client, cookie_b)) == "auth.password_changed"
    assert _code(await _refresh(client, cookie_a)) == "auth.password_changed"
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token_b}"})
    assert assert_problem(r, 401)["code"] == "auth.password_changed"


async def test_admin_password_reset_ends_the_sessions(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.ADMIN)
    user = await make_user(Role.OPS)
    admin_token, _ = await _login(client, admin.email)
    _, cookie = await _login(client, user.email)
    r = await client.post(
        f"/api/users/{user.id}/password-reset",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert r.status_code == 200
    assert _code(await _refresh(client, cookie)) == "auth.password_changed"


async def test_deactivation_mid_session_says_so_and_reactivation_brings_nothing_back(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    admin = await make_user(Role.ADMIN)
    user = await make_user(Role.OPS)
    admin_h = {"Authorization": f"Bearer {(await _login(client, admin.email))[0]}"}
    token, cookie = await _login(client, user.email)
    assert (await client.delete(f"/api/users/{user.id}", headers=admin_h)).status_code == 204
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(r, 401)["code"] == "auth.account_disabled"
    assert _code(await _refresh(client, cookie)) == "auth.account_disabled"
    r = await client.patch(f"/api/users/{user.id}", headers=admin_h, json={"is_active": True})
    assert r.status_code == 200
    # Back in service, but the old session stays ended.
    assert _code(await _refresh(client, cookie)) == "auth.session_revoked"


async def test_expired_session_and_expired_token_say_so(
    client: httpx.AsyncClient, make_user: UserFactory, settings: Settings
) -> None:
    user = await make_user(Role.OPS)
    _, cookie = await _login(client, user.email)
    with psycopg.connect(sync_url(settings.database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = %s",
            (user.id,),
        )
    assert _code(await _refresh(client, cookie)) == "auth.session_expired"
    assert settings.auth.jwt_secret is not None
    old, _ = create_token(
        user.id, user.role, settings.auth.jwt_secret.get_secret_value(), timedelta(seconds=-5)
    )
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert assert_problem(r, 401)["code"] == "auth.session_expired"
    # The next login purges the user's expired rows.
    await _login(client, user.email)
    with psycopg.connect(sync_url(settings.database_url)) as conn:
        n = conn.execute(
            "SELECT count(*) FROM refresh_tokens WHERE user_id = %s", (user.id,)
        ).fetchone()
    assert n == (1,)
