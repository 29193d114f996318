"""ADMIN's daily user chores: rename, change a role, reset a password (sessions end)."""

from __future__ import annotations

import httpx

from geo.models import Role
from tests.conftest import PASSWORD, HeadersFactory, UserFactory, assert_problem, login


async def test_admin_renames_and_changes_role(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user(Role.OPS, full_name="Ancien Nom")
    r = await client.patch(
        f"/api/users/{user.id}", headers=admin, json={"full_name": "  Nouveau Nom  "}
    )
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Nouveau Nom" and r.json()["role"] == "OPS"
    r = await client.patch(f"/api/users/{user.id}", headers=admin, json={"role": "ADMIN"})
    assert r.status_code == 200 and r.json()["role"] == "ADMIN"
    r = await client.get(f"/api/users/{user.id}", headers=admin)
    assert (r.json()["full_name"], r.json()["role"]) == ("Nouveau Nom", "ADMIN")
    # a name on two lines is refused and changes nothing
    r = await client.patch(f"/api/users/{user.id}", headers=admin, json={"full_name": "a\nb"})
    assert assert_problem(r, 422)["code"] == "request.invalid"
    r = await client.get(f"/api/users/{user.id}", headers=admin)
    assert r.json()["full_name"] == "Nouveau Nom"


async def test_admin_password_reset_ends_sessions(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user: UserFactory
) -> None:
    admin = await auth_headers(Role.ADMIN)
    user = await make_user(Role.MANAGER)
    old = {"Authorization": f"Bearer {await login(client, user.email)}"}
    assert (await client.get("/api/auth/me", headers=old)).status_code == 200
    r = await client.post(f"/api/users/{user.id}/password-reset", headers=admin)
    assert r.status_code == 200, r.text
    password = r.json()["password"]
    assert len(password) == 16 and password != PASSWORD
    # the old session is over, the old password refused, the new one works
    assert assert_problem(await client.get("/api/auth/me", headers=old), 401)
    r = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert assert_problem(r, 401)["code"] == "auth.bad_credentials"
    assert await login(client, user.email, password)
    # two resets give two different passwords
    r2 = await client.post(f"/api/users/{user.id}/password-reset", headers=admin)
    assert r2.json()["password"] != password


async def test_password_reset_is_for_admins_only(
    client: httpx.AsyncClient, auth_headers: HeadersFactory, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    manager = await auth_headers(Role.MANAGER)
    r = await client.post(f"/api/users/{user.id}/password-reset", headers=manager)
    assert assert_problem(r, 403)["code"] == "auth.forbidden"
    assert_problem(await client.post(f"/api/users/{user.id}/password-reset"), 401)
    admin = await auth_headers(Role.ADMIN)
    r = await client.post("/api/users/999999/password-reset", headers=admin)
    assert assert_problem(r, 404)["code"] == "user.not_found"
    # the user's password is unchanged by the refused attempts
    assert await login(client, user.email)
