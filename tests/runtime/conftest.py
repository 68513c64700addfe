"""Fixtures for the HTTP API: an app on memory stores with a fake clock, and catalog builders."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import Response
from litestar.testing import AsyncTestClient

from airline_core import Airline, BaseFarePricing, FakeClock
from airline_runtime.bootstrap import Runtime
from airline_runtime.http import create_app
from airline_runtime.settings import Settings
from tests.conftest import FAST_HASHER, TEST_NOW

API = "/api/v1"


ADMIN = {"email": "admin@example.org", "password": "correct horse battery", "name": "Ada Admin"}


async def bearer(client: AsyncTestClient[Any], email: str, password: str) -> dict[str, str]:
    """Log in over HTTP; the Authorization header for that user."""
    response = await client.post(f"{API}/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


@pytest.fixture
async def airline() -> AsyncIterator[Airline]:
    # Base fares: the HTTP tests check prices against the fares they schedule.
    async with Airline.in_memory(
        clock=FakeClock(TEST_NOW), password_hasher=FAST_HASHER, pricing=BaseFarePricing()
    ) as memory_airline:
        yield memory_airline


@pytest.fixture
async def anonymous(airline: Airline) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client with no credentials, on memory stores with a fake clock."""
    runtime = Runtime(settings=Settings(max_body_bytes=64 * 1024), airline=airline)
    async with AsyncTestClient(create_app(runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
async def client(airline: Airline, anonymous: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    """The same app, signed in as an admin (catalog writes need the admin role)."""
    await airline.accounts.create_admin(**ADMIN)
    anonymous.headers.update(await bearer(anonymous, ADMIN["email"], ADMIN["password"]))
    return anonymous


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:airline:problem:")
    assert "Traceback" not in response.text
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


CITIES = {
    "LON": {"code": "LON", "name": "London", "country": "GB"},
    "NYC": {"code": "NYC", "name": "New York", "country": "US"},
}
AIRPORTS = {
    "LHR": {
        "code": "LHR",
        "name": "London Heathrow Airport",
        "city": "LON",
        "country": "GB",
        "time_zone": "Europe/London",
        "latitude": 51.4706,
        "longitude": -0.46194,
    },
    "JFK": {
        "code": "JFK",
        "name": "John F Kennedy International Airport",
        "city": "NYC",
        "country": "US",
        "time_zone": "America/New_York",
        "latitude": 40.6398,
        "longitude": -73.7789,
    },
}
TWIN_AISLE = {
    "model": "Boeing 787-9",
    "layout": {
        "cabins": [
            {"cabin": "business", "first_row": 1, "last_row": 8, "seats": "A-DG-K"},
            {
                "cabin": "economy",
                "first_row": 20,
                "last_row": 48,
                "seats": "ABC-DEF-HJK",
                "exit_rows": [30],
            },
        ]
    },
}
DEPARTURE = TEST_NOW + timedelta(days=3)


def flight_body(airplane_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "number": "BA117",
        "airline": "BA",
        "airplane_id": airplane_id,
        "origin": "LHR",
        "destination": "JFK",
        "departs_at": DEPARTURE.isoformat(),
        "arrives_at": (DEPARTURE + timedelta(hours=8)).isoformat(),
        "fares": {
            "economy": {"amount": "450.00", "currency": "GBP"},
            "business": {"amount": "2450.00", "currency": "GBP"},
        },
    }
    body.update(changes)
    return body


async def build_catalog(client: AsyncTestClient[Any]) -> str:
    """London and New York with an airport each and a twin-aisle; returns the airplane id."""
    for city in CITIES.values():
        ok(await client.post(f"{API}/cities", json=city), 201)
    for airport in AIRPORTS.values():
        ok(await client.post(f"{API}/airports", json=airport), 201)
    airplane = ok(await client.post(f"{API}/airplanes", json=TWIN_AISLE), 201)
    return str(airplane["id"])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free loopback port in a thread; its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_airline(
    args: list[str], env: dict[str, str], log: Path, *, ready_within: float = 60
) -> Iterator[str]:
    """``python -m airline_runtime <args> --port N`` in a child process (output to ``log``),
    yielding its base URL once ``/health/ready`` answers; stopped on the way out."""
    port = free_port()
    with log.open("w") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "airline_runtime", *args, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            assert child.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"{args} did not become ready in {ready_within:.0f} s:\n{log.read_text()}")
        yield base
    finally:
        child.terminate()
        child.wait(timeout=20)
