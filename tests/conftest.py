"""Shared fixtures: the three storage backends every contract test runs against.

MariaDB/MySQL tests are marked ``mysql`` and use ``AIRLINE_TEST_MYSQL_URL`` (default: root on
127.0.0.1:3306). They never skip: when the server is missing they fail, so CI cannot pass
without them. Deselect them on a laptop with ``-m "not mysql"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import anyio
import attrs
import pytest
from attrs import frozen
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from airline_core import Airline, FakeClock
from airline_core.booking.gateway import TestPaymentGateway
from airline_core.identity import ScryptPasswordHasher
from airline_core.memory import (
    MemoryAccessTokens,
    MemoryAirplaneStore,
    MemoryAirportStore,
    MemoryBookingStore,
    MemoryCatalog,
    MemoryCityStore,
    MemoryFlightStore,
    MemoryIdempotencyStore,
    MemoryInboxStore,
    MemoryInventoryStore,
    MemoryOfferStore,
    MemoryOutboxStore,
    MemoryPaymentStore,
    MemoryRefreshTokenStore,
    MemoryReminderStore,
    MemoryUserStore,
)
from airline_core.ports import (
    AirplaneStore,
    AirportStore,
    BookingStore,
    CityStore,
    FlightStore,
    IdempotencyStore,
    InboxStore,
    InventoryStore,
    OfferStore,
    OutboxStore,
    PaymentStore,
    RefreshTokenStore,
    ReminderStore,
    UserStore,
)
from airline_core.pricing import BaseFarePricing, Pricing
from airline_runtime.db import (
    Database,
    SQLAlchemyAirplaneStore,
    SQLAlchemyAirportStore,
    SQLAlchemyCityStore,
    SQLAlchemyFlightStore,
    create_database,
    upgrade,
)
from airline_runtime.db.booking import (
    SQLAlchemyBookingStore,
    SQLAlchemyInventoryStore,
    SQLAlchemyOfferStore,
    SQLAlchemyPaymentStore,
)
from airline_runtime.db.idempotency import SQLAlchemyIdempotencyStore
from airline_runtime.db.identity import SQLAlchemyRefreshTokenStore, SQLAlchemyUserStore
from airline_runtime.db.inbox import SQLAlchemyInboxStore
from airline_runtime.db.outbox import SQLAlchemyOutboxStore
from airline_runtime.db.reminders import SQLAlchemyReminderStore
from airline_runtime.settings import normalize_database_url

AMQP_URL = os.environ.get("AIRLINE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MYSQL_SERVER_URL = os.environ.get("AIRLINE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
# Tests hash many passwords: a tiny scrypt work factor keeps them fast (never use it for real).
FAST_HASHER = ScryptPasswordHasher(n=2**4, r=1, p=1)
# Every test starts from this instant, so schedules in tests are always in the future.
TEST_NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _with_database(url: str, name: str) -> str:
    base, _, query = normalize_database_url(url).partition("?")
    server = base.rsplit("/", 1)[0]
    return f"{server}/{name}?{query}"


def _run_apart(work: Callable[..., Awaitable[None]], *args: object) -> None:
    """Run async set-up in a thread of its own: session fixtures may be first needed while a
    test's event loop is already running."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, work, *args).result()


async def _mysql_admin(statement: str) -> None:
    database = create_database(normalize_database_url(MYSQL_SERVER_URL))
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def mysql_server() -> str:
    """The MySQL server URL, checked once: a missing server fails every test that needs it."""
    try:
        _run_apart(_mysql_admin, "SELECT 1")
    except (OSError, SQLAlchemyError) as error:
        pytest.fail(
            f"MariaDB/MySQL at {MYSQL_SERVER_URL} is required for tests marked mysql: {error}"
            ' (start it, set AIRLINE_TEST_MYSQL_URL, or deselect with -m "not mysql")',
            pytrace=False,
        )
    return MYSQL_SERVER_URL


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The RabbitMQ URL, checked once: a missing broker fails every test that needs it."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(AMQP_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 3).close()
    except OSError as error:
        pytest.fail(
            f"RabbitMQ at {AMQP_URL} is required for tests marked rabbitmq: {error}"
            ' (start it, set AIRLINE_TEST_AMQP_URL, or deselect with -m "not rabbitmq")',
            pytrace=False,
        )
    return AMQP_URL


@pytest.fixture
def mysql_empty_url(mysql_server: str) -> Iterator[str]:
    """A MySQL database with no schema at all, dropped after the test."""
    name = f"airline_empty_{uuid.uuid4().hex[:10]}"
    _run_apart(_mysql_admin, f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield _with_database(mysql_server, name)
    _run_apart(_mysql_admin, f"DROP DATABASE {name}")


@pytest.fixture(scope="session")
def mysql_url(mysql_server: str) -> Iterator[str]:
    """A private, migrated database on the MySQL server for this session, dropped at the end."""
    name = f"airline_test_{uuid.uuid4().hex[:10]}"
    _run_apart(_mysql_admin, f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    url = _with_database(mysql_server, name)

    async def migrate() -> None:
        database = create_database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    _run_apart(migrate)
    yield url
    _run_apart(_mysql_admin, f"DROP DATABASE {name}")


async def _empty(database: Database) -> None:
    async with database.engine.begin() as connection:
        for table in (
            "reminders",
            "outbox",
            "inbox",
            "notifications",
            "idempotency_keys",
            "payments",
            "seats",
            "bookings",
            "offers",
            "flights",
            "airplanes",
            "airports",
            "cities",
            "refresh_tokens",
            "users",
        ):
            await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names


@frozen
class Stores:
    """One backend's catalog stores, and an :class:`Airline` on them with a fake clock."""

    backend: str
    cities: CityStore
    airports: AirportStore
    airplanes: AirplaneStore
    flights: FlightStore
    users: UserStore
    refresh_tokens: RefreshTokenStore
    inventory: InventoryStore
    offers: OfferStore
    bookings: BookingStore
    payments: PaymentStore
    idempotency_keys: IdempotencyStore
    clock: FakeClock
    outbox: OutboxStore = attrs.field(factory=MemoryOutboxStore)
    inbox: InboxStore = attrs.field(factory=MemoryInboxStore)
    reminders: ReminderStore = attrs.field(factory=MemoryReminderStore)
    gateway: TestPaymentGateway = attrs.field(factory=TestPaymentGateway)
    #: One token issuer for every airline made on these stores (a test and its HTTP app).
    tokens: MemoryAccessTokens = attrs.field(
        default=attrs.Factory(lambda self: MemoryAccessTokens(self.clock), takes_self=True)
    )
    database: Database | None = None

    @property
    def airline(self) -> Airline:
        """The airline on these stores, priced at base fares (search tests check prices and
        orders against fixed fares; booking tests ask for :meth:`priced_by` when they need
        dynamic prices)."""
        return self.priced_by(BaseFarePricing())

    def priced_by(self, pricing: Pricing) -> Airline:
        return Airline.from_stores(
            cities=self.cities,
            airports=self.airports,
            airplanes=self.airplanes,
            flights=self.flights,
            users=self.users,
            refresh_tokens=self.refresh_tokens,
            inventory=self.inventory,
            offers=self.offers,
            bookings=self.bookings,
            payments=self.payments,
            idempotency_keys=self.idempotency_keys,
            outbox=self.outbox,
            reminders=self.reminders,
            payment_gateway=self.gateway,
            password_hasher=FAST_HASHER,
            access_tokens=self.tokens,
            clock=self.clock,
            pricing=pricing,
        )


def _sql_stores(backend: str, database: Database) -> Stores:
    return Stores(
        backend=backend,
        cities=SQLAlchemyCityStore(database),
        airports=SQLAlchemyAirportStore(database),
        airplanes=SQLAlchemyAirplaneStore(database),
        flights=SQLAlchemyFlightStore(database),
        users=SQLAlchemyUserStore(database),
        refresh_tokens=SQLAlchemyRefreshTokenStore(database),
        inventory=SQLAlchemyInventoryStore(database),
        offers=SQLAlchemyOfferStore(database),
        bookings=SQLAlchemyBookingStore(database),
        payments=SQLAlchemyPaymentStore(database),
        idempotency_keys=SQLAlchemyIdempotencyStore(database),
        clock=FakeClock(TEST_NOW),
        outbox=SQLAlchemyOutboxStore(database),
        inbox=SQLAlchemyInboxStore(database),
        reminders=SQLAlchemyReminderStore(database),
        database=database,
    )


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("mysql", marks=pytest.mark.mysql)],
)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """The catalog stores of each backend, empty, with the schema of the migrations."""
    backend: str = request.param
    if backend == "memory":
        catalog = MemoryCatalog()
        offers, keys = MemoryOfferStore(), MemoryIdempotencyStore()
        users = MemoryUserStore()
        yield Stores(
            backend=backend,
            cities=MemoryCityStore(catalog),
            airports=MemoryAirportStore(catalog),
            airplanes=MemoryAirplaneStore(catalog),
            flights=MemoryFlightStore(catalog),
            users=users,
            refresh_tokens=MemoryRefreshTokenStore(),
            inventory=MemoryInventoryStore(catalog),
            offers=offers,
            bookings=MemoryBookingStore(catalog, users, offers, keys),
            payments=MemoryPaymentStore(catalog, keys),
            idempotency_keys=keys,
            clock=FakeClock(TEST_NOW),
            outbox=catalog.outbox,
            reminders=MemoryReminderStore(catalog),
        )
        return
    if backend == "sqlite":
        database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'airline.db'}")
        await upgrade(database)
    else:
        database = create_database(request.getfixturevalue("mysql_url"))
        await _empty(database)
    try:
        yield _sql_stores(backend, database)
    finally:
        await database.dispose()
