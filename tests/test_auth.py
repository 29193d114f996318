"""Login, logout/revocation, me, own password, bad tokens; each error is problem+json."""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import httpx
import jwt
from sqlalchemy import func, select, update

from api.security import create_token
from api.settings import Settings
from api.state import AppState
from geo.models import RevokedToken, Role, User
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


# 40 characters, 80 bytes in UTF-8: within the schemas' 72 characters, over bcrypt's 72 bytes.
LONG_UTF8 = "é" * 40
# zxcvbn scores each of them 0 or 1.
WEAK = ["12345678", "password", " " * 8, "azertyuiop", "motdepasse"]


async def test_new_own_password_policy(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user(
        Role.OPS, email="zbigniew.sgrzibek@example.fr", full_name="Zbigniew Sgrzibek"
    )
    headers = {"Authorization": f"Bearer {await login(client, user.email)}"}

    async def change(new: str) -> httpx.Response:
        body = {"current_password": PASSWORD, "new_password": new}
        return await client.post("/api/auth/password", headers=headers, json=body)

    body = assert_problem(await change(LONG_UTF8), 422)
    assert "80 octets" in body["detail"] and "72 au plus" in body["detail"], body
    assert body["errors"] == [
        {"field": "body.new_password", "message": body["detail"], "type": "password_policy"}
    ]
    # The user's name and email count as known words: strong for anyone else (score 4).
    for weak in [*WEAK, "sgrzibek2026!"]:
        body = assert_problem(await change(weak), 422)
        assert "trop facile à deviner" in body["detail"], (weak, body)
    # Nothing changed: the same token and the old password still work.
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    await login(client, user.email)
    # Accented letters are fine within 72 bytes.
    assert (await change("lune rousse sur le Rhône")).status_code == 200
    await login(client, user.email, "lune rousse sur le Rhône")


async def test_login_with_long_passwords_is_never_a_500(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    for password, status in [
        (LONG_UTF8, 401),  # 80 bytes: a wrong password, not an error
        ("é" * 72, 401),  # 144 bytes, the schema's 72 characters
        ("x" * 72, 401),
        ("x" * 73, 422),
        ("é" * 73, 422),
    ]:
        r = await client.post("/api/auth/login", json={"email": user.email, "password": password})
        assert_problem(r, status)
        r = await client.post(
            "/api/auth/token", data={"username": user.email, "password": password}
        )
        assert_problem(r, 401)  # the OAuth2 form has no length bound: every one is wrong


async def test_hashes_of_long_passwords_keep_verifying(
    client: httpx.AsyncClient, make_user: UserFactory, state: AppState
) -> None:
    # bcrypt 4 hashed a password over 72 bytes by cutting it silently: such a hash, made before
    # the 72-byte rule, still opens with the whole password.
    legacy = bcrypt.hashpw(LONG_UTF8.encode()[:72], bcrypt.gensalt(rounds=10)).decode()
    user = await make_user(Role.OPS)
    async with state.sessions() as s:
        await s.execute(update(User).where(User.id == user.id).values(password_hash=legacy))
        await s.commit()
    await login(client, user.email, LONG_UTF8)


async def test_password_change_ends_every_session(
    client: httpx.AsyncClient, make_user: UserFactory, settings: Settings
) -> None:
    user = await make_user(Role.MANAGER)
    first = {"Authorization": f"Bearer {await login(client, user.email)}"}
    second = {"Authorization": f"Bearer {await login(client, user.email)}"}
    tile = (await client.post("/api/auth/tile-token", headers=first)).json()["token"]
    items = "/ogc/collections/leads/items"
    assert (await client.get(items, params={"token": tile})).status_code == 200
    # A token issued before token versions existed (no "ver" claim) counts as version 0.
    legacy = jwt.encode(
        {"sub": str(user.id), "role": "MANAGER", "jti": "legacy-1", "exp": 9999999999},
        settings.auth.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    legacy_headers = {"Authorization": f"Bearer {legacy}"}
    assert (await client.get("/api/auth/me", headers=legacy_headers)).status_code == 200
    r = await client.post(
        "/api/auth/password",
        headers=second,
        json={"current_password": PASSWORD, "new_password": "Nouveau-soleil-2026"},
    )
    assert r.status_code == 200, r.text
    for headers in (first, second, legacy_headers):
        assert_problem(await client.get("/api/auth/me", headers=headers), 401)
        assert_problem(await client.get("/api/leads", headers=headers), 401)
    assert_problem(await client.get(items, params={"token": tile}), 401)
    fresh = {"Authorization": f"Bearer {await login(client, user.email, 'Nouveau-soleil-2026')}"}
    assert (await client.get("/api/auth/me", headers=fresh)).status_code == 200
    tile = (await client.post("/api/auth/tile-token", headers=fresh)).json()["token"]
    assert (await client.get(items, params={"token": tile})).status_code == 200


async def test_logout_revokes_the_sessions_tile_tokens(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(Role.OPS)
    mine = {"Authorization": f"Bearer {await login(client, user.email)}"}
    other = {"Authorization": f"Bearer {await login(client, user.email)}"}
    tile = (await client.post("/api/auth/tile-token", headers=mine)).json()["token"]
    other_tile = (await client.post("/api/auth/tile-token", headers=other)).json()["token"]
    urls = ["/ogc/collections/leads/items", "/tiles/leads/12/2098/1456.mvt"]
    for url in urls:  # used once: now in the tile routes' token cache
        assert (await client.get(url, params={"token": tile})).status_code in (200, 204)
    assert (await client.post("/api/auth/logout", headers=mine)).status_code == 200
    for url in urls:
        body = assert_problem(await client.get(url, params={"token": tile}), 401)
        assert body["detail"] == "token revoked"
        # The other session of the same user and its tile token go on.
        assert (await client.get(url, params={"token": other_tile})).status_code in (200, 204)
    assert (await client.get("/api/auth/me", headers=other)).status_code == 200


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


async def test_login_does_not_hold_up_other_requests(client, make_user, state) -> None:
    """bcrypt runs off the event loop: while a costly login (cost 14, about a second) is being
    checked, other requests of the same process are answered."""
    import asyncio
    import time

    from api.security import hash_password
    from tests.conftest import PASSWORD

    user = await make_user(Role.OPS)
    costly = hash_password(PASSWORD, rounds=14)
    async with state.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(
            text("UPDATE users SET password_hash = :h WHERE id = :i"), {"h": costly, "i": user.id}
        )
    started = time.monotonic()
    login = asyncio.create_task(
        client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    )
    await asyncio.sleep(0.05)  # the login is in bcrypt now
    health = await client.get("/api/health")
    health_done = time.monotonic() - started
    r = await login
    login_done = time.monotonic() - started
    assert r.status_code == 200 and health.status_code == 200
    assert login_done > 0.5  # the login really took long (cost 14)
    assert health_done < login_done / 2, (health_done, login_done)


async def _stored_hash(state: AppState, user_id: int) -> str:
    async with state.sessions() as s:
        return str(await s.scalar(select(User.password_hash).where(User.id == user_id)))


async def test_login_rehashes_a_password_stored_at_another_cost(
    client: httpx.AsyncClient, make_user: UserFactory, state: AppState, settings: Settings
) -> None:
    """The cost setting reaches every account at its next login: a hash made at another cost
    (11 here, the tests' setting being 10) is replaced by one at the setting's; one already at
    it is left as it is."""
    from api.security import hash_cost, hash_password

    assert settings.auth.bcrypt_rounds == 10
    older = await make_user(Role.OPS)
    dearer = hash_password(PASSWORD, rounds=11)
    async with state.sessions() as s:
        await s.execute(update(User).where(User.id == older.id).values(password_hash=dearer))
        await s.commit()
    await login(client, older.email)
    stored = await _stored_hash(state, older.id)
    assert stored != dearer and hash_cost(stored) == 10
    await login(client, older.email)  # the new hash opens with the same password
    assert await _stored_hash(state, older.id) == stored  # already at the cost: kept
    # A refused login changes nothing.
    r = await client.post("/api/auth/login", json={"email": older.email, "password": "wrong-1"})
    assert_problem(r, 401)
    assert await _stored_hash(state, older.id) == stored


async def test_login_keeps_the_hash_of_a_password_over_72_bytes(
    client: httpx.AsyncClient, make_user: UserFactory, state: AppState
) -> None:
    # bcrypt 5 hashes no password over 72 bytes: a bcrypt 4 hash of one, at another cost, stays.
    legacy = bcrypt.hashpw(LONG_UTF8.encode()[:72], bcrypt.gensalt(rounds=11)).decode()
    user = await make_user(Role.OPS)
    async with state.sessions() as s:
        await s.execute(update(User).where(User.id == user.id).values(password_hash=legacy))
        await s.commit()
    await login(client, user.email, LONG_UTF8)
    assert await _stored_hash(state, user.id) == legacy


def test_hash_cost_and_needs_rehash() -> None:
    from api.security import hash_cost, hash_password, needs_rehash

    h10 = hash_password("un mot de passe", rounds=10)
    assert hash_cost(h10) == 10
    assert hash_cost("$2a$12$" + "x" * 53) == 12
    assert hash_cost("") is None and hash_cost("$argon2id$v=19$m=19456,t=2,p=1$x$y") is None
    assert not needs_rehash("un mot de passe", h10, 10)
    assert needs_rehash("un mot de passe", h10, 12)
    assert needs_rehash("un mot de passe", "not a hash", 10)
    assert not needs_rehash("é" * 40, h10, 12)  # 80 bytes: bcrypt 5 would refuse to hash it


def test_unknown_emails_are_checked_at_the_configured_cost() -> None:
    """The dummy hash an unknown email is checked against has the setting's cost (it was 10 while
    the default was 12: a refusal 4 times faster told that the email did not exist)."""
    from api.security import dummy_hash, hash_cost

    assert hash_cost(dummy_hash(11)) == 11 and hash_cost(dummy_hash(10)) == 10
    assert dummy_hash(11) is dummy_hash(11)  # made once per cost


async def test_password_hashing_runs_one_at_a_time() -> None:
    """A burst of logins hashes one after the other (api.services.users.HASHING), in worker
    threads: the event loop stays free meanwhile."""
    import asyncio
    import threading
    import time

    from api.services import users

    running = 0
    most = 0
    lock = threading.Lock()
    loop_thread = threading.get_ident()

    def hash_like() -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return threading.get_ident()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    threads = await asyncio.gather(*(users.HASHING.run(hash_like) for _ in range(6)))
    tick.cancel()
    assert most == users.HASHING.n == 1
    assert loop_thread not in threads
    assert ticks >= 10  # ~0.3 s of hashing: the loop went on ticking beside it


async def test_login_holds_no_connection_while_hashing_and_rehash_keeps_a_new_password(
    make_user: UserFactory, state: AppState, monkeypatch
) -> None:
    """The hash check runs outside any transaction (a queue of logins holds no pooled
    connection), and the rehash only replaces the hash it checked: a password changed while the
    login was hashing stays changed."""
    from api.security import hash_password
    from api.services import users

    user = await make_user(Role.OPS)
    older = hash_password(PASSWORD, rounds=11)
    changed = hash_password("Un-tout-autre-mot-2026", rounds=10)
    async with state.sessions() as s:
        await s.execute(update(User).where(User.id == user.id).values(password_hash=older))
        await s.commit()
    seen: list[bool] = []
    real_verify, real_hash = users._verify, users._hash

    async def verify(password: str, hashed: str) -> bool:
        seen.append(session.in_transaction())
        return await real_verify(password, hashed)

    async def hash_while_changed(password: str, rounds: int) -> str:
        async with state.sessions() as other:  # an ADMIN's reset, meanwhile
            await other.execute(
                update(User).where(User.id == user.id).values(password_hash=changed)
            )
            await other.commit()
        return await real_hash(password, rounds)

    monkeypatch.setattr(users, "_verify", verify)
    monkeypatch.setattr(users, "_hash", hash_while_changed)
    async with state.sessions() as session:
        await users.authenticate_password(session, user.email, PASSWORD, 10)
        await session.commit()
    assert seen == [False]
    assert await _stored_hash(state, user.id) == changed
