"""Request ids, access logs and Prometheus metrics for every HTTP request.

One pure ASGI middleware, :class:`RequestContextMiddleware`, does all three. One wrapper costs
one timer, one ``send`` wrapper and one look at the scope, where three would each pay for their
own; and only this layer sees the status, the matched route and the authenticated user together.

It wraps Litestar's whole ASGI handler (``app.asgi_handler = RequestContextMiddleware(...)``,
as Litestar's own OpenTelemetry plugin does) rather than sitting in ``Litestar(middleware=...)``:
Litestar runs that list only after a route matched, so 404s, 405s and CORS preflights would
leave without a request id, a log line or a count.

Metrics live in :class:`HttpMetrics`, one per app, on a registry of its own (so several apps in
one process, as in the tests, never collide on names). With several uvicorn workers each worker
is a separate process with separate counters: when ``PROMETHEUS_MULTIPROC_DIR`` is set (see
:func:`prepare_multiprocess_metrics`) every worker writes its values to files there, and a scrape
of any worker reads and adds up all of them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from random import getrandbits
from time import perf_counter
from typing import Any, Final

import anyio
import structlog
from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    values,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from structlog.typing import FilteringBoundLogger

from airline_core.identity.model import Principal
from airline_runtime import logs

__all__ = [
    "LAG_BUCKETS",
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "REQUEST_ID_HEADER",
    "UNMATCHED_ROUTE",
    "HttpMetrics",
    "RequestContextMiddleware",
    "metrics_handler",
    "prepare_multiprocess_metrics",
    "probe_loop_lag",
]

REQUEST_ID_HEADER: Final = "X-Request-ID"
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
#: The route label of requests no route matched (404, 405): their raw paths are unbounded.
UNMATCHED_ROUTE: Final = "unmatched"
#: Seconds. An API answers in milliseconds; the tail up to 10 s shows timeouts and stuck locks.
LATENCY_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)

_HEADER_NAME = b"x-request-id"
# An id from a client or a proxy is echoed into logs and headers: only a short, plain token is
# trusted, so it can neither forge log fields nor split a header.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Any other method (a client may send "FOO") is counted as OTHER, keeping label sets bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_INTERNAL_ERROR_BODY = (
    b'{"type":"urn:airline:problem:internal","title":"Internal server error","status":500,'
    b'"detail":"The server failed to answer this request; it has been logged."}'
)


class HttpMetrics:
    """The HTTP metrics of one app, and their exposition.

    ``airline_http_requests_total{method,route,status}`` counts answers;
    ``airline_http_request_duration_seconds{method,route}`` times them (status is left out of
    the histogram: it would multiply its 14 series per route for little gain);
    ``airline_http_errors_total{method,route}`` counts 5xx answers. It could be derived from
    ``requests_total{status=~"5.."}``, but a counter of its own makes the error-rate alert a
    plain ratio and stays present (at 0) once a route has been seen, so the ratio has no gaps;
    ``airline_http_requests_in_progress`` (``livesum`` across workers) shows saturation.

    Label children are cached per (method, route, status): ``labels()`` takes a lock and builds
    a key on every call, the cache a dict lookup.
    """

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        """:param multiprocess_dir: the shared directory of several worker processes; by
        default ``$PROMETHEUS_MULTIPROC_DIR`` when set, else single-process mode."""
        self.multiprocess_dir = multiprocess_dir or os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            namespace="airline",
            registry=self.registry,
        )
        self._duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by method and route.",
            ("method", "route"),
            namespace="airline",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "http_errors",
            "HTTP requests answered with a 5xx status, by method and route template.",
            ("method", "route"),
            namespace="airline",
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "HTTP requests being answered now.",
            namespace="airline",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.loop_lag = Histogram(
            "event_loop_lag_seconds",
            "How late a periodic timer fired on the event loop: anything that blocks the loop "
            "(CPU work, a synchronous call) shows here before it shows in latencies.",
            namespace="airline",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        if self.multiprocess_dir is None:
            # Per-process figures; in multiprocess mode they would describe whichever worker
            # happened to answer the scrape, so they are left out there.
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request. ``route`` must be a template, never a raw path."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._children(key)
        series[0].inc()
        series[1].observe(seconds)
        if series[2] is not None:
            series[2].inc()

    def _children(self, key: tuple[str, str, int]) -> tuple[Any, Any, Any]:
        method, route, status = key
        if method not in _METHODS:
            method = "OTHER"
        errors = self._errors.labels(method, route)
        series = (
            self._requests.labels(method, route, str(status)),
            self._duration.labels(method, route),
            errors if status >= 500 else None,
        )
        self._series[key] = series
        return series

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics as text in the format ``accept`` asks for (Prometheus text by default,
        OpenMetrics when asked), with its content type. In multiprocess mode, summed over every
        worker's files (read afresh at each scrape, as prometheus_client requires)."""
        registry = self.registry
        if self.multiprocess_dir is not None:
            registry = CollectorRegistry()
            # prometheus_client leaves this constructor unannotated.
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


#: Event-loop lag buckets: a healthy loop answers a timer within a millisecond or two.
LAG_BUCKETS: Final = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: How often the lag probe wakes up.
LAG_PROBE_INTERVAL: Final = 0.05


async def probe_loop_lag(metrics: HttpMetrics, interval: float = LAG_PROBE_INTERVAL) -> None:
    """Run until cancelled: sleep ``interval`` and record how much later than that it woke."""
    while True:
        started = perf_counter()
        await anyio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, perf_counter() - started - interval))


def prepare_multiprocess_metrics(directory: Path) -> None:
    """Make ``directory`` the shared, empty metrics directory of the worker processes to come.

    Call it in the parent before the workers start: it empties the directory (values of an
    earlier run would otherwise be added to this one's) and sets ``PROMETHEUS_MULTIPROC_DIR``,
    which the workers inherit. prometheus_client reads that variable when it is imported, so it
    is re-read here too for this process, in case it imported the library already.
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call] # unannotated


def metrics_handler(metrics: HttpMetrics, path: str = "/metrics") -> HTTPRouteHandler:
    """``GET /metrics`` for Prometheus, left out of the OpenAPI document.

    Sync and run in a thread: in multiprocess mode a scrape reads every worker's files.
    """

    @get(path, include_in_schema=False, sync_to_thread=True, name="metrics")
    def scrape(request: Request[Any, Any, Any]) -> Response[bytes]:
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return scrape


class RequestContextMiddleware:
    """Give every HTTP request an id, then log it and count it once it is answered.

    The id is the request's ``X-Request-ID`` when that is 1..128 characters of
    ``[A-Za-z0-9._:-]`` (so a proxy's or a client's id follows the request), else a new one. It is
    bound in :mod:`structlog.contextvars` for the whole request, so every log line the request
    causes carries it, and it is added to the answer whatever its status.

    After the answer, one ``request`` event is logged with the id, method, path, matched route
    template, status, duration and the user (``scope["user"]``, left there by the authentication
    middleware, which runs inside this one). If the inner app raises before answering, this
    middleware answers a bare 500 problem itself, still with the id.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics | None = None,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        """:param metrics: where to count requests; ``None`` counts nothing.
        :param logger: the access logger; by default structlog's ``airline.access``, bound now
            (after :func:`airline_runtime.logs.configure_logging`) so each request skips the
            lazy proxy."""
        self.app = app
        self.metrics = metrics
        self.log: FilteringBoundLogger = (
            logger if logger is not None else structlog.get_logger().bind(logger="airline.access")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = _request_id(scope["headers"])
        id_header = (_HEADER_NAME, request_id.encode("ascii"))
        # Read now: Litestar rewrites scope["path"] for mounted apps while routing.
        method = scope["method"]
        path = scope["path"]
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token = logs.request_id.set(request_id)
        metrics = self.metrics
        if metrics is not None:
            metrics.in_progress.inc()
        failure: Exception | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            failure = error
            if answered:
                # The answer had begun: the server must learn it is cut short and drop the
                # connection (the finally block still logs it).
                raise
            await _answer_internal_error(send_with_id)
        finally:
            seconds = perf_counter() - started
            route = scope.get("path_template") or UNMATCHED_ROUTE
            user = scope.get("user")
            client = scope.get("client")
            if metrics is not None:
                metrics.in_progress.dec()
                metrics.record(method, route, status, seconds)
            fields = {
                "request_id": request_id,
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "user_id": user.user_id if isinstance(user, Principal) else None,
                "client": client[0] if client else None,
            }
            if failure is None:
                logs.write_access(fields)
            else:
                self.log.error("request", exc_info=failure, **fields)
            logs.request_id.reset(token)


def _request_id(headers: Any) -> str:
    for name, value in headers:
        if name == _HEADER_NAME:
            if _SANE_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    # 128 random bits, as unique as a uuid4 but a fraction of its cost (no system call); not a
    # secret, so the non-cryptographic generator is fine (random reseeds itself after a fork).
    return f"{getrandbits(128):032x}"


async def _answer_internal_error(send: Send) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(_INTERNAL_ERROR_BODY)).encode()),
        ],
    }
    body: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": _INTERNAL_ERROR_BODY,
        "more_body": False,
    }
    try:
        await send(start)
        await send(body)
    except OSError:  # pragma: no cover - the client is gone; the log line still tells the story
        pass
