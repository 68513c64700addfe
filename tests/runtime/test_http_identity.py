"""Identity over HTTP with signed JWTs: registration, login, refresh rotation, the token attack
list, roles on catalog writes, and who may see whose account."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient

from airline_core import Airline, FakeClock, Principal, Role
from airline_core.memory import (
    MemoryAirplaneStore,
    MemoryAirportStore,
    MemoryBookingStore,
    MemoryCatalog,
    MemoryCityStore,
    MemoryFlightStore,
    MemoryIdempotencyStore,
    MemoryInventoryStore,
    MemoryOfferStore,
    MemoryPaymentStore,
    MemoryRefreshTokenStore,
    MemoryReminderStore,
    MemoryUserStore,
)
from airline_runtime.bootstrap import Runtime
from airline_runtime.http import create_app
from airline_runtime.security import JWTAccessTokens
from airline_runtime.settings import Settings
from tests.conftest import FAST_HASHER
from tests.runtime.conftest import API, CITIES, fields, ok, problem

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
SECRET = "s" * 48
TOKENS = JWTAccessTokens(secret=SECRET, issuer="airline-booking", audience="airline-api")
PASSWORD = "a long enough passphrase"


@pytest.fixture
def airline() -> Airline:
    catalog = MemoryCatalog()
    offers, keys = MemoryOfferStore(), MemoryIdempotencyStore()
    return Airline.from_stores(
        cities=MemoryCityStore(catalog),
        airports=MemoryAirportStore(catalog),
        airplanes=MemoryAirplaneStore(catalog),
        flights=MemoryFlightStore(catalog),
        users=MemoryUserStore(),
        refresh_tokens=MemoryRefreshTokenStore(),
        inventory=MemoryInventoryStore(catalog),
        offers=offers,
        bookings=MemoryBookingStore(catalog, None, offers, keys),
        payments=MemoryPaymentStore(catalog, keys),
        idempotency_keys=keys,
        outbox=catalog.outbox,
        reminders=MemoryReminderStore(catalog),
        password_hasher=FAST_HASHER,
        access_tokens=TOKENS,
        # Real time: JWT expiry is checked against the real clock.
        clock=FakeClock(datetime.now(UTC).replace(microsecond=0)),
    )


@pytest.fixture
async def client(airline: Airline) -> AsyncIterator[Client]:
    runtime = Runtime(settings=Settings(), airline=airline)
    async with AsyncTestClient(create_app(runtime=runtime)) as test_client:
        yield test_client


async def register(client: Client, email: str, name: str = "Ann") -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "name": name}
    return ok(await client.post(f"{API}/auth/register", json=body), 201)  # type: ignore[no-any-return]


async def login(client: Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    body = {"email": email, "password": password}
    return ok(await client.post(f"{API}/auth/token", json=body))  # type: ignore[no-any-return]


def auth(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_register_login_and_me(client: Client) -> None:
    user = await register(client, "Ann@Example.org")
    assert user["email"] == "ann@example.org"
    assert user["role"] == "customer"
    assert "password" not in json.dumps(user)
    tokens = await login(client, "ANN@example.org")
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 15 * 60
    me = ok(await client.get(f"{API}/me", headers=auth(tokens)))
    assert me == user
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert {"sub", "jti", "aud", "iss", "typ", "role"} <= set(claims)


async def test_refresh_rotates_and_the_old_token_stops_working(client: Client) -> None:
    await register(client, "ann@example.org")
    first = await login(client, "ann@example.org")
    second = ok(
        await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    )
    assert second["refresh_token"] != first["refresh_token"]
    assert ok(await client.get(f"{API}/me", headers=auth(second)))["email"] == "ann@example.org"
    replay = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    problem(replay, 401)
    # The replay revoked the whole session: the legitimately rotated token is dead too.
    stolen_family = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    problem(stolen_family, 401)
    # Another session of the same user is untouched.
    other = await login(client, "ann@example.org")
    ok(await client.post(f"{API}/auth/refresh", json={"refresh_token": other["refresh_token"]}))


async def test_logout_ends_the_session(client: Client) -> None:
    await register(client, "ann@example.org")
    tokens = await login(client, "ann@example.org")
    body = {"refresh_token": tokens["refresh_token"]}
    assert (await client.post(f"{API}/auth/logout", json=body)).status_code == 204
    problem(await client.post(f"{API}/auth/refresh", json=body), 401)
    assert (await client.post(f"{API}/auth/logout", json=body)).status_code == 204


async def test_wrong_password_and_unknown_user_answer_alike(client: Client) -> None:
    await register(client, "ann@example.org")
    wrong = await client.post(
        f"{API}/auth/token", json={"email": "ann@example.org", "password": "not the password!"}
    )
    unknown = await client.post(
        f"{API}/auth/token", json={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert problem(wrong, 401) == {**problem(unknown, 401), "instance": "/api/v1/auth/token"}
    assert wrong.json()["detail"] == "the credentials are not valid"
    assert wrong.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("1234567890", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("annsmith@example.org", "must not contain your email"),
        ("my-annsmith-password", "must not contain your email"),
        ("x" * 257, "256"),
    ],
)
async def test_weak_passwords_are_refused(client: Client, password: str, message: str) -> None:
    body = {"email": "annsmith@example.org", "password": password, "name": "Ann"}
    response = problem(await client.post(f"{API}/auth/register", json=body), 422)
    assert fields(response) == {"password"}
    assert message in response["detail"]


async def test_registration_bad_input(client: Client) -> None:
    await register(client, "ann@example.org")
    body = {"email": "ANN@example.org", "password": PASSWORD, "name": "Ann"}
    assert fields(problem(await client.post(f"{API}/auth/register", json=body), 409)) == {"email"}
    bad = {"email": "ann-at-example.org", "password": PASSWORD, "name": ""}
    assert fields(problem(await client.post(f"{API}/auth/register", json=bad), 422)) == {
        "email",
        "name",
    }
    # No mass assignment: a client cannot make itself an admin.
    sneaky = {"email": "eve@example.org", "password": PASSWORD, "name": "Eve", "role": "admin"}
    assert fields(problem(await client.post(f"{API}/auth/register", json=sneaky), 422)) == {"role"}


def forged(claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims_for(user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "airline-booking",
        "aud": "airline-api",
        "sub": user_id,
        "role": "admin",
        "typ": "access",
        "jti": "x",
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def alg_none(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# Forging HS512 with our (HS256-sized) secret is the attack; PyJWT warns about the key size.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_token_attacks_are_all_refused(client: Client) -> None:
    user = await register(client, "ann@example.org")
    tokens = await login(client, "ann@example.org")
    good = tokens["access_token"]
    head, payload, signature = good.split(".")
    tampered_payload = (
        base64.urlsafe_b64encode(
            json.dumps(
                {**jwt.decode(good, options={"verify_signature": False}), "role": "admin"}
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    uid = user["id"]
    attacks = {
        "expired": forged(
            claims_for(uid, iat=int(time.time()) - 3600, exp=int(time.time()) - 1800)
        ),
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "alg none": alg_none(claims_for(uid)),
        "wrong secret": forged(claims_for(uid), secret="t" * 48),
        "wrong audience": forged(claims_for(uid, aud="someone-else")),
        "wrong issuer": forged(claims_for(uid, iss="evil")),
        "no expiry": forged(claims_for(uid, exp=None)),
        "no jti": forged(claims_for(uid, jti=None)),
        "not an access token": forged(claims_for(uid, typ="refresh")),
        "unknown role": forged(claims_for(uid, role="root")),
        "HS512 instead of HS256": forged(claims_for(uid), algorithm="HS512"),
        "refresh token as access token": tokens["refresh_token"],
        "garbage": "not.a.jwt",
        "empty": "",
    }
    accepted = []
    for name, token in attacks.items():
        response = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 401:
            accepted.append(name)
        else:
            assert response.json()["detail"] in {
                "the access token is not valid",
                "use the Bearer scheme: Authorization: Bearer <token>",
            }
    assert accepted == []
    for header in ("Basic YW5uOnB3", "Bearer", "Token abc"):
        problem(await client.get(f"{API}/me", headers={"Authorization": header}), 401)
    # A bad token is refused on public routes too, so a client learns its token went stale.
    problem(await client.get(f"{API}/cities", headers={"Authorization": "Bearer x.y.z"}), 401)
    # The real one works.
    assert ok(await client.get(f"{API}/me", headers=auth(tokens)))["id"] == uid


async def test_forged_token_for_an_unknown_user_cannot_read_accounts(client: Client) -> None:
    token = forged(claims_for("01JDX0000000000000000000AA", role="customer"))
    problem(await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}), 404)


CATALOG_WRITES = [
    ("post", "/cities", CITIES["LON"]),
    ("patch", "/cities/01JDX0000000000000000000AA", {"name": "x"}),
    ("delete", "/cities/01JDX0000000000000000000AA", None),
    ("post", "/airports", {"code": "LHR"}),
    ("patch", "/airports/LHR", {"name": "x"}),
    ("delete", "/airports/LHR", None),
    ("post", "/airplanes", {"model": "x"}),
    ("patch", "/airplanes/01JDX0000000000000000000AA", {"model": "x"}),
    ("delete", "/airplanes/01JDX0000000000000000000AA", None),
    ("post", "/flights", {"number": "BA1"}),
    ("patch", "/flights/01JDX0000000000000000000AA", {"status": "delayed"}),
    ("delete", "/flights/01JDX0000000000000000000AA", None),
]


async def send(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if body is None:
        return await client.request(method, f"{API}{path}", headers=headers)
    return await client.request(method, f"{API}{path}", json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), CATALOG_WRITES)
async def test_catalog_writes_need_the_admin_role(
    client: Client, airline: Airline, method: str, path: str, body: Any
) -> None:
    await register(client, "ann@example.org")
    customer = auth(await login(client, "ann@example.org"))
    await airline.accounts.create_admin(email="root@example.org", password=PASSWORD, name="Root")
    admin = auth(await login(client, "root@example.org"))
    assert problem(await send(client, method, path, body, {}), 401)["type"].endswith("unauthorized")
    assert problem(await send(client, method, path, body, customer), 403)["type"].endswith(
        "forbidden"
    )
    # The admin gets past the guard: whatever answers now is about the request, not the role.
    assert (await send(client, method, path, body, admin)).status_code not in {401, 403}


async def test_catalog_reads_are_public(client: Client) -> None:
    for path in ("/cities", "/airports", "/airplanes", "/flights"):
        assert (await client.get(f"{API}{path}")).status_code == 200


async def test_two_user_ownership_matrix(client: Client, airline: Airline) -> None:
    ann = await register(client, "ann@example.org", "Ann")
    bob = await register(client, "bob@example.org", "Bob")
    await airline.accounts.create_admin(email="root@example.org", password=PASSWORD, name="Root")
    callers = {
        "ann": auth(await login(client, "ann@example.org")),
        "bob": auth(await login(client, "bob@example.org")),
        "admin": auth(await login(client, "root@example.org")),
        "anonymous": {},
    }
    expected = {
        ("ann", "ann"): 200,
        ("ann", "bob"): 404,
        ("bob", "ann"): 404,
        ("bob", "bob"): 200,
        ("admin", "ann"): 200,
        ("admin", "bob"): 200,
        ("anonymous", "ann"): 401,
        ("anonymous", "bob"): 401,
    }
    owners = {"ann": ann, "bob": bob}
    for (caller, owner), status in expected.items():
        response = await client.get(f"{API}/users/{owners[owner]['id']}", headers=callers[caller])
        assert response.status_code == status, (caller, owner)
        if status == 200:
            assert response.json()["data"]["email"] == owners[owner]["email"]
        else:
            assert owners[owner]["email"] not in response.text
    # Someone else's id answers exactly as an id that does not exist.
    missing = await client.get(f"{API}/users/01JDX0000000000000000000AA", headers=callers["ann"])
    assert (
        problem(missing, 404)["detail"]
        == problem(await client.get(f"{API}/users/{bob['id']}", headers=callers["ann"]), 404)[
            "detail"
        ]
    )
    accounts = await client.get(f"{API}/users", headers=callers["admin"])
    assert accounts.headers["cache-control"] == "no-store"  # emails: never kept by a cache
    listed = ok(accounts)
    assert {user["email"] for user in listed} == {
        "ann@example.org",
        "bob@example.org",
        "root@example.org",
    }
    problem(await client.get(f"{API}/users", headers=callers["ann"]), 403)
    problem(await client.get(f"{API}/users"), 401)


def test_principal_role_comes_from_the_token() -> None:
    token, lifetime = TOKENS.issue(
        Principal(user_id="01JDX0000000000000000000AA", role=Role.ADMIN),
        datetime.now(UTC) - timedelta(minutes=1),
    )
    assert lifetime == 900
    assert TOKENS.verify(token).role is Role.ADMIN
