"""Booking benchmark on MariaDB: holds and payments through the HTTP API against a raw ceiling.

Requires: the project with its MySQL extra (`pip install -e '.[mysql]'`) and a MariaDB/MySQL
server; `AIRLINE_BENCH_BOOKING_MYSQL_URL` names the database (default
`mysql://root@127.0.0.1:3306/airline_bench_booking`; it is dropped and made afresh each run).
To run: `python benchmarks/booking.py` (`--quick` for fewer, smaller rounds; `--only hot` or
`--only spread` for one scenario).

Scenarios, each with 64 clients at once and one uvicorn worker (`airline serve`'s app, rate
limits off):

- **hot**: one flight of 990 seats sells out: 990 one-seat holds (`POST /api/v1/bookings`,
  seats assigned by the server), then the 990 payments (`POST .../payments`, the test gateway);
- **spread**: 3,000 one-seat holds over 100 such flights, then their payments.

Offers and users are made before the clock starts (offers are quotes, bought once per search;
the benchmark measures what happens when travellers book). Each scenario's ceiling, measured in
the same run, in alternating order: a minimal loop of 64 asyncio tasks on the same driver and
pool issuing just the SQL statements of one hold transaction (and of the two payment
transactions), with the seats given. It prints per round and as medians: held and confirmed
bookings per second, p50/p99, the ratio to the ceiling, oversold seats (must be 0: every seat
held by at most one booking and seats left = capacity - seats taken), and the statements the
server ran per request (MariaDB's `Questions` counter).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import free_port, percentile, start_server
from search import cpu_seconds

DEFAULT_URL = "mysql://root@127.0.0.1:3306/airline_bench_booking"
BENCH_SECRET = "benchmark-signing-secret-of-at-least-32-chars"
CONNECTIONS = 64
ROWS, LETTERS = 99, "ABC-DEFG-HJK"
SEATS = ROWS * 10
FARE = 25_000


def bench_url() -> str:
    return os.environ.get("AIRLINE_BENCH_BOOKING_MYSQL_URL", DEFAULT_URL)


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "AIRLINE_DATABASE_URL": bench_url(),
        "AIRLINE_JWT_SECRET": BENCH_SECRET,
        "AIRLINE_RATE_LIMIT": "off",
        "AIRLINE_LOG_LEVEL": "warning",
        "AIRLINE_DATABASE_POOL_SIZE": "20",
    }


def real_app() -> Any:
    """uvicorn factory: the app `airline serve` runs."""
    from airline_runtime.http import create_app

    return create_app()


# Set-up ----------------------------------------------------------------------------------------


async def fresh_database() -> None:
    from sqlalchemy import text

    from airline_runtime.db import create_database, upgrade
    from airline_runtime.settings import normalize_database_url

    url = normalize_database_url(bench_url())
    base, _, query = url.partition("?")
    server, name = base.rsplit("/", 1)
    admin = create_database(f"{server}/mysql?{query}")
    async with admin.engine.begin() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    await admin.dispose()
    database = create_database(url)
    await upgrade(database)
    await database.dispose()


async def schedule(flights: int) -> tuple[list[str], datetime]:
    """``flights`` flights of one 990-seat airplane; their ids."""
    from airline_core import Cabin, CabinLayout, Money, SeatLayout
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.settings import Settings

    settings = Settings(database_url=bench_url(), jwt_secret=BENCH_SECRET)
    async with bootstrap(settings) as runtime:
        airline = runtime.airline
        await airline.cities.create(code="LON", name="London", country="GB")
        await airline.cities.create(code="NYC", name="New York", country="US")
        for code, city, country, zone in (
            ("LHR", "LON", "GB", "Europe/London"),
            ("JFK", "NYC", "US", "America/New_York"),
        ):
            await airline.airports.create(
                code=code, name=code, city=city, country=country, time_zone=zone,
                latitude=0.0, longitude=0.0,
            )  # fmt: skip
        plane = await airline.airplanes.create(
            model="Benchmark 990",
            layout=SeatLayout(
                cabins=[CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=ROWS, seats=LETTERS)]
            ),
        )
        first = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        first += timedelta(days=30)
        ids = []
        for n in range(flights):
            departs = first + timedelta(days=n // 20, minutes=(n % 20) * 30)
            flight = await airline.flights.create(
                number=f"BA{n + 1}", airline="BA", airplane_id=plane.id, origin="LHR",
                destination="JFK", departs_at=departs, arrives_at=departs + timedelta(hours=8),
                fares={Cabin.ECONOMY: Money(FARE, "GBP")},
            )  # fmt: skip
            # The seat rows, as the first offer of each flight makes them.
            await runtime.airline.seat_maps.inventory.prepare(
                flight.id, plane.id, [seat.label for seat in plane.layout.iter_seats()]
            )
            ids.append(flight.id)
        return ids, first


async def buyers_and_offers(flight_ids: list[str]) -> list[dict[str, Any]]:
    """One user and one offer per hold, made straight in the tables (a fast set-up)."""
    from sqlalchemy import insert

    from airline_core import Principal, Role
    from airline_core.ids import new_id
    from airline_runtime.bootstrap import access_tokens
    from airline_runtime.db import create_database
    from airline_runtime.db.tables import offers, users
    from airline_runtime.settings import Settings, normalize_database_url

    settings = Settings(database_url=bench_url(), jwt_secret=BENCH_SECRET)
    tokens = access_tokens(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    made, user_rows, offer_rows = [], [], []
    for flight_id in flight_ids:
        user_id, offer_id = new_id(), new_id()
        user_rows.append(
            {
                "id": user_id,
                "email": f"{user_id.lower()}@example.org",
                "name": "Buyer",
                "role": "customer",
                "password_hash": "-",
                "created_at": now,
            }
        )
        offer_rows.append(
            {
                "id": offer_id,
                "user_id": user_id,
                "flight_ids": flight_id,
                "cabin": "economy",
                "passengers": 1,
                "unit_prices": str(FARE),
                "currency": "GBP",
                "created_at": now,
                "expires_at": now + timedelta(hours=2),
            }
        )
        token, _ = tokens.issue(Principal(user_id=user_id, role=Role.CUSTOMER), now)
        made.append({"offer": offer_id, "token": token, "flight": flight_id})
    database = create_database(normalize_database_url(bench_url()))
    for start in range(0, len(user_rows), 1000):
        await database.execute(insert(users), user_rows[start : start + 1000])
        await database.execute(insert(offers), offer_rows[start : start + 1000])
    await database.dispose()
    return made


# Load --------------------------------------------------------------------------------------------


def post(path: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def send_all(
    port: int, requests: list[bytes]
) -> tuple[list[float], list[int], list[bytes], float]:
    """Send every request once over ``CONNECTIONS`` keep-alive connections; latencies, status
    codes, bodies (in request order) and the seconds it all took."""
    latencies: list[float] = []
    statuses: list[int] = [0] * len(requests)
    bodies: list[bytes] = [b""] * len(requests)
    queue = list(range(len(requests)))[::-1]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                index = queue.pop()
                started = time.perf_counter()
                writer.write(requests[index])
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                bodies[index] = await reader.readexactly(length)
                statuses[index] = int(head[9:12])
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return latencies, statuses, bodies, time.perf_counter() - started


async def questions() -> int:
    from sqlalchemy import text

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(bench_url()))
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SHOW GLOBAL STATUS LIKE 'Questions'"))).one()
    await database.dispose()
    return int(row[1])


def http_round(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Holds then payments of ``items`` through a fresh server process."""
    port = free_port()
    server = start_server("real_app", port, server_env(), module="booking")
    try:
        holds = [
            post(
                "/api/v1/bookings",
                item["token"],
                {
                    "offer_id": item["offer"],
                    "passengers": [
                        {
                            "given_name": "Ann",
                            "family_name": "Buyer",
                            "born_on": "1990-01-01",
                            "email": "ann@example.org",
                        }
                    ],
                },
            )
            for item in items
        ]
        before = asyncio.run(questions())
        cpu_before = cpu_seconds(server.pid)
        latencies, statuses, bodies, seconds = asyncio.run(send_all(port, holds))
        hold_cpu = (cpu_seconds(server.pid) or 0) - (cpu_before or 0)
        hold_questions = asyncio.run(questions()) - before - 1
        held = [
            json.loads(body)["data"]
            for body, status in zip(bodies, statuses, strict=True)
            if status == 201
        ]
        failures = [s for s in statuses if s != 201]
        pays = [
            post(
                f"/api/v1/bookings/{booking['reference']}/payments",
                item["token"],
                {
                    "amount": booking["total"],
                    "payment_method": "pm_card_visa",
                },
            )
            for booking, item, status in zip(
                (
                    json.loads(b)["data"] if s == 201 else None
                    for b, s in zip(bodies, statuses, strict=True)
                ),
                items,
                statuses,
                strict=True,
            )
            if status == 201 and booking is not None
        ]
        before = asyncio.run(questions())
        cpu_before = cpu_seconds(server.pid)
        pay_latencies, pay_statuses, _, pay_seconds = asyncio.run(send_all(port, pays))
        pay_cpu = (cpu_seconds(server.pid) or 0) - (cpu_before or 0)
        pay_questions = asyncio.run(questions()) - before - 1
    finally:
        server.terminate()
        server.wait()
    return {
        "held": len(held),
        "hold_failures": failures,
        "holds_per_s": len(held) / seconds,
        "hold_p50": percentile(latencies, 0.5),
        "hold_p99": percentile(latencies, 0.99),
        "hold_statements": hold_questions / max(1, len(holds)),
        "hold_cpu": hold_cpu / max(1, len(holds)),
        "confirmed": sum(1 for s in pay_statuses if s == 201),
        "pays_per_s": sum(1 for s in pay_statuses if s == 201) / pay_seconds,
        "pay_p50": percentile(pay_latencies, 0.5),
        "pay_p99": percentile(pay_latencies, 0.99),
        "pay_statements": pay_questions / max(1, len(pays)),
        "pay_cpu": pay_cpu / max(1, len(pays)),
    }


# The ceiling -------------------------------------------------------------------------------------


def _references() -> Any:
    """Distinct 6-character references for the raw loop's bookings, all run long."""
    for n in itertools.count(1):
        yield "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(n >> (5 * i)) & 31] for i in range(6))


_REFERENCES = _references()


def _statements() -> dict[str, Any]:
    """The SQL of one hold transaction and of the two payment transactions, as the stores send
    them (with the seats given, so no read is needed first)."""
    from sqlalchemy import text

    # The hold's first statement: the user's row locked, its held seats, the offer and the
    # idempotency key (SQLAlchemyBookingStore.hold), then the offer's flights with their taken
    # seats; the key's answer is written with the booking.
    lock = text(
        "SELECT u.id, (SELECT COALESCE(SUM(seat_count), 0) FROM bookings WHERE user_id = u.id"
        " AND status = 'held' AND payment_required_by > :now) AS held, o.*, k.fingerprint,"
        " k.expires_at, k.lease_until, k.status, k.media_type, k.body FROM users u"
        " LEFT OUTER JOIN offers o ON o.id = :offer LEFT OUTER JOIN idempotency_keys k"
        " ON k.user_id = u.id AND k.`key` = :key WHERE u.id = :user FOR UPDATE"
    )
    flight = text(
        "SELECT f.*, a.time_zone, b.time_zone, t.taken, t.lapsed FROM flights f JOIN airports a"
        " ON a.code = f.origin JOIN airports b ON b.code = f.destination LEFT JOIN (SELECT"
        " flight_id, group_concat(CASE WHEN state = 'sold' OR hold_expires_at > :now THEN seat"
        " END) AS taken, sum(CASE WHEN state = 'held' AND hold_expires_at <= :now THEN 1 ELSE 0"
        " END) AS lapsed FROM seats WHERE flight_id = :flight AND state <> 'available' GROUP BY"
        " flight_id) t ON t.flight_id = f.id WHERE f.id = :flight"
    )
    key = text(
        "INSERT INTO idempotency_keys (user_id, `key`, fingerprint, expires_at, lease_until,"
        " status, media_type, body) VALUES (:user, :key, :print, :until, :now, 201,"
        " 'application/json', :answer)"
    )
    add = text(
        "INSERT INTO bookings (id, reference, user_id, offer_id, status, flight_ids, cabin,"
        " passengers, seats, seat_count, total, currency, created_at,"
        " price_guarantee_expires_at, payment_required_by, updated_at) VALUES (:id, :ref,"
        " :user, :offer, 'held', :flight, 'economy', '[]', '[]', 1, 25000, 'GBP', :now, :now,"
        " :until, :now)"
    )
    claim = text(
        "UPDATE seats SET state = 'held', booking_id = :id, hold_expires_at = :until"
        " WHERE flight_id = :flight AND seat IN (:seat) AND state = 'available'"
    )
    take = text(
        "UPDATE flights SET seats_economy = seats_economy - 1 WHERE id = :flight"
        " AND status <> 'cancelled'"
    )
    # The hold's event (the outbox row the relay publishes) and its payment-deadline reminder;
    # a payment's confirmation writes its event and re-plans the reminders (read them and the
    # flights, cancel the deadline's, add the check-in and boarding-pass ones).
    event = text(
        "INSERT INTO outbox (id, type, version, occurred_at, payload, status, next_attempt_at,"
        " attempts, claimed_by, claimed_until, last_error) VALUES (:event, :type, 1, :now,"
        " :payload, 'pending', :now, 0, NULL, NULL, NULL)"
    )
    remind = text(
        "INSERT INTO reminders (id, booking_id, reference, kind, flight_id, due_at, expires_at,"
        " status, attempts, claimed_by, claimed_until, created_at, settled_at, note) VALUES"
        " (:reminder, :id, :ref, 'payment_deadline', NULL, :until, :until, 'planned', 0, NULL,"
        " NULL, :now, NULL, NULL)"
    )
    locked = text("SELECT id FROM bookings WHERE id = :id FOR UPDATE")
    reminders = text(
        "SELECT id, booking_id, reference, kind, flight_id, due_at, expires_at, status,"
        " attempts, claimed_by, claimed_until, created_at, settled_at, note FROM reminders"
        " WHERE booking_id IN (:id) ORDER BY id FOR UPDATE"
    )
    flights = text(
        "SELECT f.*, a.time_zone, b.time_zone FROM flights f JOIN airports a ON a.code ="
        " f.origin JOIN airports b ON b.code = f.destination WHERE f.id IN (:flight)"
    )
    unplan = text(
        "UPDATE reminders SET status = 'cancelled', claimed_by = NULL, claimed_until = NULL,"
        " settled_at = :now, note = 'the booking was paid' WHERE id IN (:reminder)"
        " AND status = 'planned'"
    )
    replan = text(
        "INSERT INTO reminders (id, booking_id, reference, kind, flight_id, due_at, expires_at,"
        " status, attempts, claimed_by, claimed_until, created_at, settled_at, note) VALUES"
        " (:check_in, :id, :ref, 'check_in', :flight, :until, :until, 'planned', 0, NULL, NULL,"
        " :now, NULL, NULL), (:boarding, :id, :ref, 'boarding_pass', :flight, :until, :until,"
        " 'planned', 0, NULL, NULL, :now, NULL, NULL)"
    )
    # A payment (SQLAlchemyPaymentStore.begin, record, confirm): the booking locked with the
    # key's record, the key stored as running, the lease, the pending payment; the capture
    # written down; then the confirmation, the seats sold, the payment, the key's answer.
    paying = text(
        "SELECT b.*, k.fingerprint, k.expires_at, k.lease_until, k.status, k.media_type, k.body"
        " FROM bookings b LEFT OUTER JOIN idempotency_keys k ON k.user_id = :user"
        " AND k.`key` = :pkey WHERE b.reference = :ref FOR UPDATE"
    )
    running = text(
        "INSERT INTO idempotency_keys (user_id, `key`, fingerprint, expires_at, lease_until)"
        " VALUES (:user, :pkey, :print, :until, :until)"
    )
    lease = text(
        "UPDATE bookings SET paying_id = :pay, paying_until = :until WHERE id = :id"
        " AND status = 'held' AND payment_required_by > :now"
        " AND (paying_until IS NULL OR paying_until <= :now) AND NOT (EXISTS (SELECT 1 FROM"
        " flights WHERE flights.id IN (:flight) AND flights.status = 'cancelled'))"
    )
    pay = text(
        "INSERT INTO payments (id, booking_id, amount, currency, method, status, created_at,"
        " updated_at) VALUES (:pay, :id, 25000, 'GBP', 'pm_card_visa', 'pending', :now, :now)"
    )
    confirm = text(
        "UPDATE bookings SET status = 'confirmed', total = 25000, paying_id = NULL,"
        " paying_until = NULL, updated_at = :now WHERE id = :id AND status = 'held'"
        " AND paying_id = :pay AND NOT (EXISTS (SELECT 1 FROM flights WHERE flights.id IN"
        " (:flight) AND flights.status = 'cancelled'))"
    )
    sell = text(
        "UPDATE seats SET state = 'sold', hold_expires_at = NULL WHERE flight_id = :flight"
        " AND booking_id = :id AND state = 'held'"
    )
    captured = text(
        "UPDATE payments SET amount = 25000, currency = 'GBP', method = 'pm_card_visa',"
        " status = 'captured', reference = 'pi_x', failure_code = NULL, refunded = NULL,"
        " updated_at = :now WHERE id = :pay"
    )
    answered = text(
        "UPDATE idempotency_keys SET fingerprint = :print, expires_at = :until, lease_until ="
        " :now, status = 201, media_type = 'application/json', body = :answer"
        " WHERE user_id = :user AND `key` = :pkey"
    )
    return {
        "paying": paying,
        "running": running,
        "answered": answered,
        "lock": lock,
        "flight": flight,
        "key": key,
        "add": add,
        "claim": claim,
        "take": take,
        "lease": lease,
        "pay": pay,
        "confirm": confirm,
        "sell": sell,
        "captured": captured,
        "event": event,
        "remind": remind,
        "locked": locked,
        "reminders": reminders,
        "flights": flights,
        "unplan": unplan,
        "replan": replan,
    }


async def _raw_users(engine: Any, tag: str, count: int, now: datetime) -> None:
    """The raw loop books as users of its own, so the real users' hold limits stay untouched."""
    from sqlalchemy import text

    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            await connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES"
                    " (:id, :email, 'Raw', 'customer', '-', :now)"
                ),
                [
                    {
                        "id": f"raw-{tag}-{i}",
                        "email": f"raw-{tag}-{i}@example.org",
                        "now": now,
                    }
                    for i in range(start, min(start + 1000, count))
                ],
            )


async def raw_round(items: list[dict[str, Any]], seat_of: dict[int, str]) -> dict[str, Any]:
    """The same transactions' statements in a bare loop: 64 tasks, the seats given."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from airline_core.ids import new_id
    from airline_runtime.settings import normalize_database_url

    engine = create_async_engine(
        normalize_database_url(bench_url()),
        pool_size=20,
        max_overflow=20,
        isolation_level="READ COMMITTED",
        # Every transaction here ends in COMMIT: no ROLLBACK when a connection goes back (the
        # real app skips it after a committed write too).
        pool_reset_on_return=None,
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    until = now + timedelta(minutes=30)
    sql = _statements()
    # The three transactions of a payment, as SQLAlchemyPaymentStore sends them.
    paying = [
        ["paying", "running", "lease", "pay"],
        ["captured"],
        [
            "locked",
            "confirm",
            "sell",
            "captured",
            "event",
            "reminders",
            "flights",
            "unplan",
            "replan",
            "answered",
        ],
    ]
    hold_reads = [sql["lock"], sql["flight"]]
    # About as long as a real hold's answer, which the key keeps.
    answer = json.dumps({"data": {"reference": "X" * 6, "padding": "x" * 900}})
    # About as long as a one-passenger booking's event.
    payload = json.dumps({"booking": {"reference": "X" * 6, "padding": "x" * 800}})
    tag = uuid.uuid4().hex[:8]
    queue = list(range(len(items)))[::-1]
    booked: list[dict[str, Any]] = []
    oversold = 0

    async def hold_worker() -> None:
        nonlocal oversold
        while queue:
            index = queue.pop()
            item = items[index]
            values = {
                "id": new_id(), "ref": next(_REFERENCES), "user": f"raw-{tag}-{index}",
                "offer": item["offer"], "flight": item["flight"], "seat": seat_of[index],
                "now": now, "until": until, "key": f"raw-{tag}-{index}", "print": "0" * 64,
                "answer": answer, "event": new_id(), "type": "booking.held", "payload": payload,
                "reminder": new_id(),
            }  # fmt: skip
            async with engine.begin() as connection:
                for read in hold_reads:
                    (await connection.execute(read, values)).all()
                if (await connection.execute(sql["claim"], values)).rowcount != 1:
                    oversold += 1
                await connection.execute(sql["add"], values)
                await connection.execute(sql["key"], values)
                await connection.execute(sql["event"], values)
                await connection.execute(sql["remind"], values)
                await connection.execute(sql["take"], values)
            booked.append(values)

    async def pay_worker() -> None:
        while booked:
            values = booked.pop()
            values = {**values, "pay": new_id(), "pkey": f"pay-{values['key']}",
                      "until": now + timedelta(minutes=2), "event": new_id(),
                      "type": "booking.confirmed", "check_in": new_id(),
                      "boarding": new_id()}  # fmt: skip
            for transaction in paying:
                async with engine.begin() as connection:
                    for name in transaction:
                        result = await connection.execute(sql[name], values)
                        if result.returns_rows:
                            result.all()

    await _raw_users(engine, tag, len(items), now)
    started = time.perf_counter()
    await asyncio.gather(*(hold_worker() for _ in range(CONNECTIONS)))
    hold_seconds = time.perf_counter() - started
    holds = len(booked)
    started = time.perf_counter()
    await asyncio.gather(*(pay_worker() for _ in range(CONNECTIONS)))
    pay_seconds = time.perf_counter() - started
    await engine.dispose()
    return {
        "holds_per_s": holds / hold_seconds,
        "pays_per_s": holds / pay_seconds,
        "oversold": oversold,
    }


async def check_sold(flight_ids: list[str]) -> tuple[int, int]:
    """(seats in two bookings, flights whose seats left disagree with their seat rows)."""
    from sqlalchemy import text

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(bench_url()))
    async with database.engine.connect() as connection:
        doubled = (
            await connection.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT b.id, j.seat FROM bookings b,"
                    " JSON_TABLE(b.seats, '$[*]' COLUMNS (flight VARCHAR(26) PATH '$[0]',"
                    " seat VARCHAR(4) PATH '$[2]')) j WHERE b.status IN ('held', 'confirmed')"
                    " GROUP BY j.flight, j.seat HAVING COUNT(*) > 1) twice"
                )
            )
        ).scalar()
        wrong = (
            await connection.execute(
                text(
                    "SELECT COUNT(*) FROM flights f WHERE f.seats_economy <> f.capacity_economy -"
                    " (SELECT COUNT(*) FROM seats s WHERE s.flight_id = f.id"
                    " AND s.state <> 'available')"
                )
            )
        ).scalar()
    await database.dispose()
    return int(doubled or 0), int(wrong or 0)


def scenario(name: str, flight_ids: list[str], per_flight: int, rounds: int) -> None:
    import random

    print(f"{name}: {per_flight * len(flight_ids):,} one-seat holds over {len(flight_ids)} flights"
          f" of {SEATS} seats, {CONNECTIONS} clients, then their payments")  # fmt: skip
    real_rows: list[dict[str, Any]] = []
    raw_rows: list[dict[str, Any]] = []
    rng = random.Random(5)
    # Each round books flights of its own: the real app and the raw loop never meet.
    groups = [flight_ids[i :: rounds * 2] for i in range(rounds * 2)]
    for round_number in range(rounds):
        order = ["real", "raw"] if round_number % 2 == 0 else ["raw", "real"]
        for position, kind in enumerate(order):
            flights = groups[round_number * 2 + position]
            targets = [f for f in flights for _ in range(per_flight)]
            rng.shuffle(targets)
            items = asyncio.run(buyers_and_offers(targets))
            if kind == "real":
                result = http_round(items)
                real_rows.append(result)
                print(
                    f"  round {round_number + 1} real: held {result['held']}"
                    f" ({result['holds_per_s']:.0f}/s, p50 {result['hold_p50'] * 1000:.0f} ms,"
                    f" p99 {result['hold_p99'] * 1000:.0f} ms), confirmed {result['confirmed']}"
                    f" ({result['pays_per_s']:.0f}/s, p99 {result['pay_p99'] * 1000:.0f} ms);"
                    f" statements per request: hold {result['hold_statements']:.1f},"
                    f" pay {result['pay_statements']:.1f}; worker CPU per request: hold"
                    f" {result['hold_cpu'] * 1000:.1f} ms, pay {result['pay_cpu'] * 1000:.1f} ms"
                    + (
                        f"; failed holds {sorted(set(result['hold_failures']))}"
                        if result["hold_failures"]
                        else ""
                    ),
                    flush=True,
                )
            else:
                seats = [f"{row}{letter}" for row in range(1, ROWS + 1)
                         for letter in LETTERS.replace("-", "")]  # fmt: skip
                used: dict[str, int] = {}
                seat_of = {}
                for index, item in enumerate(items):
                    n = used.get(item["flight"], 0)
                    used[item["flight"]] = n + 1
                    seat_of[index] = seats[n]
                result = asyncio.run(raw_round(items, seat_of))
                raw_rows.append(result)
                print(
                    f"  round {round_number + 1}  raw: {result['holds_per_s']:.0f} holds/s,"
                    f" {result['pays_per_s']:.0f} confirmations/s",
                    flush=True,
                )
    doubled, wrong = asyncio.run(check_sold(flight_ids))
    for what, key in (("held", "holds_per_s"), ("confirmed", "pays_per_s")):
        real = statistics.median(row[key] for row in real_rows)
        raw = statistics.median(row[key] for row in raw_rows)
        ratios = [r[key] / w[key] for r, w in zip(real_rows, raw_rows, strict=True)]
        print(
            f"  {what}: real {real:.0f}/s, ceiling {raw:.0f}/s, ratio {real / raw:.2f}"
            f" (per round {', '.join(f'{x:.2f}' for x in ratios)}; target 0.60)"
        )
    print(f"  oversold: {doubled} seats in two bookings, {wrong} flights whose seats left"
          " disagree with their seat rows")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round each, smaller")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["hot", "spread"], help="run one scenario")
    arguments = parser.parse_args()
    rounds = 1 if arguments.quick else arguments.rounds
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    asyncio.run(fresh_database())
    spread_flights = 100
    hot, _ = asyncio.run(schedule(2 * rounds + 2 * rounds * spread_flights))
    hot_flights, spread = hot[: 2 * rounds], hot[2 * rounds :]
    print(
        "in transaction, per hold: 8 statements (+ COMMIT): context read, flights with their taken"
        " seats, claim, booking, idempotency answer, event, reminder, seats left; see"
        " docs/booking.md"
    )
    if arguments.only != "spread":
        scenario("hot flight", hot_flights, SEATS if not arguments.quick else 300, rounds)
    if arguments.only != "hot":
        scenario("spread", spread, 30 if not arguments.quick else 10, rounds)


if __name__ == "__main__":
    main()
