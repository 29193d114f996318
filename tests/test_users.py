"""Users administration: CRUD by ADMIN, duplicates, bad roles, nothing changed on errors."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from api.state import AppState
from geo.models import Role, User
from tests.conftest import PASSWORD, HeadersFactory, UserFactory, assert_problem, login


async def _count(state: AppState) -> int:
    async with state.sessions() as s:
        return await s.scalar(select(func.count()).select_from(User)) or 0


async def test_admin_crud(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, state: AppState
) -> None:
    admin = await auth_headers(Role.ADMIN)
    r = await client.post(
        "/api/users",
        headers=admin,
        json={
            "email": "new.ops@example.fr",
            "password": "a-good-password",
            "role": "OPS",
            "full_name": "Nouvel Ops",
        },
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert r.headers["location"] == f"/api/users/{uid}"
    token = await login(client, "new.ops@example.fr", "a-good-password")
    assert token
    r = await client.patch(f"/api/users/{uid}", headers=admin, json={"role": "MANAGER"})
    assert r.status_code == 200 and r.json()["role"] == "MANAGER"
    r = await client.get("/api/users", headers=admin, params={"role": "MANAGER"})
    assert uid in [u["id"] for u in r.json()["items"]]
    assert (await client.delete(f"/api/users/{uid}", headers=admin)).status_code == 204
    assert_problem(
        await client.post(
            "/api/auth/login", json={"email": "new.ops@example.fr", "password": "a-good-password"}
        ),
        401,
    )
    assert_problem(await client.get("/api/users/999999", headers=admin), 404)


async def test_bad_user_input_changes_nothing(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, state: AppState
) -> None:
    admin = await auth_headers(Role.ADMIN)
    await client.post(
        "/api/users",
        headers=admin,
        json={"email": "dup@example.fr", "password": "a-good-password", "role": "OPS"},
    )
    n = await _count(state)
    cases = [
        ({"email": "DUP@example.fr", "password": "a-good-password", "role": "OPS"}, 409),
        ({"email": "x@example.fr", "password": "a-good-password", "role": "SUPERUSER"}, 422),
        ({"email": "not-an-email", "password": "a-good-password", "role": "OPS"}, 422),
        (
            {
                "email": "y@example.fr",
                "password": "a-good-password",
                "role": "OPS",
                "full_name": "x" * 500,
            },
            422,
        ),
        (
            {
                "email": "z@example.fr",
                "password": "a-good-password",
                "role": "OPS",
                "is_admin": True,
            },
            422,
        ),
    ]
    for body, status in cases:
        assert_problem(await client.post("/api/users", headers=admin, json=body), status)
    assert await _count(state) == n


async def test_admin_cannot_lock_themselves_out(
    client: httpx.AsyncClient, make_user, state: AppState
) -> None:
    admin = await make_user(Role.ADMIN)
    headers = {"Authorization": f"Bearer {await login(client, admin.email)}"}
    assert_problem(
        await client.patch(f"/api/users/{admin.id}", headers=headers, json={"role": "OPS"}), 409
    )
    assert_problem(await client.delete(f"/api/users/{admin.id}", headers=headers), 409)


async def test_patch_null_is_422_and_changes_nothing(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user
) -> None:
    # Every column a user PATCH edits is NOT NULL: a null was silently ignored (200).
    admin = await auth_headers(Role.ADMIN)
    user = await make_user(Role.OPS)
    for field in ("full_name", "role", "is_active", "password"):
        r = await client.patch(f"/api/users/{user.id}", headers=admin, json={field: None})
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == [f"body.{field}"]  # type: ignore[union-attr]
    got = (await client.get(f"/api/users/{user.id}", headers=admin)).json()
    assert (got["role"], got["is_active"], got["full_name"]) == ("OPS", True, user.full_name)
    await login(client, user.email)  # the password is unchanged


# 40 characters, 80 bytes in UTF-8: within the schemas' 72 characters, over bcrypt's 72 bytes.
LONG_UTF8 = "é" * 40
WEAK = ["12345678", "password", " " * 8, "azertyuiop", "soleil2024"]


async def test_new_password_policy_on_create_and_update(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user: UserFactory, state: AppState
) -> None:
    admin = await auth_headers(Role.ADMIN)
    target = await make_user(Role.OPS)
    n = await _count(state)
    for i, password in enumerate([LONG_UTF8, *WEAK]):
        created = assert_problem(
            await client.post(
                "/api/users",
                headers=admin,
                json={"email": f"weak{i}@example.fr", "password": password, "role": "OPS"},
            ),
            422,
        )
        updated = assert_problem(
            await client.patch(
                f"/api/users/{target.id}", headers=admin, json={"password": password}
            ),
            422,
        )
        for body in (created, updated):
            assert body["errors"] == [
                {"field": "body.password", "message": body["detail"], "type": "password_policy"}
            ]
            if password == LONG_UTF8:
                assert "80 octets" in body["detail"], body
            else:
                assert "trop facile à deviner" in body["detail"], (password, body)
    assert await _count(state) == n
    await login(client, target.email)  # the password did not change
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"email": "accents@example.fr", "password": "lune rousse sur le Rhône", "role": "OPS"},
    )
    assert r.status_code == 201, r.text
    await login(client, "accents@example.fr", "lune rousse sur le Rhône")


async def test_admin_password_change_ends_the_users_sessions(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user(Role.OPS)
    headers = {"Authorization": f"Bearer {await login(client, user.email)}"}
    tile = (await client.post("/api/auth/tile-token", headers=headers)).json()["token"]
    items = "/ogc/collections/leads/items"
    assert (await client.get(items, params={"token": tile})).status_code == 200
    # A change of name keeps the sessions.
    r = await client.patch(f"/api/users/{user.id}", headers=admin, json={"full_name": "Renommé"})
    assert r.status_code == 200
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    r = await client.patch(
        f"/api/users/{user.id}", headers=admin, json={"password": "Nouveau-soleil-2026"}
    )
    assert r.status_code == 200, r.text
    assert_problem(await client.get("/api/auth/me", headers=headers), 401)
    assert_problem(await client.get("/api/leads", headers=headers), 401)
    assert_problem(await client.get(items, params={"token": tile}), 401)
    assert (await client.get("/api/auth/me", headers=admin)).status_code == 200
    assert_problem(
        await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}), 401
    )
    fresh = {"Authorization": f"Bearer {await login(client, user.email, 'Nouveau-soleil-2026')}"}
    assert (await client.get("/api/auth/me", headers=fresh)).status_code == 200
