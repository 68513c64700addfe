"""Rate limits for the HTTP API: per user when signed in, per client IP otherwise.

Requests fall into three route groups, each with its own limit from
:class:`~airline_runtime.settings.RateLimits`:

- ``auth``: ``POST /api/v1/auth/...`` (register, token, refresh), always counted per client IP,
  signed in or not: these are the brute-force targets, and a stolen token must not buy an
  attacker a fresh budget of password guesses;
- ``read``: ``GET`` and ``HEAD``;
- ``write``: every other method.

``/health/...``, ``/metrics`` and ``/schema...`` are never limited: probes and scrapers must see
the service as it is, and the docs cost nothing.

Why not Litestar's own ``RateLimitMiddleware``: it keeps its counts in the process, so
``airline serve --workers 4`` behind a load balancer would let a client through four times over.
Here the counters live in a :mod:`limits` storage: memory on the embedded default (one process,
nothing to set up), Redis when ``AIRLINE_REDIS_URL`` is set, where every worker on every host
increments the same counter with one atomic Lua script.

Answers tell the client where it stands in the fields of the IETF draft *RateLimit header
fields for HTTP* (draft-ietf-httpapi-ratelimit-headers, revisions 08 and later): every limited
answer carries ``RateLimit: "read";r=599;t=60`` (the policy, requests left, seconds until the
window resets); a 429 adds ``RateLimit-Policy: "read";q=600;w=60`` (the quota and its window)
and ``Retry-After``. The policy is the same on every answer, so it rides only on the answer
where a client needs it; each header on every answer costs about 5 k instructions in the
server, a measurable share of a cheap request.

Behind a reverse proxy every request seems to come from the proxy; :func:`client_address` finds
the real client in ``X-Forwarded-For``, but only when the peer is one of
``AIRLINE_TRUSTED_PROXIES``, since anyone can send that header.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from airline_core.errors import Unavailable
from airline_core.identity.model import Principal
from airline_runtime.http.problems import send_problem
from airline_runtime.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool

__all__ = [
    "AUTH_PATH",
    "EXEMPT",
    "EXEMPT_PATHS",
    "LIMITED",
    "RateLimitDecision",
    "RateLimitMiddleware",
    "RateLimiter",
    "RouteGroup",
    "client_address",
    "path_kind",
    "rate_limit_middleware",
    "refuse",
    "route_group",
]

RouteGroup = Literal["auth", "read", "write"]

#: Paths never limited (exact, or followed by ``/``): probes, the scraper, the API docs.
EXEMPT_PATHS: Final = ("/health", "/metrics", "/schema")
_EXEMPT_PREFIXES: Final = tuple(f"{path}/" for path in EXEMPT_PATHS)
_AUTH_PREFIX: Final = "/api/v1/auth/"
_READ_METHODS: Final = frozenset({"GET", "HEAD"})

# How long to stop asking an unreachable store before trying again: during an outage each request
# would otherwise wait for a connect timeout first.
_STORE_PAUSE_SECONDS: Final = 1.0
# Redis answers in well under a millisecond on a healthy network; waiting longer only delays
# requests that fail open anyway.
_REDIS_TIMEOUT_SECONDS: Final = 0.5

logger = logging.getLogger("airline_runtime.http.ratelimit")

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Header = tuple[bytes, bytes]


# -- client address ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[_Network, ...]:
    """Parse the trusted proxies once (settings already checked each one)."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


@functools.lru_cache(maxsize=4096)
def _parse_address(text: str) -> _Address | None:
    """An address as proxies write it (``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``,
    ``[2001:db8::1]:443``), IPv4-mapped IPv6 unwrapped; ``None`` for anything else.

    Remembered: the same few peers (a proxy, keep-alive clients) send request after request,
    and parsing costs more than the rest of a rate-limit decision."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _canonical(text: str) -> str:
    """A peer address in canonical form (the text itself when it is no address)."""
    address = _parse_address(text)
    return text if address is None else str(address)


def _is_trusted(address: _Address, networks: tuple[_Network, ...]) -> bool:
    return any(address in network for network in networks)


def _forwarded_for(headers: Iterable[_Header]) -> list[str]:
    """Every ``X-Forwarded-For`` hop, left to right; repeated headers join in order, as
    RFC 9110 says repeated list headers do."""
    values = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
    return ",".join(values).split(",") if values else []


def _client_address(scope: HTTPScope | Scope, networks: tuple[_Network, ...]) -> str:
    client = scope.get("client")
    if not client:
        # No peer at all (a Unix socket, say): every such request shares one budget.
        return "unknown"
    if not networks:
        return _canonical(client[0])
    peer = _parse_address(client[0])
    if peer is None:
        return client[0]
    if not _is_trusted(peer, networks):
        return str(peer)
    # Each trusted proxy appends the address it got the request from, so the rightmost hop that
    # is not one of ours is the client; anything left of it was written by the client itself.
    last_trusted = peer
    for hop_text in reversed(_forwarded_for(scope["headers"])):
        hop = _parse_address(hop_text)
        if hop is None:
            break
        if not _is_trusted(hop, networks):
            return str(hop)
        last_trusted = hop
    return str(last_trusted)


def client_address(scope: HTTPScope | Scope, trusted_proxies: Sequence[str]) -> str:
    """The address of the client that sent a request, in canonical form.

    The peer (``scope["client"]``) is the answer unless it lies in one of ``trusted_proxies``
    (addresses or networks, IPv4 or IPv6). Only then is ``X-Forwarded-For`` read, from the
    right: trusted hops are skipped and the first untrusted one is the client. A malformed hop
    ends the walk at the last trusted one, so garbage cannot pick the key a client counts
    under. When the peer is not trusted the header is ignored whatever it says.

    Only ``X-Forwarded-For`` is read, not RFC 7239 ``Forwarded``: a proxy that writes one of them
    usually passes the other through untouched, so reading both would let a client forge
    whichever the proxy leaves alone, and without a setting naming the proxy's header the safe
    choice is the one nginx, HAProxy and the common ingresses write by default.
    """
    return _client_address(scope, _trusted_networks(tuple(trusted_proxies)))


# -- groups, decisions ------------------------------------------------------------------------


# What a path means to the limiter (path_kind).
LIMITED: Final = 0
AUTH_PATH: Final = 1
EXEMPT: Final = 2


@functools.lru_cache(maxsize=4096)
def path_kind(path: str) -> int:
    """:data:`EXEMPT`, :data:`AUTH_PATH` or neither (:data:`LIMITED`). Remembered (the least
    recently used of 4,096 paths forgotten first): the prefix checks cost several times a
    lookup of a path whose hash the request has computed already."""
    if path in EXEMPT_PATHS or path.startswith(_EXEMPT_PREFIXES):
        return EXEMPT
    return AUTH_PATH if path.startswith(_AUTH_PREFIX) else LIMITED


def route_group(method: str, path: str) -> RouteGroup | None:
    """The group whose limit a request counts against, or ``None`` for an exempt path."""
    kind = path_kind(path)
    if kind == EXEMPT:
        return None
    if method == "POST" and kind == AUTH_PATH:
        return "auth"
    return "read" if method in _READ_METHODS else "write"


#: Forgiven before rounding the seconds left up: a window just opened ends ``now + 60`` and,
#: on a clock that has run for a while, ``(now + 60) - now`` comes out a hair above 60 in
#: floating point, which would announce 61 seconds.
_ROUNDING_SLACK: Final = 1e-6


def _reset_after(seconds_left: float) -> int:
    """Whole seconds until a window resets, at least 1 (a ``Retry-After`` of 0 invites a
    spin)."""
    return math.ceil(seconds_left - _ROUNDING_SLACK) if seconds_left > 1 else 1


class _Policy:
    """One limit of a route group, with everything counting and answering against it needs,
    made once: its name in the ``RateLimit`` fields, the prefix of its counters' keys, its window
    in seconds, and its two header values (the ``RateLimit`` one as a format)."""

    __slots__ = ("amount", "field", "item", "name", "policy", "prefix", "seconds")

    def __init__(self, group: RouteGroup, item: RateLimitItem, *, alone: bool) -> None:
        self.item = item
        self.amount: int = item.amount
        self.seconds: int = item.get_expiry()
        # A group of several limits (10/minute;100/hour) names each by its window.
        self.name = group if alone else f"{group}-{self.seconds}s"
        self.prefix = f"{group}/{item}/"
        quoted = f'"{self.name}"'.encode()
        self.field = quoted + b";r=%d;t=%d"
        self.policy = quoted + b";q=%d;w=%d" % (item.amount, self.seconds)

    def __repr__(self) -> str:
        return f"<policy {self.name}: {self.item}>"


def _policies(group: RouteGroup, items: Sequence[RateLimitItem]) -> tuple[_Policy, ...]:
    return tuple(_Policy(group, item, alone=len(items) == 1) for item in items)


class RateLimitDecision:
    """What one request's count found: allowed or not, under which limit, and what is left.

    With several limits for a group (``10/minute;100/hour``) it describes the binding one: the
    exceeded limit that frees up last, else the one with the fewest requests left.

    A plain slotted class, built once per request on the gateway's path (an attrs class costs
    two to three times as much to build); nothing changes a decision once it is made.
    """

    __slots__ = ("allowed", "policy", "remaining", "reset_after")

    def __init__(self, allowed: bool, policy: _Policy, remaining: int, reset_after: int):
        self.allowed = allowed
        self.policy = policy
        self.remaining = remaining
        #: Whole seconds until the window resets, at least 1 (a ``Retry-After`` of 0 invites a
        #: spin).
        self.reset_after = reset_after

    def __repr__(self) -> str:
        return (
            f"RateLimitDecision(allowed={self.allowed}, limit={self.limit}, "
            f"remaining={self.remaining}, reset_after={self.reset_after})"
        )

    @property
    def limit(self) -> RateLimitItem:
        """The binding limit."""
        return self.policy.item

    @classmethod
    def of(cls, policy: _Policy, count: int, seconds_left: float) -> RateLimitDecision:
        """The decision for the ``count``-th hit of a window with ``seconds_left`` to run."""
        amount = policy.item.amount
        return cls(
            count <= amount,
            policy,
            amount - count if count < amount else 0,
            _reset_after(seconds_left),
        )

    def header(self) -> _Header:
        """The ``RateLimit`` field: ``"<policy>";r=<requests left>;t=<seconds to reset>``."""
        return (b"ratelimit", self.policy.field % (self.remaining, self.reset_after))

    def refusal_headers(self) -> list[_Header]:
        """A 429's: ``Retry-After``, ``RateLimit`` and ``RateLimit-Policy``
        (``"<policy>";q=<quota>;w=<window in seconds>``)."""
        return [
            (b"retry-after", b"%d" % self.reset_after),
            self.header(),
            (b"ratelimit-policy", self.policy.policy),
        ]

    @property
    def detail(self) -> str:
        return f"too many requests: {self.limit}; retry in {self.reset_after} s"


def _admitted(decision: RateLimitDecision, headers: list[_Header]) -> RateLimitDecision | None:
    """``None`` for an allowed decision, its header appended to ``headers``; else the decision."""
    if decision.allowed:
        headers.append(decision.header())
        return None
    return decision


def _tightest(decisions: Iterable[RateLimitDecision]) -> RateLimitDecision:
    """The binding decision among a group's limits (``parse_many`` never gives none)."""
    return functools.reduce(_binding, decisions)


def _binding(first: RateLimitDecision, second: RateLimitDecision) -> RateLimitDecision:
    if first.allowed != second.allowed:
        return second if first.allowed else first
    if not first.allowed:
        return first if first.reset_after >= second.reset_after else second
    return first if first.remaining <= second.remaining else second


class _CountingFixedWindow(FixedWindowRateLimiter):
    """The fixed window strategy, answering the count rather than a bare yes or no.

    The strategy's ``hit()`` is ``storage.incr(key) <= amount``; the count itself gives the
    requests left (``r=`` of the ``RateLimit`` field) without the extra read
    ``get_window_stats()`` would cost.
    """

    async def count(self, item: RateLimitItem, *identifiers: str) -> int:
        return await self.storage.incr(item.key_for(*identifiers), item.get_expiry())


class _MemoryWindows:
    """One limit's fixed windows in this process's memory, for the embedded default.

    Two dicts, users' and addresses', of id -> [window end, count]: counting is a lookup and an
    addition, with nothing to await, which makes it atomic on the event loop and keeps it under
    a microsecond (the ``limits`` memory store, built for threads and async storages alike, cost
    tens). A key is a string the process already holds (a user id, an address), its hash
    cached, where a joined key would be made and hashed on every request. Expired windows are
    swept at most once a minute, when a new window opens. Times are on the monotonic clock of
    :func:`time.perf_counter`.
    """

    __slots__ = ("addresses", "next_sweep", "policy", "users")

    def __init__(self, policy: _Policy) -> None:
        self.policy = policy
        self.users: dict[str, list[float]] = {}
        self.addresses: dict[str, list[float]] = {}
        self.next_sweep = 0.0

    def count(self, windows: dict[str, list[float]], key: str, now: float) -> tuple[int, float]:
        """Count one hit of ``key`` (in :attr:`users` or :attr:`addresses`); the count so far
        in its window and the seconds the window has left."""
        window = windows.get(key)
        if window is None or window[0] <= now:
            window = self.open(windows, key, now)
        window[1] += 1
        return int(window[1]), window[0] - now

    def open(self, windows: dict[str, list[float]], key: str, now: float) -> list[float]:
        """A new window for ``key``, from ``now`` (sweeping the expired ones when due)."""
        if now >= self.next_sweep:
            for expired in [key for key, window in windows.items() if window[0] <= now]:
                del windows[expired]
            other = self.addresses if windows is self.users else self.users
            for expired in [key for key, window in other.items() if window[0] <= now]:
                del other[expired]
            self.next_sweep = now + 60
        window = windows[key] = [now + self.policy.seconds, 0]
        return window


def _limits_uri(redis_url: str) -> str:
    """``redis://``, ``rediss://`` and ``unix://`` as :class:`limits` names them."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


# -- the limiter ------------------------------------------------------------------------------


class RateLimiter:
    """Counts requests per route group and key in a shared store; opened by the app's lifespan.

    Strategy: **fixed window** (:class:`limits.aio.strategies.FixedWindowRateLimiter`). On Redis a
    count is one Lua script (``INCRBY``, and ``EXPIRE`` on the first hit) run atomically by the
    server, so however many workers and hosts share it, exactly ``limit`` requests pass per
    window; a counter is one small key. The sliding window counter smooths the boundary but
    estimates from the previous window, so the number allowed is not exact; the moving window
    is exact but keeps one timestamp per request (600 a minute per reader by default). The
    price of the fixed window is a burst of up to twice the limit across a window boundary,
    fair enough for abuse protection. Windows start at a key's first hit, not on the clock, so
    clients do not all reset at once.

    Store failures **fail open**: when Redis cannot be reached the request goes through
    unlimited, a warning is logged once per outage (and a line when it is back), and the store
    is left alone for a second before it is tried again, so an outage costs neither
    availability nor a timeout on every request. Rate limiting protects the service; a limiter
    that takes the API down with Redis would cause the outage it is there to prevent.

    The memory store (no ``AIRLINE_REDIS_URL``) counts per process: right for the embedded
    default, while ``--workers N`` on it gives each worker its own budget.
    """

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit
        self._redis_url = settings.redis_url
        self._redis_prefix = settings.redis_prefix
        limits = settings.rate_limits
        self._policies: dict[RouteGroup, tuple[_Policy, ...]] = {
            "auth": _policies("auth", parse_many(limits.auth)),
            "read": _policies("read", parse_many(limits.read)),
            "write": _policies("write", parse_many(limits.write)),
        }
        self._networks = _trusted_networks(tuple(settings.trusted_proxies))
        self._storage: Storage | None = None
        self._strategy: _CountingFixedWindow | None = None
        #: The memory store: each group's limits, counted in this process (None until opened,
        #: and on Redis).
        self._windows: dict[RouteGroup, tuple[_MemoryWindows, ...]] | None = None
        self._pool: ConnectionPool | None = None
        self._store_failing = False
        self._paused_until = 0.0

    @property
    def store(self) -> Literal["memory", "redis"]:
        return "redis" if self._redis_url else "memory"

    async def open(self) -> None:
        """Make the store. Nothing connects yet: an unreachable Redis is logged, not raised,
        so the API starts (and fails open) without it."""
        if self._strategy is not None or self._windows is not None or not self.enabled:
            return
        if not self._redis_url:
            self._windows = {
                group: tuple(_MemoryWindows(policy) for policy in policies)
                for group, policies in self._policies.items()
            }
            return
        storage: Storage = self._open_redis()
        self._storage = storage
        self._strategy = _CountingFixedWindow(storage)
        if not await storage.check():
            logger.warning(
                "rate-limit store %s unreachable at start-up; requests go through unlimited "
                "until it answers",
                self._redis_url.rpartition("@")[2],
            )

    def _open_redis(self) -> RedisStorage:
        from redis.asyncio import ConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # Our own pool: short timeouts and a single immediate retry (a pooled connection may be
        # stale after a Redis restart), where the client's default retries with backoff for
        # seconds; and the lifespan can close it.
        self._pool = ConnectionPool.from_url(
            self._redis_url,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
        )
        return RedisStorage(
            _limits_uri(self._redis_url),
            implementation="redispy",
            key_prefix=self._redis_prefix,
            wrap_exceptions=True,
            # limits hands the options to redis.asyncio.Redis as they are; its hint names
            # only scalars.
            connection_pool=self._pool,  # type: ignore[arg-type]
        )

    async def close(self) -> None:
        pool = self._pool
        self._storage = self._strategy = self._pool = self._windows = None
        if pool is not None:
            await pool.aclose()

    async def ready(self) -> str | None:
        """For readiness probes: ``None`` on the memory store (nothing to reach), else whether
        Redis answers (``"ok"``).

        :raises Unavailable: Redis does not answer.
        """
        if self.store == "memory" or not self.enabled:
            return None
        if self._storage is None or not await self._storage.check():
            raise Unavailable("redis unreachable")
        return "ok"

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def key_for(self, scope: HTTPScope, group: RouteGroup) -> str:
        """``user:<id>`` for a signed-in request, else ``ip:<client address>``; always the
        address for the ``auth`` group (:meth:`admit_in_memory` repeats this inline)."""
        user = scope.get("user")
        if group != "auth" and isinstance(user, Principal):
            return f"user:{user.user_id}"
        return f"ip:{_client_address(scope, self._networks)}"

    @property
    def counts_in_memory(self) -> bool:
        """Whether :meth:`admit_in_memory` answers (the memory store, opened, limits on)."""
        return self._windows is not None

    def admit_in_memory(self, scope: HTTPScope, headers: list[_Header]) -> RateLimitDecision | None:
        """:meth:`admit` on the memory store, without a coroutine: nothing there is awaited.
        Only when :attr:`counts_in_memory`."""
        kind = path_kind(scope["path"])
        if kind == EXEMPT:
            return None
        return self.count_in_memory(scope, kind, perf_counter(), headers)

    def count_in_memory(
        self, scope: HTTPScope, kind: int, now: float, headers: list[_Header]
    ) -> RateLimitDecision | None:
        """Count a request to a limited path (``kind``, from :func:`path_kind`) on the memory
        store: ``None`` when it may go on, its ``RateLimit`` header appended to ``headers``;
        else the refusal. ``now`` is the request's arrival on :func:`time.perf_counter`'s clock
        (the gateway reads it anyway): windows in memory run on that monotonic clock, which a
        change of the wall clock cannot stretch or cut short.

        The gateway calls this on every request; the usual case (one limit for the group, the
        request allowed) is written out in full: no decision is built for it, only its header.
        """
        groups = self._windows
        if groups is None:
            raise RuntimeError("the memory store is not open: check counts_in_memory first")
        method: str = scope["method"]
        if method == "POST" and kind == AUTH_PATH:
            limits = groups["auth"]
            by_user, key = False, _client_address(scope, self._networks)
        else:
            limits = groups["read" if method in _READ_METHODS else "write"]
            user = scope.get("user")
            if isinstance(user, Principal):
                by_user, key = True, user.user_id
            else:
                by_user, key = False, _client_address(scope, self._networks)
        if len(limits) == 1:
            [limit] = limits
            windows = limit.users if by_user else limit.addresses
            window = windows.get(key)
            if window is None or window[0] <= now:
                window = limit.open(windows, key, now)
            count = window[1] = window[1] + 1
            seconds_left = window[0] - now
            policy = limit.policy
            amount = policy.amount
            if count <= amount:
                # _reset_after(), written out
                reset_after = math.ceil(seconds_left - _ROUNDING_SLACK) if seconds_left > 1 else 1
                headers.append((b"ratelimit", policy.field % (amount - count, reset_after)))
                return None
            return RateLimitDecision.of(policy, int(count), seconds_left)
        return _admitted(
            _tightest(
                RateLimitDecision.of(
                    limit.policy,
                    *limit.count(limit.users if by_user else limit.addresses, key, now),
                )
                for limit in limits
            ),
            headers,
        )

    async def admit(self, scope: HTTPScope, headers: list[_Header]) -> RateLimitDecision | None:
        """Count one request: ``None`` when it may go on, with its ``RateLimit`` header
        appended to ``headers`` (none for a request that is not limited: limits off, an exempt
        path, or the store unreachable, which fails open); else the refusal.

        :raises RuntimeError: the limiter was not opened.
        """
        if not self.enabled:
            return None
        if self._windows is not None:
            return self.admit_in_memory(scope, headers)
        group = route_group(scope["method"], scope["path"])
        if group is None:
            return None
        strategy = self._strategy
        if strategy is None:
            raise RuntimeError("RateLimiter.open() was not called (the app's lifespan does it)")
        if self._paused_until and time.monotonic() < self._paused_until:
            return None
        try:
            decision = await self._count(strategy, group, self.key_for(scope, group))
        except (StorageError, OSError) as error:
            self._store_failed(error)
            return None
        if self._store_failing:
            self._store_failing = False
            self._paused_until = 0.0
            logger.warning("rate-limit store reachable again; limits apply")
        return _admitted(decision, headers)

    async def _count(
        self, strategy: _CountingFixedWindow, group: RouteGroup, key: str
    ) -> RateLimitDecision:
        decisions = []
        for policy in self._policies[group]:
            item = policy.item
            count = await strategy.count(item, group, key)
            if count == 1:
                seconds_left: float = item.get_expiry()  # this hit opened the window
            else:
                reset_at = await strategy.storage.get_expiry(item.key_for(group, key))
                seconds_left = reset_at - time.time()
            decisions.append(RateLimitDecision.of(policy, count, seconds_left))
        return _tightest(decisions)

    def _store_failed(self, error: Exception) -> None:
        self._paused_until = time.monotonic() + _STORE_PAUSE_SECONDS
        if not self._store_failing:
            self._store_failing = True
            logger.warning(
                "rate-limit store failed (%s: %s); requests go through unlimited until it answers",
                type(error).__name__,
                error,
            )


# -- the middleware ---------------------------------------------------------------------------


class RateLimitMiddleware:
    """Pure ASGI: one count per request, headers added to the answer's start message, and a 429
    problem answered here without reaching the app. No Litestar ``Request`` on the hot path.

    Place it after the authentication middleware, which leaves the principal in
    ``scope["user"]``.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, cors: CORSConfig | None = None) -> None:
        """:param cors: the app's CORS policy: this middleware answers 429s before Litestar's
        CORS layer sees them, so it adds the CORS headers itself (a browser must be able to
        read the answer and its Retry-After)."""
        self.app = app
        self.limiter = limiter
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        extra: list[_Header] = []
        refusal = await self.limiter.admit(scope, extra)
        if refusal is not None:
            await refuse(scope, send, refusal, self.cors)
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_limits)


def _cors_headers(scope: HTTPScope, cors: CORSConfig | None) -> list[_Header]:
    if cors is None:
        return []
    origin = next((value for name, value in scope["headers"] if name == b"origin"), None)
    if origin is None or not cors.is_origin_allowed(origin.decode("latin-1")):
        return []
    allowed = b"*" if cors.is_allow_all_origins else origin
    headers = [(b"access-control-allow-origin", allowed), (b"vary", b"Origin")]
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in cors.simple_headers.items()
    )
    return headers


async def refuse(
    scope: HTTPScope, send: Send, decision: RateLimitDecision, cors: CORSConfig | None
) -> None:
    """Answer the 429 problem of a refused request, with ``Retry-After``, ``RateLimit`` and
    ``RateLimit-Policy`` and, for an origin ``cors`` allows, the CORS headers a browser needs to
    read it."""
    await send_problem(
        scope,
        send,
        status=429,
        slug="rate-limited",
        title="Too many requests",
        detail=decision.detail,
        headers=[*decision.refusal_headers(), *_cors_headers(scope, cors)],
    )


def rate_limit_middleware(
    limiter: RateLimiter, cors: CORSConfig | None = None
) -> Callable[[ASGIApp], ASGIApp]:
    """Wraps an ASGI app in the limiter alone, for apps that do not use the whole gateway
    (:class:`airline_runtime.http.gateway.Gateway` counts with the limiter itself): it fits
    ``Litestar(middleware=[..., rate_limit_middleware(limiter)])``.

    With limits off (``AIRLINE_RATE_LIMIT=off``) it returns the app itself: not even a wrapper
    on the path. Litestar calls it as ``factory(app=...)``, hence the parameter's name.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        return RateLimitMiddleware(app, limiter, cors) if limiter.enabled else app

    return wrap
