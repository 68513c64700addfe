"""The gateway: one ASGI middleware doing every per-request duty of the API's edge.

In order, for each HTTP request:

1. **request id**: the request's ``X-Request-ID`` when it is sane, else a new one; bound for
   every log line the request causes, and sent back on the answer;
2. **security headers** on the answer (:class:`~airline_runtime.http.hardening.SecurityHeaders`);
3. **authentication**: ``Authorization: Bearer <token>`` verified once, the
   :class:`~airline_core.identity.model.Principal` (or ``None``) left in ``scope["user"]`` for
   guards and handlers; a bad token answers 401, even on a public route;
4. **rate limit** per user, else per client IP
   (:class:`~airline_runtime.http.ratelimit.RateLimiter`): the ``RateLimit`` header on the
   answer, 429 past the limit;
5. the app (Litestar: routing, CORS, guards, the routes);
6. afterwards, one **access line** and the **metrics** of the request.

Why one middleware and not four: on a cheap request the edge's work is a few microseconds
per duty, and a layer of its own for each costs as much again (a coroutine frame per layer and
request, a ``send`` wrapper per layer and message, the header list copied per layer). Fused,
the request headers are scanned once, the answer's headers are extended once, and one ``send``
wrapper serves every duty (see ``docs/benchmarks.md`` for the figures).

It wraps Litestar's whole ASGI handler (``app.asgi_handler = gateway(...)``) rather than sitting
in ``Litestar(middleware=...)``: Litestar runs that list only for matched routes, and 404s,
405s and CORS preflights must get a request id, the security headers and an access line too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from random import getrandbits
from time import perf_counter
from typing import Final

import structlog
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import FilteringBoundLogger

from airline_core.errors import NotAuthenticated
from airline_core.identity.model import Principal
from airline_runtime.http.hardening import (
    REMEMBERED_PATHS,
    HeaderSet,
    SecurityHeaders,
    docs_sender,
    merged_headers,
)
from airline_runtime.http.journal import RequestJournal
from airline_runtime.http.observability import (
    UNMATCHED_ROUTE,
    Answered,
    HttpMetrics,
    answer_internal_error,
    sane_request_id,
)
from airline_runtime.http.problems import send_problem
from airline_runtime.http.ratelimit import EXEMPT, RateLimiter, path_kind, refuse
from airline_runtime.logs import ACCESS_FLUSH_LINES
from airline_runtime.logs import request_id as request_id_variable

__all__ = ["Authenticator", "Gateway", "gateway"]

#: Turns a bearer token into a principal.
#: :raises NotAuthenticated: the token is not valid.
Authenticator = Callable[[str], Principal]

_Header = tuple[bytes, bytes]
_BEARER: Final = b"bearer "
_BEARER_AS_SENT: Final = b"Bearer "
_AUTHORIZATION: Final = b"authorization"
_REQUEST_ID: Final = b"x-request-id"
_NO_HEADERS: Final = HeaderSet(())
#: What a path means to the gateway: its security headers (``None`` under the docs prefix)
#: and its kind to the rate limiter (:func:`~airline_runtime.http.ratelimit.path_kind`).
_PathFacts = tuple[HeaderSet | None, int]
# Read once: an enum member's lookup costs more than the comparison it serves.
_HTTP: Final = ScopeType.HTTP


class Gateway:
    """The gateway duties around an ASGI app; see the module's documentation.

    :param metrics: where to count requests; ``None`` counts nothing.
    :param limiter: the rate limiter; ``None`` (or a limiter with limits off) limits nothing.
    :param authenticate: verifies bearer tokens (``airline.accounts.authenticate``); the app
        factory sets it when its lifespan has opened the airline. ``None`` leaves
        ``scope["user"]`` to the app (tests that stand a fake identity in).
    :param cors: the app's CORS policy, for the 429s answered here before Litestar's CORS layer
        could add its headers.
    :param security: the security headers policy.
    :param logger: the logger of failed requests (the traceback of an exception that escaped
        the app); by default structlog's ``airline.access``, bound when the gateway is built.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics | None = None,
        limiter: RateLimiter | None = None,
        authenticate: Authenticator | None = None,
        cors: CORSConfig | None = None,
        security: SecurityHeaders | None = None,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.limiter = limiter if limiter is not None and limiter.enabled else None
        self.authenticate = authenticate
        self.cors = cors
        self.security = security or SecurityHeaders()
        self.log: FilteringBoundLogger = (
            logger if logger is not None else structlog.get_logger().bind(logger="airline.access")
        )
        #: Each answered request waits here for its batch's metrics and access lines.
        self.journal = RequestJournal(metrics)
        self._pending = self.journal.pending  # RequestJournal.add(), inline
        self._paths: dict[str, _PathFacts] = {}

    def _learn(self, path: str) -> _PathFacts:
        """What ``path`` means to the security headers and the rate limiter, remembered (a
        dict lookup of a path whose hash the request has computed already; up to
        :data:`REMEMBERED_PATHS`, then forgotten all at once: a scan of random paths costs a
        refill, nothing more)."""
        paths = self._paths
        if len(paths) >= REMEMBERED_PATHS:
            paths.clear()
        facts = paths[path] = (self.security.for_path(path), path_kind(path))
        return facts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: PLR0912, PLR0915 - one flat path is the point: see the module's documentation
        if scope["type"] != _HTTP:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        # Read now: Litestar rewrites scope["path"] for mounted apps while routing.
        method: str = scope["method"]
        path: str = scope["path"]

        request_id: str | None = None
        authorization: bytes | None = None
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                authorization = value
            elif name == _REQUEST_ID and request_id is None:
                request_id = sane_request_id(value)
        if request_id is None:
            request_id = getrandbits(128).to_bytes(16).hex()  # new_request_id(), inline

        # Ours alone (appended as they are): the request id, then the rate-limit headers.
        ours: list[_Header] = [(_REQUEST_ID, request_id.encode("ascii"))]
        facts = self._paths.get(path)
        if facts is None:
            facts = self._learn(path)
        # A route may set one of these itself (its own Cache-Control, say): it keeps its own.
        security, kind = facts
        if security is None:  # an HTML page of the docs: its policy is made from the page
            send = docs_sender(send, self.security)
            security = _NO_HEADERS
        status: int | None = None  # until the answer begins

        # A plain function handing on the server's own awaitable: an ``async def`` wrapper
        # would add a coroutine of its own to each message.
        def send_with_headers(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                # ASGI answers name their headers in lower case. An answer has a few headers,
                # so a plain loop beats building a set of their names.
                names = security.names
                for name, _ in headers:
                    if name in names:
                        message["headers"] = [*merged_headers(headers, security.headers), *ours]
                        break
                else:
                    message["headers"] = [*headers, *security.headers, *ours]
            return send(message)

        token = request_id_variable.set(request_id)
        metrics = self.metrics
        if metrics is not None:
            metrics.active += 1  # metrics.started(), inline
        failure: Exception | None = None
        try:
            scope["user"] = None
            if authorization is not None and self.authenticate is not None:
                # The scheme is case-insensitive; nearly every client writes it like this.
                if not authorization.startswith(_BEARER_AS_SENT) and (
                    authorization[:7].lower() != _BEARER
                ):
                    await _unauthorized(
                        scope,
                        send_with_headers,
                        "use the Bearer scheme: Authorization: Bearer <token>",
                    )
                    return
                try:
                    scope["user"] = self.authenticate(authorization[7:].decode())
                except (NotAuthenticated, UnicodeDecodeError):
                    await _unauthorized(scope, send_with_headers, "the access token is not valid")
                    return
            limiter = self.limiter
            if limiter is not None and kind != EXEMPT:
                refusal = (
                    limiter.count_in_memory(scope, kind, started, ours)
                    if limiter.counts_in_memory
                    else await limiter.admit(scope, ours)
                )
                if refusal is not None:
                    await refuse(scope, send_with_headers, refusal, self.cors)
                    return
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            failure = error
            if status is not None:
                # The answer had begun: the server must learn it is cut short and drop the
                # connection (the finally block still logs it).
                raise
            await answer_internal_error(send_with_headers)
        finally:
            ended = perf_counter()
            if metrics is not None:
                metrics.active -= 1
            record = (
                request_id,
                method,
                path,
                scope.get("path_template") or UNMATCHED_ROUTE,
                status or 500,
                ended - started,
                scope.get("user"),
                scope.get("client"),
                ended,
            )
            if failure is None:
                pending = self._pending
                pending.append(record)
                if len(pending) == 1 or len(pending) >= ACCESS_FLUSH_LINES:
                    self.journal.due()
            else:
                self._failed(record, failure)
            request_id_variable.reset(token)

    def _failed(self, record: Answered, failure: Exception) -> None:
        """A request whose app raised: counted at once, and logged with its traceback."""
        journal = self.journal
        journal.flush()  # the lines of earlier requests go first
        if journal.metrics is not None:
            journal.metrics.record_answered([record])
        user, client = record[6], record[7]
        self.log.error(
            "request",
            exc_info=failure,
            request_id=record[0],
            method=record[1],
            path=record[2],
            route=record[3],
            status=record[4],
            duration_ms=int(record[5] * 1_000_000) / 1000,
            user_id=user.user_id if isinstance(user, Principal) else None,
            client=client[0] if client else None,
        )


async def _unauthorized(scope: Scope, send: Send, detail: str) -> None:
    await send_problem(
        scope,
        send,
        status=401,
        slug="unauthorized",
        title="Authentication required",
        detail=detail,
        headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
    )


def gateway(
    handler: ASGIApp,
    metrics: HttpMetrics | None = None,
    *,
    limiter: RateLimiter | None = None,
    cors: CORSConfig | None = None,
    authenticate: Authenticator | None = None,
) -> Gateway:
    """Wrap an ASGI handler (Litestar's ``app.asgi_handler``) in the :class:`Gateway`."""
    return Gateway(handler, metrics=metrics, limiter=limiter, cors=cors, authenticate=authenticate)
