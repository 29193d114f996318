"""RBAC matrix over the foundation endpoints: every role (and no token) × every endpoint."""

from __future__ import annotations

import httpx
import pytest

from geo.models import Role
from tests.conftest import HeadersFactory, UserFactory

ANON = None
ALL = [Role.ADMIN, Role.MANAGER, Role.OPS, Role.COMMERCIAL, ANON]

# (method, path template, json body, {role: expected status})
MATRIX = [
    ("GET", "/api/health", None, dict.fromkeys(ALL, 200)),
    ("GET", "/api/auth/me", None, {**dict.fromkeys(ALL, 200), ANON: 401}),
    (
        "GET",
        "/api/users",
        None,
        {Role.ADMIN: 200, Role.MANAGER: 200, Role.OPS: 403, Role.COMMERCIAL: 403, ANON: 401},
    ),
    (
        "POST",
        "/api/users",
        "new-user",
        {Role.ADMIN: 201, Role.MANAGER: 403, Role.OPS: 403, Role.COMMERCIAL: 403, ANON: 401},
    ),
    (
        "GET",
        "/api/users/{target}",
        None,
        {Role.ADMIN: 200, Role.MANAGER: 403, Role.OPS: 403, Role.COMMERCIAL: 403, ANON: 401},
    ),
    (
        "PATCH",
        "/api/users/{target}",
        {"full_name": "Renamed"},
        {Role.ADMIN: 200, Role.MANAGER: 403, Role.OPS: 403, Role.COMMERCIAL: 403, ANON: 401},
    ),
    (
        "DELETE",
        "/api/users/{target}",
        None,
        {Role.ADMIN: 204, Role.MANAGER: 403, Role.OPS: 403, Role.COMMERCIAL: 403, ANON: 401},
    ),
    ("POST", "/api/auth/logout", None, {**dict.fromkeys(ALL, 200), ANON: 401}),
]

CASES = [(m, p, b, role, exp[role]) for m, p, b, exp in MATRIX for role in ALL]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "expected"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[3].value if c[3] else 'anon'}" for c in CASES],
)
async def test_rbac_matrix(
    client: httpx.AsyncClient,
    auth_headers: HeadersFactory,
    make_user: UserFactory,
    method: str,
    path: str,
    body: object,
    role: Role | None,
    expected: int,
) -> None:
    headers = await auth_headers(role) if role else {}
    target = await make_user(Role.OPS)
    if body == "new-user":
        body = {
            "email": f"rbac-{target.id}@example.fr",
            "password": "a-good-password",
            "role": "OPS",
        }
    r = await client.request(method, path.format(target=target.id), headers=headers, json=body)
    assert r.status_code == expected, r.text
