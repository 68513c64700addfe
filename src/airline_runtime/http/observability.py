"""Request ids and Prometheus metrics of the HTTP API.

The gateway (:mod:`airline_runtime.http.gateway`) gives every request an id
(:func:`sane_request_id`, :func:`new_request_id`) and counts it in :class:`HttpMetrics` once it
is answered; ``GET /metrics`` (:func:`metrics_handler`) exposes the counts.

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
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate
from pathlib import Path
from random import getrandbits
from time import perf_counter
from typing import Any, Final

import anyio
import msgspec
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Send,
)
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    Metric,
    PlatformCollector,
    ProcessCollector,
    values,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = [
    "LAG_BUCKETS",
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "REQUEST_ID_HEADER",
    "UNMATCHED_ROUTE",
    "Answered",
    "HttpMetrics",
    "answer_internal_error",
    "metrics_handler",
    "new_request_id",
    "prepare_multiprocess_metrics",
    "probe_loop_lag",
    "sane_request_id",
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

#: An answered request as the gateway records it for its batch
#: (:class:`~airline_runtime.http.journal.RequestJournal`): request id, method, path, route
#: template, status, seconds it took, ``scope["user"]``, ``scope["client"]``, and when it ended
#: on :func:`time.perf_counter`'s clock.
Answered = tuple[str, str, str, str, int, float, Any, Any, float]

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
    ``airline_http_requests_in_progress`` (``livesum`` across workers) shows saturation;
    ``airline_event_loop_lag_seconds`` comes from :func:`probe_loop_lag`.

    **Recording is the cheap half.** Counting a request through prometheus_client's metric
    objects costs four locked updates and as many method calls; on a cheap request that is a
    measurable share of the whole answer. So :meth:`record` only adds to a plain list per
    (method, route, status): the duration to a sum, one to a bucket count (the event loop's
    thread is the only writer, so nothing needs a lock). The three HTTP metrics are made from
    those lists when a scrape asks, by :class:`_HttpCollector`; the in-progress gauge is set
    from a plain count 20 times a second (:meth:`sample_in_progress`).

    **Several workers** (``PROMETHEUS_MULTIPROC_DIR`` set, see
    :func:`prepare_multiprocess_metrics`): the gauge and the lag histogram use
    prometheus_client's own multiprocess files; the HTTP series are written by each worker to a
    file of its own (``airline_http_<pid>.json``) four times a second and when it stops
    (:meth:`flush`), and a scrape of any worker adds up every worker's file. A scrape sees
    other workers' counts at most a quarter of a second late, which no scrape interval
    notices.
    """

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        """:param multiprocess_dir: the shared directory of several worker processes; by
        default ``$PROMETHEUS_MULTIPROC_DIR`` when set, else single-process mode."""
        self.multiprocess_dir = multiprocess_dir or os.environ.get(MULTIPROC_ENV) or None
        self._before_reading: list[Callable[[], None]] = []
        self.registry = CollectorRegistry(auto_describe=True)
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
        #: (method label, route, status) -> [sum of seconds, count per latency bucket..., +Inf].
        self._labelled: dict[tuple[str, str, int], list[float]] = {}
        #: The same lists by the request's own method, as :meth:`record` looks them up.
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._collector = _HttpCollector(self)
        self.registry.register(self._collector)
        #: Other registries shown on the same page (the relay's and worker's counters when they
        #: run in this process).
        self._included: list[_Included] = []
        #: Requests being answered in this process now.
        self.active = 0

    def started(self) -> None:
        """A request arrived (the in-progress gauge is set from this count by
        :meth:`sample_in_progress`, not on every request)."""
        self.active += 1

    def finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request that :meth:`started` was answered: count it (:meth:`record`, inline)."""
        self.active -= 1
        series = self._series.get((method, route, status))
        if series is None:
            series = self._new_series(method, route, status)
        series[0] += seconds
        series[1 + bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def record_answered(self, answered: Iterable[Answered]) -> None:
        """Count a batch of answered requests (the gateway's request journal does, once a
        batch is due; :meth:`read_after` makes sure none waits when the counts are read)."""
        series_of = self._series
        for _, method, _, route, status, seconds, _, _, _ in answered:
            series = series_of.get((method, route, status))
            if series is None:
                series = self._new_series(method, route, status)
            series[0] += seconds
            series[1 + bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def read_after(self, flush: Callable[[], None]) -> None:
        """Call ``flush`` before the counts are read (a scrape, a worker writing its file):
        what holds answered requests back for a batch counts them first."""
        self._before_reading.append(flush)

    def sample_in_progress(self) -> None:
        """Copy the count of requests being answered to the gauge (the lag probe does it 20
        times a second, and every scrape): a gauge update per request would cost two locked
        writes, and a scrape only ever sees one moment anyway."""
        self.in_progress.set(self.active)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request. ``route`` must be a template, never a raw path."""
        series = self._series.get((method, route, status))
        if series is None:
            series = self._new_series(method, route, status)
        series[0] += seconds
        # Bucket i counts durations <= LATENCY_BUCKETS[i]; the last one, the rest (+Inf).
        series[1 + bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def _new_series(self, method: str, route: str, status: int) -> list[float]:
        # Any other method (a client may send "FOO") counts as OTHER: label sets stay bounded.
        labels = (method if method in _METHODS else "OTHER", route, status)
        series = self._labelled.get(labels)
        if series is None:
            series = self._labelled[labels] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        self._series[method, route, status] = series
        return series

    def snapshot(self) -> list[tuple[str, str, int, list[float]]]:
        """This process's series as (method label, route, status, [sum, buckets...]), each
        read in one step (safe from the scrape's thread while the loop keeps counting)."""
        for flush in self._before_reading:
            flush()
        return [
            (method, route, status, list(series))
            for (method, route, status), series in list(self._labelled.items())
        ]

    def flush(self) -> None:
        """Multiprocess mode: write this worker's series to its file (atomically: a scrape
        never reads half a file). Does nothing in single-process mode."""
        if self.multiprocess_dir is None:
            return
        directory = Path(self.multiprocess_dir)
        target = directory / f"{_SERIES_FILE_PREFIX}{os.getpid()}.json"
        partial = target.with_suffix(".partial")
        partial.write_bytes(msgspec.json.encode(self.snapshot()))
        partial.replace(target)

    def _all_series(self) -> list[tuple[str, str, int, list[float]]]:
        """Every worker's series in multiprocess mode (this one's live), else this one's."""
        rows = self.snapshot()
        if self.multiprocess_dir is None:
            return rows
        own = f"{_SERIES_FILE_PREFIX}{os.getpid()}.json"
        for path in Path(self.multiprocess_dir).glob(f"{_SERIES_FILE_PREFIX}*.json"):
            if path.name == own:
                continue
            try:
                rows.extend(msgspec.json.decode(path.read_bytes(), type=list[_SeriesRow]))
            except (OSError, msgspec.DecodeError):  # a worker's file vanished mid-scrape
                continue
        return rows

    def include(self, registry: CollectorRegistry) -> None:
        """Show ``registry``'s metrics on this one's page too."""
        included = _Included(registry)
        self._included.append(included)
        self.registry.register(included)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics as text in the format ``accept`` asks for (Prometheus text by default,
        OpenMetrics when asked), with its content type. In multiprocess mode, summed over every
        worker's files (read afresh at each scrape, as prometheus_client requires)."""
        self.sample_in_progress()
        registry = self.registry
        if self.multiprocess_dir is not None:
            registry = CollectorRegistry()
            # prometheus_client leaves this constructor unannotated.
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            registry.register(self._collector)
            for included in self._included:
                registry.register(included)
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


_SERIES_FILE_PREFIX: Final = "airline_http_"
# The bucket bounds as Prometheus writes them (``le="0.005"``, ..., ``le="+Inf"``).
_BOUNDS: Final = (*(repr(float(bound)) for bound in LATENCY_BUCKETS), "+Inf")
_SeriesRow = tuple[str, str, int, list[float]]


class _Included(Collector):
    """Another registry's metrics, collected through this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class _HttpCollector(Collector):
    """Makes the three HTTP metrics of :class:`HttpMetrics` from its plain series."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests: dict[tuple[str, str, str], float] = {}
        errors: dict[tuple[str, str], float] = {}
        durations: dict[tuple[str, str], list[float]] = {}
        for method, route, status, series in self.metrics._all_series():
            count = sum(series[1:])
            key = (method, route, str(status))
            requests[key] = requests.get(key, 0.0) + count
            errors[method, route] = errors.get((method, route), 0.0) + (
                count if status >= 500 else 0.0
            )
            total = durations.setdefault((method, route), [0.0] * len(series))
            for index, value in enumerate(series):
                total[index] += value
        family = CounterMetricFamily(
            "airline_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=("method", "route", "status"),
        )
        for labels, value in requests.items():
            family.add_metric(labels, value)
        yield family
        errors_family = CounterMetricFamily(
            "airline_http_errors",
            "HTTP requests answered with a 5xx status, by method and route template.",
            labels=("method", "route"),
        )
        for pair, value in errors.items():
            errors_family.add_metric(pair, value)
        yield errors_family
        histogram = HistogramMetricFamily(
            "airline_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by method and route.",
            labels=("method", "route"),
        )
        for pair, total in durations.items():
            cumulative = accumulate(total[1:])
            histogram.add_metric(list(pair), list(zip(_BOUNDS, cumulative, strict=True)), total[0])
        yield histogram


#: Event-loop lag buckets: a healthy loop answers a timer within a millisecond or two.
LAG_BUCKETS: Final = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: How often the lag probe wakes up.
LAG_PROBE_INTERVAL: Final = 0.05
#: The lag probe writes a worker's series every this many wake-ups (a quarter of a second).
_FLUSH_EVERY: Final = 5


async def probe_loop_lag(metrics: HttpMetrics, interval: float = LAG_PROBE_INTERVAL) -> None:
    """Run until cancelled: sleep ``interval`` and record how much later than that it woke;
    and sample the requests in progress meanwhile (and, with several workers, write this
    worker's series four times a second)."""
    ticks = 0
    while True:
        started = perf_counter()
        await anyio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, perf_counter() - started - interval))
        metrics.sample_in_progress()
        ticks += 1
        if ticks % _FLUSH_EVERY == 0:
            metrics.flush()


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


def sane_request_id(value: bytes) -> str | None:
    """A request id sent by a client or a proxy, if it is 1..128 characters of
    ``[A-Za-z0-9._:-]``: it is echoed into logs and headers, so only a short, plain token is
    trusted, one that can neither forge log fields nor split a header."""
    return value.decode("ascii") if _SANE_ID.fullmatch(value) else None


def new_request_id() -> str:
    """32 hex digits: 128 random bits, as unique as a uuid4 but a fraction of its cost (no
    system call). Not a secret, so the non-cryptographic generator is fine (``random`` reseeds
    itself after a fork)."""
    return getrandbits(128).to_bytes(16).hex()


async def answer_internal_error(send: Send) -> None:
    """A bare 500 problem, for an exception that escaped the app before it answered."""
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
