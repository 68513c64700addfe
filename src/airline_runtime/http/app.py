"""The Litestar application factory.

``create_app()`` builds nothing but the app: the database and the airline are opened by the
lifespan (through :func:`airline_runtime.bootstrap.bootstrap`) when a server starts it, and closed
when it stops. Tests pass an already-built :class:`Runtime` (memory stores, a fake clock).
"""

from __future__ import annotations

import gc
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Tag
from litestar.static_files import create_static_files_router

from airline_core import Airline, __version__
from airline_runtime.bootstrap import Runtime, bootstrap
from airline_runtime.http.auth import AuthController, UserController
from airline_runtime.http.booking import BookingController, OfferController, SeatMapController
from airline_runtime.http.catalog import (
    AirplaneController,
    AirportController,
    CityController,
    FlightController,
)
from airline_runtime.http.gateway import Gateway, gateway
from airline_runtime.http.hardening import cors_config
from airline_runtime.http.health import HealthController
from airline_runtime.http.observability import HttpMetrics, metrics_handler, probe_loop_lag
from airline_runtime.http.problems import exception_handlers
from airline_runtime.http.ratelimit import RateLimiter
from airline_runtime.http.search import SearchController
from airline_runtime.logs import configure_logging
from airline_runtime.settings import Settings

__all__ = ["create_app", "gateway", "settle_garbage_collector", "sweep_forever"]

logger = logging.getLogger("airline_runtime.http")

_ASSETS = "/schema/assets"


class _Served:
    """The airline an app serves, for its ``airline`` dependency; set by the lifespan.

    A provider without parameters: Litestar then has nothing to read from the request to call
    it (a ``state`` parameter cost a signature model's parsing of the connection on every
    request, about a twentieth of a direct search's Python)."""

    def __init__(self) -> None:
        self.airline: Airline | None = None

    def provide(self) -> Airline:
        airline = self.airline
        if airline is None:
            raise RuntimeError("the app's lifespan has not opened its runtime")
        return airline


def _openapi() -> OpenAPIConfig:
    # The UI's scripts are served from the installed package, so the docs work offline.
    swagger = SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{_ASSETS}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Airline booking API",
        version=__version__,
        description=(
            "Catalog, search and booking for an airline. Errors are RFC 9457 problem details; "
            "lists are keyset-paginated with opaque cursors."
        ),
        path="/schema",
        render_plugins=[swagger],
        tags=[
            Tag(name="catalog", description="Cities, airports, airplanes and flights"),
            Tag(name="search", description="Itineraries for a day, direct and connecting"),
            Tag(name="booking", description="Seat maps, offers, holds and cancellation"),
            Tag(name="identity", description="Accounts, tokens and the signed-in user"),
            Tag(name="operations", description="Health probes"),
        ],
    )


async def sweep_forever(airline: Airline, seconds: float) -> None:
    """Run :meth:`Airline.sweep` every ``seconds`` (with a random start, so that several
    workers spread out); a failed pass is logged and the next one runs on time."""
    await anyio.sleep(random.uniform(0, seconds))  # noqa: S311 - spreading, not a secret
    while True:
        try:
            done = await airline.sweep()
        except Exception:
            logger.exception("the booking sweep failed; it runs again in %s s", seconds)
        else:
            if any(done.values()):
                logger.info("booking sweep", extra=done)
        await anyio.sleep(seconds)


def settle_garbage_collector() -> None:
    """Take what start-up built out of the cycle collector's sight, and collect less often.

    A warm API process holds some 130,000 tracked objects (modules, routes, the SQLAlchemy
    dialect), almost all of them for life. CPython's full collections walk every one: measured
    under search load, 70-90 ms each, about once a second, which made every request in flight
    that long late (p99 160 ms at 64 connections, against 75-100 ms without them).
    :func:`gc.freeze` moves the objects alive now to a generation the collector never scans, and
    a young-generation threshold of 10,000 instead of 700 runs the small collections a tenth as
    often: request objects die by reference counting, so those collections found almost nothing
    and took 4% of the process's time.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(10_000, middle, old)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    migrate: bool = False,
    with_gateway: bool = True,
) -> Litestar:
    """Build the API app.

    :param settings: read from the environment when not given (how ``uvicorn --factory`` and
        ``airline serve --workers N`` start each worker).
    :param runtime: an already-open runtime to serve (tests, embedding); the app then neither
        opens nor closes it.
    :param migrate: bring the database schema up to date at start-up (the embedded default).
    :param with_gateway: wrap the app in :func:`gateway` (authentication, rate limits, request
        ids, logs, metrics, security headers). Without it every request is anonymous, so only
        public routes answer: for benchmarks measuring the stack, and for embedding behind a
        gateway of one's own.

    When the app opens its own runtime (a server process), it calls
    :func:`settle_garbage_collector` once started; an app given a ``runtime`` leaves the
    process's collector as it found it.
    """
    import swagger_ui_bundle

    if runtime is None and settings is None:
        settings = Settings.from_env()
    effective = runtime.settings if runtime else settings or Settings()
    if runtime is None:
        # The uvicorn factory path: once in each worker process.
        configure_logging(effective)
    metrics = HttpMetrics()
    served = _Served()
    limiter = RateLimiter(effective)
    cors = cors_config(effective)

    @asynccontextmanager
    async def open_runtime(app: Litestar) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        assert settings is not None  # noqa: S101 - set above whenever runtime is None
        async with bootstrap(settings, migrate=migrate) as opened:
            app.state.runtime = opened
            settle_garbage_collector()
            async with anyio.create_task_group() as sweeper:
                if settings.sweep_seconds:
                    sweeper.start_soon(sweep_forever, opened.airline, settings.sweep_seconds)
                if opened.broker is not None:  # for readiness to report it
                    sweeper.start_soon(opened.broker.connect_forever)
                try:
                    yield
                finally:
                    sweeper.cancel_scope.cancel()

    edge: Gateway | None = None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.limiter = limiter
        async with limiter, open_runtime(app), anyio.create_task_group() as background:
            served.airline = app.state.runtime.airline
            if edge is not None:
                edge.authenticate = app.state.runtime.airline.accounts.authenticate
            metrics.include(app.state.runtime.messaging_metrics.registry)
            background.start_soon(probe_loop_lag, metrics)
            try:
                yield
            finally:
                background.cancel_scope.cancel()
                if edge is not None:
                    edge.journal.flush()  # the last requests' metrics and access lines
                metrics.flush()  # with several workers, this one's last counts

    app = Litestar(
        route_handlers=[
            CityController,
            AirportController,
            AirplaneController,
            FlightController,
            SeatMapController,
            SearchController,
            OfferController,
            BookingController,
            AuthController,
            UserController,
            HealthController,
            metrics_handler(metrics),
            create_static_files_router(
                path=_ASSETS,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
                send_as_attachment=False,
            ),
        ],
        dependencies={"airline": Provide(served.provide, sync_to_thread=False)},
        exception_handlers=exception_handlers,
        openapi_config=_openapi(),
        cors_config=cors,
        lifespan=[lifespan],
        request_max_body_size=effective.max_body_bytes,
        # Our own logging (airline_runtime.logs); Litestar's default would reconfigure the root.
        logging_config=None,
        debug=False,
    )
    if with_gateway:
        edge = gateway(app.asgi_handler, metrics, limiter=limiter, cors=cors)
        app.asgi_handler = edge
    return app
