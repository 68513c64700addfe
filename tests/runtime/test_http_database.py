"""The whole stack: the app factory's lifespan opens a real database (SQLite and MariaDB)."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from airline_core import Airline
from airline_runtime.bootstrap import Runtime, bootstrap
from airline_runtime.db import create_database
from airline_runtime.http import create_app
from airline_runtime.settings import Settings
from tests.runtime.conftest import (
    ADMIN,
    AIRPORTS,
    API,
    CITIES,
    TWIN_AISLE,
    bearer,
    fields,
    ok,
    problem,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
async def database_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Any]]:
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
    else:
        url: str = request.getfixturevalue("mysql_url")
        database = create_database(url)
        async with database.engine.begin() as connection:
            for table in ("flights", "airplanes", "airports", "cities", "refresh_tokens", "users"):
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        await database.dispose()
        settings = Settings(database_url=url, jwt_secret="x" * 40)
    # The test client serves the app on an event loop of its own, so the admin is made through
    # a runtime of this loop before the app starts.
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    async with bootstrap(settings, migrate=True) as runtime:
        await runtime.airline.accounts.create_admin(
            email=email, password=ADMIN["password"], name="Ada"
        )
    async with AsyncTestClient(create_app(settings)) as client:
        client.headers.update(await bearer(client, email, ADMIN["password"]))
        yield client


async def test_catalog_on_a_real_database(database_client: AsyncTestClient[Any]) -> None:
    client = database_client
    for city in CITIES.values():
        ok(await client.post(f"{API}/cities", json=city), 201)
    for airport in AIRPORTS.values():
        ok(await client.post(f"{API}/airports", json=airport), 201)
    airplane = ok(await client.post(f"{API}/airplanes", json=TWIN_AISLE), 201)
    departure = (datetime.now(UTC) + timedelta(days=30)).replace(
        hour=18, minute=30, second=0, microsecond=0
    )
    body = {
        "number": "BA117",
        "airline": "BA",
        "airplane_id": airplane["id"],
        "origin": "LHR",
        "destination": "JFK",
        "departs_at": departure.isoformat(),
        "arrives_at": (departure + timedelta(hours=8)).isoformat(),
        "fares": {
            "economy": {"amount": "450.00", "currency": "GBP"},
            "business": {"amount": "2450.00", "currency": "GBP"},
        },
    }
    flight = ok(await client.post(f"{API}/flights", json=body), 201)
    assert ok(await client.get(f"{API}/flights/{flight['id']}")) == flight
    assert ok(await client.get(f"{API}/airplanes/{airplane['id']}")) == airplane
    problem(await client.post(f"{API}/flights", json=body), 409)
    problem(await client.delete(f"{API}/airports/LHR"), 409)
    problem(await client.delete(f"{API}/airplanes/{airplane['id']}"), 409)
    london = ok(await client.get(f"{API}/cities", params={"code": "LON"}))[0]
    problem(await client.delete(f"{API}/cities/{london['id']}"), 409)
    listed = ok(await client.get(f"{API}/flights", params={"origin": "LHR"}))
    assert [f["id"] for f in listed] == [flight["id"]]
    assert fields(
        problem(await client.patch(f"{API}/airports/LHR", json={"time_zone": "UTC"}), 409)
    ) == {"time_zone"}
    assert (await client.delete(f"{API}/flights/{flight['id']}")).status_code == 204
    assert (await client.delete(f"{API}/airports/LHR")).status_code == 204
    ready = await client.get("/health/ready")
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readiness_fails_when_the_database_is_gone() -> None:
    # Nothing listens on port 1: the probe must answer 503, not hang or crash.
    database = create_database("mysql+asyncmy://root@127.0.0.1:1/none?connect_timeout=2")
    async with Airline.in_memory() as airline:
        runtime = Runtime(settings=Settings(), airline=airline, database=database)
        async with AsyncTestClient(create_app(runtime=runtime)) as client:
            body = problem(await client.get("/health/ready"), 503)
            assert "database" in body["detail"]
            assert (await client.get("/health/live")).status_code == 200
    await database.dispose()


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Puts the process's cycle collector back as it was after a test that settles it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_state")
async def test_a_server_process_settles_the_garbage_collector(tmp_path: Path) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    async with AsyncTestClient(create_app(Settings(data_dir=tmp_path), migrate=True)) as client:
        assert (await client.get("/health/live")).status_code == 200
        # What start-up built is out of the collector's sight; small collections run less often.
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (10_000, 10, 10)


@pytest.mark.usefixtures("collector_state")
async def test_an_app_given_a_runtime_leaves_the_collector_alone(airline: Airline) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime = Runtime(settings=Settings(), airline=airline)
    async with AsyncTestClient(create_app(runtime=runtime)) as client:
        assert (await client.get("/health/live")).status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == (700, 10, 10)
