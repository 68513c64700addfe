"""Request ids, structured access logs and Prometheus metrics of the HTTP gateway."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import structlog
from litestar import Litestar, get
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import values

from airline_core.identity.model import Principal, Role
from airline_runtime import logs
from airline_runtime.http.gateway import gateway
from airline_runtime.http.journal import RequestJournal
from airline_runtime.http.observability import (
    Answered,
    HttpMetrics,
    metrics_handler,
    prepare_multiprocess_metrics,
)
from airline_runtime.http.problems import exception_handlers
from airline_runtime.logs import configure_logging
from airline_runtime.settings import Settings

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class FakeAuthentication(ASGIMiddleware):
    """Stands in for the real authentication middleware: it runs inside the request middleware
    and leaves the principal in ``scope["user"]``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if any(name == b"authorization" for name, _ in scope["headers"]):
            scope["user"] = Principal(user_id="user-1", role=Role.CUSTOMER)
        await next_app(scope, receive, send)


@get("/items/{item_id:int}")
async def item(item_id: FromPath[int]) -> dict[str, int]:
    logging.getLogger("airline_runtime.test").warning("looked at item %d", item_id)
    return {"id": item_id}


@get("/boom")
async def boom() -> None:
    raise RuntimeError("the handler broke")


def build_app(metrics: HttpMetrics | None = None) -> Litestar:
    """The gateway as the app factory wires it, with a fake identity inside instead of tokens."""
    metrics = metrics or HttpMetrics()
    app = Litestar(
        [item, boom, metrics_handler(metrics)],
        middleware=[FakeAuthentication()],
        exception_handlers=exception_handlers,
        logging_config=None,
    )
    app.asgi_handler = gateway(app.asgi_handler, metrics, authenticate=None)
    return app


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """JSON logs into a buffer; structlog and the root logger are put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="info"), stream=stream)
    yield stream
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    logs.flush()  # the access lines waiting for their batch
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(stream) if line["event"] == "request"]


@pytest.fixture
async def client(log_stream: io.StringIO) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(build_app()) as test_client:
        yield test_client


async def test_a_sane_request_id_is_echoed(client: AsyncTestClient[Litestar]) -> None:
    sane = "edge-7f3a.b:c_D"
    response = await client.get("/items/1", headers={"X-Request-ID": sane})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == sane


@pytest.mark.parametrize(
    "insane", ["x" * 129, "has space", 'quote"d', "semi;colon", "", "é".encode()]
)
async def test_an_insane_request_id_is_replaced(
    client: AsyncTestClient[Litestar], insane: str | bytes
) -> None:
    response = await client.get("/items/1", headers={"X-Request-ID": insane})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


async def test_each_request_without_an_id_gets_a_new_one(
    client: AsyncTestClient[Litestar],
) -> None:
    first = (await client.get("/items/1")).headers["x-request-id"]
    second = (await client.get("/items/1")).headers["x-request-id"]
    assert GENERATED_ID.fullmatch(first)
    assert first != second


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("PUT", "/boom", 405)]
)
async def test_unrouted_answers_carry_the_id_and_are_logged(
    client: AsyncTestClient[Litestar],
    log_stream: io.StringIO,
    method: str,
    path: str,
    status: int,
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "probe-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "probe-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    [line] = access_lines(log_stream)
    assert line["route"] == "unmatched"
    assert line["path"] == path
    assert line["status"] == status


async def test_a_failing_handler_answers_500_with_the_id_and_logs_the_traceback(
    client: AsyncTestClient[Litestar], log_stream: io.StringIO
) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "fail-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "fail-1"
    assert "the handler broke" not in response.text
    records = lines(log_stream)
    [error] = [line for line in records if line["level"] == "error"]
    assert error["request_id"] == "fail-1"  # bound by the middleware, logged by problems.py
    assert error["logger"] == "airline_runtime.http"
    assert "Traceback" in error["exception"]
    assert "RuntimeError: the handler broke" in error["exception"]
    [access] = access_lines(log_stream)
    assert access["status"] == 500
    assert access["route"] == "/boom"


async def test_an_exception_escaping_the_app_still_answers_500_with_the_id(
    log_stream: io.StringIO,
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("below the framework")

    transport = httpx.ASGITransport(app=gateway(broken, authenticate=None))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as raw:
        response = await raw.get("/anything", headers={"X-Request-ID": "raw-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "raw-1"
    assert response.json()["status"] == 500
    [access] = access_lines(log_stream)
    assert access["level"] == "error"
    assert access["status"] == 500
    assert "below the framework" in access["exception"]


async def test_one_json_access_line_per_request_with_every_field(
    client: AsyncTestClient[Litestar], log_stream: io.StringIO
) -> None:
    await client.get("/items/42", headers={"X-Request-ID": "req-42", "Authorization": "Bearer x"})
    await client.get("/items/7")
    first, second = access_lines(log_stream)
    assert first["request_id"] == "req-42"
    assert first["method"] == "GET"
    assert first["path"] == "/items/42"
    assert first["route"] == "/items/{item_id}"
    assert first["status"] == 200
    assert first["user_id"] == "user-1"
    assert first["client"] == "testclient"
    assert first["level"] == "info"
    assert first["logger"] == "airline.access"
    assert isinstance(first["duration_ms"], float)
    assert 0 <= first["duration_ms"] < 5000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", first["timestamp"])
    assert second["user_id"] is None
    assert GENERATED_ID.fullmatch(second["request_id"])


async def test_stdlib_lines_of_a_request_carry_its_id(
    client: AsyncTestClient[Litestar], log_stream: io.StringIO
) -> None:
    await client.get("/items/3", headers={"X-Request-ID": "req-3"})
    [warning] = [line for line in lines(log_stream) if line["event"] == "looked at item 3"]
    assert warning["request_id"] == "req-3"
    assert warning["logger"] == "airline_runtime.test"
    assert warning["level"] == "warning"
    # The id is unbound once the request is over.
    logging.getLogger("airline_runtime.test").warning("after")
    assert "request_id" not in lines(log_stream)[-1]


def _answered(number: int, *, status: int = 200) -> Answered:
    return (f"req-{number}", "GET", "/items/1", "/items/{n}", status, 0.001, None, None, 0.0)


def _events(stream: io.StringIO) -> list[str]:
    """The request ids of the access lines and the events of the others, as written so far."""
    return [
        line.get("request_id") if line["event"] == "request" else line["event"]
        for line in map(json.loads, stream.getvalue().splitlines())
    ]


async def test_access_lines_wait_for_a_batch_and_keep_their_place(
    log_stream: io.StringIO,
) -> None:
    journal = RequestJournal()
    journal.add(_answered(1))
    journal.add(_answered(2))
    assert log_stream.getvalue() == ""  # waiting for more, or for their tenth of a second
    # Any other line writes the waiting ones first: the order is the order they were logged in.
    logging.getLogger("some.library").warning("disk full")
    structlog.get_logger().warning("structured")
    assert _events(log_stream) == ["req-1", "req-2", "disk full", "structured"]
    journal.add(_answered(3))
    await anyio.sleep(Settings().log_flush_ms / 1000 * 2)
    assert _events(log_stream)[-1] == "req-3"  # written by the timer, nothing else logged


async def test_a_full_batch_is_written_at_once(log_stream: io.StringIO) -> None:
    journal = RequestJournal()
    for number in range(logs.ACCESS_FLUSH_LINES):
        journal.add(_answered(number))
    assert _events(log_stream) == [f"req-{n}" for n in range(logs.ACCESS_FLUSH_LINES)]


async def test_a_batch_after_a_full_one_waits_its_own_time(log_stream: io.StringIO) -> None:
    stream = io.StringIO()  # the fixture puts the logging set-up back afterwards
    configure_logging(Settings(log_level="info", log_flush_ms=400), stream=stream)
    journal = RequestJournal()
    started = time.perf_counter()

    def answered(number: int) -> Answered:
        return (f"req-{number}", "GET", "/items/1", "/items/{n}", 200, 0.001, None, None,
                time.perf_counter())  # fmt: skip

    journal.add(answered(0))  # its batch's timer: 0.4 s from now
    await anyio.sleep(0.2)
    for number in range(1, logs.ACCESS_FLUSH_LINES):
        journal.add(answered(number))  # a full batch, written at once
    assert len(_events(stream)) == logs.ACCESS_FLUSH_LINES
    journal.add(answered(100))  # the next batch begins, 0.2 s in
    await anyio.sleep(0.45 - (time.perf_counter() - started))
    # The first batch's time is up, not this one's: it waits until 0.6 s.
    assert _events(stream)[-1] != "req-100"
    await anyio.sleep(0.3)
    assert _events(stream)[-1] == "req-100"


def test_without_an_event_loop_an_access_line_is_written_at_once(
    log_stream: io.StringIO,
) -> None:
    RequestJournal().add(_answered(7))
    assert _events(log_stream) == ["req-7"]


def test_a_flush_time_of_zero_writes_each_access_line_at_once(log_stream: io.StringIO) -> None:
    stream = io.StringIO()  # the fixture puts the logging set-up back afterwards
    configure_logging(Settings(log_level="info", log_flush_ms=0), stream=stream)
    RequestJournal().add(_answered(8))
    assert _events(stream) == ["req-8"]


async def test_a_batch_is_counted_before_the_metrics_are_read(log_stream: io.StringIO) -> None:
    metrics = HttpMetrics()
    journal = RequestJournal(metrics)
    journal.add(_answered(1))
    journal.add(_answered(2, status=404))
    assert log_stream.getvalue() == ""  # still waiting for its batch
    counted = {(route, status): sum(series[1:]) for _, route, status, series in metrics.snapshot()}
    assert counted == {("/items/{n}", 200): 1, ("/items/{n}", 404): 1}
    assert _events(log_stream) == ["req-1", "req-2"]  # written as they were counted


def test_an_access_line_is_stamped_when_its_request_ended(log_stream: io.StringIO) -> None:
    ended = time.perf_counter() - 30  # a request that ended half a minute ago
    journal = RequestJournal()
    journal.add(("req-9", "GET", "/items/1", "/items/{n}", 200, 0.001, None, None, ended))
    [line] = access_lines(log_stream)
    stamped = datetime.fromisoformat(line["timestamp"])
    assert abs((datetime.now(UTC) - stamped).total_seconds() - 30) < 1


def test_uvicorns_access_log_stays_silent(log_stream: io.StringIO) -> None:
    # uvicorn writes (and formats) its own access line when this logger has a handler anywhere
    # up its chain; the gateway writes one already.
    access = logging.getLogger("uvicorn.access")
    assert not access.propagate
    # (pytest's capture handlers aside, which the tests' own loggers get too)
    assert [h for h in access.handlers if type(h).__name__ != "LogCaptureHandler"] == []
    assert logging.getLogger("uvicorn.error").hasHandlers()


def test_configuring_twice_keeps_one_handler_and_the_console_form(
    log_stream: io.StringIO,
) -> None:
    console = io.StringIO()
    configure_logging(Settings(log_format="console", log_level="warning"), stream=console)
    configure_logging(Settings(log_format="console", log_level="warning"), stream=console)
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_AirlineHandler"]
    assert len(ours) == 1
    logging.getLogger("some.library").warning("disk %s", "full")
    logging.getLogger("some.library").info("below the level")
    structlog.get_logger().warning("structured", seat="12A")
    text = console.getvalue()
    assert text.count("disk full") == 1
    assert "below the level" not in text
    assert "seat" in text
    assert "12A" in text
    assert not text.lstrip().startswith("{")
    assert log_stream.getvalue() == ""


async def test_metrics_count_by_route_template(client: AsyncTestClient[Litestar]) -> None:
    for item_id in (1, 2):
        await client.get(f"/items/{item_id}")
    await client.get("/nowhere")
    await client.get("/boom")
    await client.request("BREW", "/items/1")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'airline_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 2.0'
        in text
    )
    assert 'airline_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'airline_http_requests_total{method="OTHER",route="unmatched",status="405"}' in text
    assert 'airline_http_errors_total{method="GET",route="/boom"} 1.0' in text
    # Present at zero once a route is seen, so an error ratio has no gaps.
    assert 'airline_http_errors_total{method="GET",route="/items/{item_id}"} 0.0' in text
    assert (
        'airline_http_request_duration_seconds_bucket{le="0.005",method="GET",'
        'route="/items/{item_id}"}' in text
    )
    assert 'le="10.0"' in text
    assert "airline_http_requests_in_progress 1.0" in text  # the scrape itself
    assert "process_cpu_seconds_total" in text or sys.platform != "linux"
    assert "/items/1" not in text  # never a raw path


async def test_metrics_speak_openmetrics_when_asked(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_metrics_are_not_in_the_openapi_document(client: AsyncTestClient[Litestar]) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
    assert "/items/{item_id}" in paths


RECORD_IN_A_WORKER = """
import sys
from airline_runtime.http.observability import HttpMetrics
metrics = HttpMetrics()
assert metrics.multiprocess_dir is not None
for _ in range(int(sys.argv[1])):
    metrics.record("GET", "/items/{item_id}", 200, 0.02)
metrics.record("POST", "/boom", 500, 0.2)
metrics.flush()  # what a worker's lifespan does when it stops, and its lag probe every second
"""


def test_several_worker_processes_are_summed_in_multiprocess_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_99999.db").write_bytes(b"stale values of an earlier run")
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # restored afterwards
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "placeholder")  # restored afterwards

    prepare_multiprocess_metrics(directory)

    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    assert list(directory.iterdir()) == []
    for count in ("2", "3"):  # two workers: two processes, two sets of files
        subprocess.run(
            [sys.executable, "-c", RECORD_IN_A_WORKER, count],
            check=True,
            env=os.environ.copy(),
            timeout=60,
        )
    scraping_worker = HttpMetrics()
    scraping_worker.record("GET", "/items/{item_id}", 200, 0.01)  # this process counts too
    text = scraping_worker.exposition()[0].decode()

    assert (
        'airline_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 6.0'
        in text
    )
    assert 'airline_http_errors_total{method="POST",route="/boom"} 2.0' in text
    assert (
        'airline_http_request_duration_seconds_count{method="GET",route="/items/{item_id}"} 6.0'
        in text
    )
    assert "process_cpu_seconds_total" not in text


async def test_console_access_lines_of_two_apps_are_written_without_deadlock() -> None:
    # Two journals (two apps in one process) in the console format: flushing one writes the
    # stream directly, never through structlog's logger, whose write would flush the other
    # while holding its lock.
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(Settings(log_format="console", log_flush_ms=20), stream=stream)
    try:
        first, second = RequestJournal(), RequestJournal()
        first.add(_answered(1))
        second.add(_answered(2))
        with anyio.fail_after(5):
            await anyio.sleep(0.1)  # both timers fire
            structlog.get_logger().warning("after")
        text = stream.getvalue()
        assert "req-1" in text
        assert "req-2" in text
        assert text.index("req-2") < text.index("after")
        assert not text.lstrip().startswith("{")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_collected_journal_writes_what_waits(log_stream: io.StringIO) -> None:
    journal = RequestJournal(HttpMetrics())  # the metrics and the journal hold each other
    journal.pending.append(_answered(5))  # waiting for a batch that will never come
    del journal
    gc.collect()
    assert _events(log_stream) == ["req-5"]
