"""Rate limits: the client address behind proxies, route groups and keys, the 429 answer, the
memory and Redis stores, and one limit shared by several ``airline serve`` workers.

Tests marked ``redis`` use ``AIRLINE_TEST_REDIS_URL`` (default 127.0.0.1:6379, db 0), each under
a prefix of its own that is deleted afterwards. They fail, never skip, without a server.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis
from litestar import Litestar, get, head, post
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from airline_core.identity.model import Principal, Role
from airline_runtime.http.ratelimit import (
    LIMITED,
    RateLimiter,
    RateLimitMiddleware,
    client_address,
    rate_limit_middleware,
    route_group,
)
from airline_runtime.settings import RateLimits, Settings
from tests.runtime.conftest import running_airline

REDIS_URL = os.environ.get("AIRLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMITS = RateLimits(auth="2/minute", read="5/minute", write="3/minute")
_FIELD = re.compile(r'"([a-z0-9-]+)";([a-z])=(\d+);([a-z])=(\d+)')


def _field(response: httpx.Response, name: str, first: str, second: str) -> tuple[str, int, int]:
    found = _FIELD.fullmatch(response.headers[name])
    assert found, response.headers[name]
    assert (found[2], found[4]) == (first, second), response.headers[name]
    return found[1], int(found[3]), int(found[5])


def rate_limit(response: httpx.Response) -> tuple[str, int, int]:
    """The ``RateLimit`` field (IETF draft): the policy's name, requests left, seconds to reset."""
    return _field(response, "RateLimit", "r", "t")


def rate_limit_policy(response: httpx.Response) -> tuple[str, int, int]:
    """The ``RateLimit-Policy`` field: the policy's name, its quota, its window in seconds."""
    return _field(response, "RateLimit-Policy", "q", "w")


# -- client_address ---------------------------------------------------------------------------


def scope_from(peer: str | None, *forwarded: str) -> Any:
    return {
        "type": "http",
        "client": None if peer is None else (peer, 40000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxies: the header is never read.
        ("203.0.113.9", ["1.2.3.4"], [], "203.0.113.9"),
        # An untrusted peer cannot pick its key by spoofing the header.
        ("203.0.113.9", ["1.2.3.4"], ["10.0.0.0/8"], "203.0.113.9"),
        # A trusted proxy: its hop is the client.
        ("10.0.0.2", ["198.51.100.7"], ["10.0.0.0/8"], "198.51.100.7"),
        # A chain of trusted proxies; what the client wrote on the left is ignored.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.7, 10.0.0.5"], ["10.0.0.0/8"], "198.51.100.7"),
        # Repeated headers count as one list, in order.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.7", "10.0.0.5"], ["10.0.0.0/8"], "198.51.100.7"),
        # Every hop trusted: the leftmost one.
        ("10.0.0.2", ["10.0.0.9"], ["10.0.0.0/8"], "10.0.0.9"),
        # A trusted peer that sent no header.
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
        # A single trusted address rather than a network.
        ("192.168.1.10", ["198.51.100.7"], ["192.168.1.10"], "198.51.100.7"),
        ("192.168.1.11", ["198.51.100.7"], ["192.168.1.10"], "192.168.1.11"),
        # Hops with ports.
        ("10.0.0.2", ["198.51.100.7:5555"], ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", ["[2001:db8::7]:443"], ["10.0.0.0/8"], "2001:db8::7"),
        # IPv6 peers, networks and hops, in canonical form.
        ("2001:db8::1", ["2A00:1450:0:0::1, 2001:db8::2"], ["2001:db8::/32"], "2a00:1450::1"),
        ("2001:db9::1", ["2a00:1450::1"], ["2001:db8::/32"], "2001:db9::1"),
        # An IPv4-mapped peer is its IPv4 address.
        ("::ffff:10.0.0.2", ["198.51.100.7"], ["10.0.0.0/8"], "198.51.100.7"),
        # Garbage ends the walk at the last trusted hop.
        ("10.0.0.2", ["198.51.100.7, not-an-ip, 10.0.0.5"], ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.2", ["198.51.100.7,,"], ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", ["unknown"], ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", ["[2001:db8::7"], ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.7:http"], ["10.0.0.0/8"], "10.0.0.2"),
        # A peer that is no address at all is kept as it is.
        ("testclient", ["1.2.3.4"], ["10.0.0.0/8"], "testclient"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], trusted: list[str], expected: str) -> None:
    assert client_address(scope_from(peer, *forwarded), trusted) == expected


def test_client_address_without_a_peer() -> None:
    assert client_address(scope_from(None, "1.2.3.4"), ["0.0.0.0/0"]) == "unknown"


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/api/v1/auth/token", "auth"),
        ("POST", "/api/v1/auth/register", "auth"),
        ("GET", "/api/v1/auth/whatever", "read"),
        ("GET", "/api/v1/cities", "read"),
        ("HEAD", "/api/v1/cities", "read"),
        ("POST", "/api/v1/cities", "write"),
        ("DELETE", "/api/v1/cities/1", "write"),
        ("GET", "/health/live", None),
        ("GET", "/metrics", None),
        ("GET", "/schema", None),
        ("GET", "/schema/swagger", None),
        ("GET", "/metricsx", "read"),
    ],
)
def test_route_group(method: str, path: str, group: str | None) -> None:
    assert route_group(method, path) == group


# -- the middleware on a small app ------------------------------------------------------------


class TestIdentity:
    """Stands in for the authentication middleware: ``X-Test-User`` becomes the principal,
    ``X-Test-Peer`` the peer address."""

    __test__ = False

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        user = headers.get(b"x-test-user")
        scope["user"] = Principal(user_id=user.decode(), role=Role.CUSTOMER) if user else None
        if peer := headers.get(b"x-test-peer"):
            scope["client"] = (peer.decode(), 40000)
        await self.app(scope, receive, send)


calls = {"handler": 0}


@get("/api/v1/cities")
async def list_cities() -> dict[str, list[str]]:
    calls["handler"] += 1
    return {"data": []}


@head("/api/v1/cities")
async def peek_cities() -> None:
    return None


@post("/api/v1/cities")
async def create_city() -> dict[str, str]:
    return {"data": "made"}


@post("/api/v1/auth/token")
async def login() -> dict[str, str]:
    return {"data": "token"}


@get("/health/live")
async def live() -> str:
    return "ok"


@get("/metrics")
async def metrics() -> str:
    return "metrics"


@get("/schema")
async def schema() -> str:
    return "schema"


def limited_app(limiter: RateLimiter) -> Litestar:
    return Litestar(
        route_handlers=[list_cities, peek_cities, create_city, login, live, metrics, schema],
        middleware=[TestIdentity, rate_limit_middleware(limiter)],
        lifespan=[lambda _app: limiter],
        openapi_config=None,
        logging_config=None,  # Litestar's own would replace the handler caplog listens on
    )


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The small app on the memory store."""
    limiter = RateLimiter(Settings(rate_limits=LIMITS))
    async with AsyncTestClient(limited_app(limiter)) as test_client:
        yield test_client


async def assert_exact_limit(
    client: AsyncTestClient[Litestar], limit: int, **headers: str
) -> httpx.Response:
    """``limit`` GETs pass with the headers counting down, the next one gets the 429."""
    calls["handler"] = 0
    for sent in range(1, limit + 1):
        response = await client.get("/api/v1/cities", headers=headers)
        assert response.status_code == 200, response.text
        _, left, reset = rate_limit(response)
        assert left == limit - sent
        assert 1 <= reset <= 60
        # The policy rides on refusals only: it is the same on every answer.
        assert "RateLimit-Policy" not in response.headers
    refused = await client.get("/api/v1/cities", headers=headers)
    assert calls["handler"] == limit, "a refused request must not reach the app"
    return refused


def assert_refused(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    policy, left, reset = rate_limit(response)
    assert (left, reset) == (0, retry_after)
    assert rate_limit_policy(response) == (policy, limit, 60)
    body = response.json()
    assert body == {
        "type": "urn:airline:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": f"too many requests: {limit} per 1 minute; retry in {retry_after} s",
        "instance": response.request.url.path,
    }


async def test_exactly_the_limit_passes_then_429(client: AsyncTestClient[Litestar]) -> None:
    assert_refused(await assert_exact_limit(client, 5), 5)
    assert_refused(await client.get("/api/v1/cities"), 5)
    head = await client.head("/api/v1/cities")
    assert head.status_code == 429
    assert head.content == b""


async def test_read_and_write_have_separate_budgets(client: AsyncTestClient[Litestar]) -> None:
    for _ in range(3):
        assert (await client.post("/api/v1/cities")).status_code == 201
    assert_refused(await client.post("/api/v1/cities"), 3)
    assert (await client.get("/api/v1/cities")).status_code == 200


async def test_auth_is_stricter_and_counted_per_address_even_when_signed_in(
    client: AsyncTestClient[Litestar],
) -> None:
    here = {"X-Test-Peer": "198.51.100.7"}
    assert (await client.post("/api/v1/auth/token", headers=here)).status_code == 201
    signed_in = {**here, "X-Test-User": "ann"}
    assert (await client.post("/api/v1/auth/token", headers=signed_in)).status_code == 201
    # Another user from the same address shares the address's budget.
    other = {**here, "X-Test-User": "bob"}
    assert_refused(await client.post("/api/v1/auth/token", headers=other), 2)
    # Another address has its own.
    elsewhere = await client.post("/api/v1/auth/token", headers={"X-Test-Peer": "198.51.100.8"})
    assert elsewhere.status_code == 201
    assert rate_limit(elsewhere)[:2] == ("auth", 1)


PEER = ("192.0.2.1", 1)


async def test_an_auth_path_counts_as_auth_only_when_posted() -> None:
    # What a path means is remembered after its first request; the method still decides.
    async with RateLimiter(Settings(rate_limits=LIMITS)) as limiter:
        seen = []
        for method in ("POST", "GET", "POST", "GET"):
            scope: Any = {"method": method, "path": "/api/v1/auth/token", "client": PEER}
            headers: list[tuple[bytes, bytes]] = []
            assert limiter.admit_in_memory(scope, headers) is None
            [(name, value)] = headers
            assert name == b"ratelimit"
            seen.append(value.decode())
        assert seen == ['"auth";r=1;t=60', '"read";r=4;t=60', '"auth";r=0;t=60', '"read";r=3;t=60']
        exempt: Any = {"method": "GET", "path": "/health/live", "client": PEER}
        for _ in range(2):
            headers = []
            assert limiter.admit_in_memory(exempt, headers) is None
            assert headers == []


async def test_a_fresh_window_announces_its_own_length_whatever_the_clock_reads() -> None:
    # At this reading of the clock (now + 60) - now is 60.00000000000091 in floating point:
    # rounded up blindly, the first request of a 60 s window was told 61 s.
    now = 8161.962517661547
    assert (now + 60) - now > 60
    async with RateLimiter(Settings(rate_limits=LIMITS)) as limiter:
        scope: Any = {"method": "GET", "path": "/api/v1/flights", "client": PEER}
        headers: list[tuple[bytes, bytes]] = []
        assert limiter.count_in_memory(scope, LIMITED, now, headers) is None
        assert headers == [(b"ratelimit", b'"read";r=4;t=60')]
        for _ in range(5):
            refusal = limiter.count_in_memory(scope, LIMITED, now, [])
        assert refusal is not None
        assert refusal.reset_after == 60


async def test_memory_windows_reset_on_the_monotonic_clock_and_are_swept() -> None:
    async with RateLimiter(Settings(rate_limits=LIMITS)) as limiter:
        scope: Any = {"method": "GET", "path": "/api/v1/flights", "client": PEER}
        start = 1000.0

        def count(now: float) -> str | None:
            headers: list[tuple[bytes, bytes]] = []
            refusal = limiter.count_in_memory(scope, LIMITED, now, headers)
            return headers[0][1].decode() if refusal is None else None

        assert [count(start + n) for n in range(6)] == [
            '"read";r=4;t=60',
            '"read";r=3;t=59',
            '"read";r=2;t=58',
            '"read";r=1;t=57',
            '"read";r=0;t=56',
            None,  # the sixth in the window is refused
        ]
        # The window ends 60 s after its first request: a fresh one opens then.
        assert count(start + 60) == '"read";r=4;t=60'
        # Another address's window, opened long after, sweeps the expired ones away.
        stale: Any = {"method": "GET", "path": "/api/v1/flights", "client": ("192.0.2.9", 1)}
        assert count(start + 60) is not None
        headers: list[tuple[bytes, bytes]] = []
        assert limiter.count_in_memory(stale, LIMITED, start + 500, headers) is None
        windows = limiter._windows
        assert windows is not None
        [read] = windows["read"]
        assert list(read.addresses) == ["192.0.2.9"]


async def test_each_user_has_a_budget_of_their_own(client: AsyncTestClient[Litestar]) -> None:
    assert_refused(await assert_exact_limit(client, 5, **{"X-Test-User": "ann"}), 5)
    # Bob signs in from the same address as Ann, and anonymous requests come from it too.
    await assert_exact_limit(client, 5, **{"X-Test-User": "bob"})
    await assert_exact_limit(client, 5)


async def test_exempt_paths_are_never_limited(client: AsyncTestClient[Litestar]) -> None:
    for _ in range(20):
        for path in ("/health/live", "/metrics", "/schema"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "RateLimit" not in response.headers
    await assert_exact_limit(client, 5)


async def test_limits_off_leaves_the_app_unwrapped() -> None:
    limiter = RateLimiter(Settings(rate_limit=False, rate_limits=LIMITS))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError  # pragma: no cover

    assert rate_limit_middleware(limiter)(app) is app
    async with AsyncTestClient(limited_app(limiter)) as client:
        for _ in range(10):
            response = await client.get("/api/v1/cities")
            assert response.status_code == 200
            assert "RateLimit" not in response.headers


async def test_the_tightest_of_several_limits_binds() -> None:
    limits = RateLimits(auth="2/minute", read="3/second;4/minute", write="3/minute")
    async with AsyncTestClient(limited_app(RateLimiter(Settings(rate_limits=limits)))) as client:
        first = rate_limit(await client.get("/api/v1/cities"))
        second = rate_limit(await client.get("/api/v1/cities"))
        # 3/second leaves fewer than 4/minute; each limit of a group is named by its window.
        assert [first[:2], second[:2]] == [("read-1s", 2), ("read-1s", 1)]


async def test_using_a_limiter_that_was_never_opened_is_a_clear_error() -> None:
    limiter = RateLimiter(Settings())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError  # pragma: no cover

    scope: Any = {"type": "http", "method": "GET", "path": "/api/v1/cities", "headers": []}
    with pytest.raises(RuntimeError, match="open"):
        await RateLimitMiddleware(app, limiter)(scope, None, None)  # type: ignore[arg-type]


async def test_an_unreachable_store_fails_open_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused at once
    try:
        port = closed.getsockname()[1]
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", rate_limits=LIMITS)
        with caplog.at_level(logging.WARNING, logger="airline_runtime.http.ratelimit"):
            async with AsyncTestClient(limited_app(RateLimiter(settings))) as client:
                for _ in range(10):
                    response = await client.get("/api/v1/cities")
                    assert response.status_code == 200
                    assert "RateLimit" not in response.headers
    finally:
        closed.close()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("unreachable at start-up" in message for message in messages) == 1
    assert sum("store failed" in message for message in messages) == 1, messages


# -- Redis ------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the test Redis; its keys are deleted afterwards."""
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.RedisError as error:
        server.close()
        pytest.fail(
            f"Redis at {REDIS_URL} is required for tests marked redis: {error}"
            ' (start it, set AIRLINE_TEST_REDIS_URL, or deselect with -m "not redis")',
            pytrace=False,
        )
    prefix = f"airline-test-{uuid4().hex}"
    try:
        yield prefix
    finally:
        keys = list(server.scan_iter(match=f"{prefix}:*"))
        if keys:
            server.delete(*keys)
        server.close()


def redis_keys(prefix: str) -> list[str]:
    with redis.Redis.from_url(REDIS_URL) as server:
        return sorted(key.decode() for key in server.scan_iter(match=f"{prefix}:*"))


@pytest.mark.redis
async def test_redis_store_allows_exactly_the_limit(redis_prefix: str) -> None:
    settings = Settings(redis_url=REDIS_URL, redis_prefix=redis_prefix, rate_limits=LIMITS)
    async with AsyncTestClient(limited_app(RateLimiter(settings))) as client:
        assert_refused(await assert_exact_limit(client, 5), 5)
    assert redis_keys(redis_prefix) == [f"{redis_prefix}:LIMITER/read/ip:testclient/5/1/minute"]


@pytest.mark.redis
async def test_apps_sharing_redis_share_the_limit(redis_prefix: str) -> None:
    """Two limiters, as in two processes or hosts, count against one budget."""
    settings = Settings(redis_url=REDIS_URL, redis_prefix=redis_prefix, rate_limits=LIMITS)
    async with (
        AsyncTestClient(limited_app(RateLimiter(settings))) as first,
        AsyncTestClient(limited_app(RateLimiter(settings))) as second,
    ):
        statuses = [
            (await (first, second)[n % 2].get("/api/v1/cities")).status_code for n in range(12)
        ]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


@pytest.mark.redis
def test_one_limit_across_several_workers(tmp_path: Path, redis_prefix: str) -> None:
    """The acceptance test: ``airline serve --workers 2`` on Redis lets exactly the limit
    through, whichever worker answers (each request on a fresh connection)."""
    env = {
        **os.environ,
        "AIRLINE_DATA_DIR": str(tmp_path / "data"),
        "AIRLINE_REDIS_URL": REDIS_URL,
        "AIRLINE_REDIS_PREFIX": redis_prefix,
        "AIRLINE_RATE_LIMIT": "on",
        "AIRLINE_RATE_LIMIT_READ": "20/minute",
    }
    env.pop("AIRLINE_DATABASE_URL", None)
    log = tmp_path / "server.log"
    with running_airline(["serve", "--workers", "2"], env, log) as base:
        responses = [httpx.get(f"{base}/api/v1/cities", timeout=10) for _ in range(60)]
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 20, statuses
    assert statuses.count(429) == 40, statuses
    # One shared atomic counter: each allowed answer saw a different count.
    allowed = [rate_limit(r)[1] for r in responses if r.status_code == 200]
    assert sorted(allowed) == list(range(20))
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert re.fullmatch(
                r"too many requests: 20 per 1 minute; retry in \d+ s", response.json()["detail"]
            )
    # Both workers started (their start-up lines), and the counter lives in Redis.
    assert log.read_text().count("Application startup complete") == 2
    assert any("/read/ip:127.0.0.1/20/1/minute" in key for key in redis_keys(redis_prefix))


@pytest.mark.redis
async def test_readiness_reports_redis(redis_prefix: str, tmp_path: Path) -> None:
    from airline_core import Airline
    from airline_runtime.bootstrap import Runtime
    from airline_runtime.http import create_app

    async with Airline.in_memory() as airline:
        for url, status in ((REDIS_URL, 200), ("redis://127.0.0.1:1/0", 503)):
            settings = Settings(redis_url=url, redis_prefix=redis_prefix)
            runtime = Runtime(settings=settings, airline=airline)
            async with AsyncTestClient(create_app(runtime=runtime)) as client:
                response = await client.get("/health/ready")
                assert response.status_code == status, response.text
                if status == 200:
                    assert response.json()["checks"] == {"redis": "ok"}
                else:
                    assert "redis" in response.json()["detail"]


async def test_a_429_of_the_real_app_is_readable_by_a_browser() -> None:
    from airline_core import Airline
    from airline_runtime.bootstrap import Runtime
    from airline_runtime.http import create_app
    from airline_runtime.settings import RateLimits

    settings = Settings(
        rate_limits=RateLimits(read="2/minute"), cors_origins=("https://app.example",)
    )
    async with Airline.in_memory() as airline:
        runtime = Runtime(settings=settings, airline=airline)
        async with AsyncTestClient(create_app(runtime=runtime)) as client:
            origin = {"Origin": "https://app.example"}
            statuses = [(await client.get("/api/v1/cities", headers=origin)) for _ in range(3)]
            assert [response.status_code for response in statuses] == [200, 200, 429]
            refused = statuses[-1]
            assert refused.headers["access-control-allow-origin"] == "https://app.example"
            assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
            assert refused.headers["x-request-id"]
            assert refused.headers["x-content-type-options"] == "nosniff"
            other = await client.get("/api/v1/cities", headers={"Origin": "https://evil.example"})
            assert other.status_code == 429
            assert "access-control-allow-origin" not in other.headers
