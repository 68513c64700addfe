"""Reminders benchmark: planning in the core, and the sweep on MariaDB against a raw outbox insert.

Requires: the project with its MySQL extra (`pip install -e '.[mysql]'`) and a MariaDB/MySQL
server; `AIRLINE_BENCH_REMINDERS_MYSQL_URL` names the database (default
`mysql://root@127.0.0.1:3306/airline_bench_reminders`; it is dropped and made afresh each run,
and dropped at the end). To run: `python benchmarks/reminders.py` (`--rounds N`, `--reminders N`,
`--bookings N`, `--only core` or `--only sweep`).

Template bookings are made through the Airline facade on a fake clock: on a schedule of three
short flights (LHR-CDG BA, CDG-FRA AF, FRA-MAD LH), one confirmed (two passengers) and one held
(one passenger) booking of each itinerary of 1, 2 and 3 flights. Everything else is a clone of
them (new ids and references).

1. **Core** (no I/O; `--bookings` bookings, half confirmed and half held, 1-3 flights each):
   `plan` of each booking; `replan` for the payment of each held booking (its payment deadline
   cancelled, check-in and boarding passes planned) through `Reminders.on_confirm`; `replan` of
   every booking when its first flight moves 30 minutes earlier (each also gets a flight-change
   notice) through `Reminders.on_flight_change`; `dispatch` of the sweep's due reminders (the
   decision and the ReminderDue events) and `encode` of those events, as the sweep does them.
2. **Sweep** on MariaDB: booking rows cloned in bulk, with `--reminders` reminders due (the
   sweep's clock stands 2 hours before the first departure: check-in per airline and the first
   boarding pass of each confirmed booking, the payment deadline of each held one) and the
   reminders of the same bookings that fall due later (the later boarding passes), left planned.
   Each round, in alternating order, after a reset (outbox emptied, every reminder planned again
   with no attempts and no claim):

   - **baseline**: the same ReminderDue events, encoded beforehand, inserted with `add_events`,
     one transaction per batch of 500 (the sweep's batch): what the sweep cannot beat;
   - **1 sweeper**: `Reminders.sweep` over `SQLAlchemyReminderStore`, in this process;
   - **2 sweepers, 2 processes**: two processes, each with its own Database engine (like two
     `airline scheduler` processes), started together;
   - **2 sweepers, 1 process**: two Database engines swept by two tasks of one event loop.

   After each sweep it checks that every due reminder was sent exactly once: that many rows
   `sent` (the later ones still planned, none skipped), that many distinct `reminder.due`
   outbox rows, each with a sent reminder's id and carrying that id, no reminder claimed twice.

Target: 10,000 due reminders dispatched in under 10 seconds (on a 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_URL = "mysql://root@127.0.0.1:3306/airline_bench_reminders"
SECRET = "benchmark-signing-secret-of-at-least-32-chars"
PASSWORD = "a long enough passphrase"
TARGET_SECONDS = 10.0
#: The sweep's batch (Reminders.batch) and so the baseline's.
BATCH = 500
CHUNK = 1_000
#: The templates are made at this instant; the sweep runs at SWEEP_AT.
SETUP_AT = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DEPARTURE = datetime(2030, 3, 21, 9, 0, tzinfo=UTC)
SWEEP_AT = DEPARTURE - timedelta(hours=2)
#: number, origin, destination, departure after DEPARTURE, duration (connections of 1 hour).
LEGS = (
    ("BA304", "LHR", "CDG", timedelta(0), timedelta(minutes=75)),
    ("AF1418", "CDG", "FRA", timedelta(minutes=135), timedelta(minutes=70)),
    ("LH1122", "FRA", "MAD", timedelta(minutes=265), timedelta(minutes=150)),
)
PLACES = (
    ("LHR", "LON", "London", "GB", "Europe/London"),
    ("CDG", "PAR", "Paris", "FR", "Europe/Paris"),
    ("FRA", "FRA", "Frankfurt", "DE", "Europe/Berlin"),
    ("MAD", "MAD", "Madrid", "ES", "Europe/Madrid"),
)
MODES = ("baseline", "1 sweeper", "2 sweepers, 2 processes", "2 sweepers, 1 process")


def bench_url() -> str:
    return os.environ.get("AIRLINE_BENCH_REMINDERS_MYSQL_URL", DEFAULT_URL)


def database_url() -> str:
    from airline_runtime.settings import normalize_database_url

    return normalize_database_url(bench_url())


def quiet() -> None:
    """Keep the driver's notes (DROP DATABASE IF EXISTS of a missing one) and the runtime's
    warning about the test payment gateway out of the figures."""
    for name in ("asyncmy", "airline_runtime"):
        logging.getLogger(name).setLevel(logging.ERROR)


def install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass


# Templates ---------------------------------------------------------------------------------------


async def templates(airline: Any) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Schedule the three flights and book each itinerary of 1, 2 and 3 of them twice, on the
    facade: (confirmed bookings, held bookings, flights by id)."""
    from airline_core import Cabin, CabinLayout, Money, Principal, Role, SeatLayout
    from airline_core.booking import Passenger

    for airport, city, name, country, zone in PLACES:
        await airline.cities.create(code=city, name=name, country=country)
        await airline.airports.create(
            code=airport, name=name, city=city, country=country, time_zone=zone,
            latitude=0.0, longitude=0.0,
        )  # fmt: skip
    plane = await airline.airplanes.create(
        model="Benchmark 180",
        layout=SeatLayout(
            cabins=[CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=30, seats="ABC-DEF")]
        ),
    )
    flights = []
    for number, origin, destination, offset, duration in LEGS:
        departs = DEPARTURE + offset
        flight = await airline.flights.create(
            number=number, airline=number[:2], airplane_id=plane.id, origin=origin,
            destination=destination, departs_at=departs, arrives_at=departs + duration,
            fares={Cabin.ECONOMY: Money(12_000, "GBP")},
        )  # fmt: skip
        flights.append(flight)
    who = []
    for name in ("ann", "bob"):
        user = await airline.accounts.register(
            email=f"{name}@example.org", password=PASSWORD, name=name.title()
        )
        who.append(Principal(user_id=user.id, role=Role.CUSTOMER))
    ann, bob = who

    def party(size: int) -> list[Passenger]:
        return [
            Passenger(
                given_name=f"Ann{chr(65 + n)}",
                family_name="Traveller",
                born_on=date(1990, 5, 17),
                email=f"ann{n}@example.org",
                phone="+447700900123" if n % 2 == 0 else None,
            )
            for n in range(size)
        ]

    confirmed, held = [], []
    for legs in (1, 2, 3):
        ids = [flight.id for flight in flights[:legs]]
        offer = await airline.offer(ann.user_id, ids, Cabin.ECONOMY, 2)
        booking = await airline.hold(ann, offer.id, party(2))
        paid, _ = await airline.pay(ann, booking.reference, booking.total, "pm_card_visa")
        confirmed.append(paid)
        offer = await airline.offer(bob.user_id, ids, Cabin.ECONOMY, 1)
        held.append(await airline.hold(bob, offer.id, party(1)))
    return confirmed, held, {flight.id: flight for flight in flights}


def clones(confirmed: list[Any], held: list[Any]) -> Iterator[Any]:
    """Bookings without end, cycling through the templates (confirmed and held in turn) with
    new ids and distinct references; the held ones' deadlines moved to just after SWEEP_AT."""
    from attrs import evolve

    from airline_core.booking.model import new_locator
    from airline_core.ids import new_id

    shift = SWEEP_AT - timedelta(minutes=25) - SETUP_AT
    order = [booking for pair in zip(confirmed, held, strict=True) for booking in pair]
    references: set[str] = set()
    for template in itertools.cycle(order):
        reference = new_locator()
        while reference in references:
            reference = new_locator()
        references.add(reference)
        booking = evolve(template, id=new_id(), reference=reference)
        if booking.status.value == "held":
            booking = evolve(
                booking,
                created_at=booking.created_at + shift,
                price_guarantee_expires_at=booking.price_guarantee_expires_at + shift,
                payment_required_by=booking.payment_required_by + shift,
                updated_at=booking.updated_at + shift,
            )
        yield booking


def flights_of(booking: Any, flights: dict[str, Any]) -> dict[str, Any]:
    return {flight_id: flights[flight_id] for flight_id in booking.flight_ids}


def workload(
    confirmed: list[Any], held: list[Any], flights: dict[str, Any], count: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """Bookings whose reminders due at SWEEP_AT number ``count``: (bookings, the due
    reminders, their later reminders)."""
    from airline_core.reminders import ReminderRules, plan

    rules = ReminderRules()
    bookings: list[Any] = []
    due: list[Any] = []
    later: list[Any] = []
    made = clones(confirmed, held)
    while len(due) < count:
        booking = next(made)
        planned = plan(booking, flights_of(booking, flights), SWEEP_AT, rules)
        bookings.append(booking)
        due.extend([r for r in planned if r.due_at <= SWEEP_AT][: count - len(due)])
        later.extend(r for r in planned if r.due_at > SWEEP_AT)
    return bookings, due, later


def due_reminders(due: list[Any], bookings: list[Any], flights: dict[str, Any]) -> list[Any]:
    """What the store's claim gives the sweep for ``due``."""
    from attrs import evolve

    from airline_core.reminders import DueReminder

    by_id = {booking.id: booking for booking in bookings}
    claimed = []
    for reminder in due:
        booking = by_id[reminder.booking_id]
        claimed.append(
            DueReminder(
                reminder=evolve(reminder, attempts=1, claimed_by="bench"),
                booking=booking,
                flights=flights_of(booking, flights),
            )
        )
    return claimed


# 1. Core -----------------------------------------------------------------------------------------


def timed(work: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = work()
    return time.perf_counter() - started, count


async def core(bookings_count: int, due_count: int, rounds: int) -> None:
    from attrs import evolve

    from airline_core import Airline, FakeClock
    from airline_core.events import encode
    from airline_core.identity import ScryptPasswordHasher
    from airline_core.reminders import ReminderContext, ReminderRules, dispatch, plan

    clock = FakeClock(SETUP_AT)
    async with Airline.in_memory(
        clock=clock, password_hasher=ScryptPasswordHasher(n=2**4, r=1, p=1)
    ) as airline:
        confirmed, held, flights = await templates(airline)
        hooks = airline.reminders
    rules = ReminderRules()
    bookings = list(itertools.islice(clones(confirmed, held), bookings_count))
    contexts = [(booking, flights_of(booking, flights)) for booking in bookings]
    planned = [plan(booking, by_id, SETUP_AT, rules) for booking, by_id in contexts]
    # The payment of each held booking: the booking as it confirms, its deadline stored.
    paying = [
        ReminderContext(
            booking=booking.confirmed_by(booking.total, SETUP_AT),
            flights=by_id,
            reminders=reminders,
        )
        for (booking, by_id), reminders in zip(contexts, planned, strict=True)
        if booking.status.value == "held"
    ]
    first = flights[confirmed[0].flight_ids[0]]
    moved = evolve(
        first,
        departs_at=first.departs_at - timedelta(minutes=30),
        arrives_at=first.arrives_at - timedelta(minutes=30),
    )
    changed = [
        ReminderContext(booking=booking, flights={**by_id, moved.id: moved}, reminders=reminders)
        for (booking, by_id), reminders in zip(contexts, planned, strict=True)
    ]
    on_confirm = hooks.on_confirm(SETUP_AT)
    on_change = hooks.on_flight_change(moved, SETUP_AT)
    sweep_bookings, due, _ = workload(confirmed, held, flights, due_count)
    claimed = due_reminders(due, sweep_bookings, flights)
    events = dispatch(claimed, SWEEP_AT, rules)[0]

    def run_plan() -> int:
        return sum(len(plan(b, by_id, SETUP_AT, rules)) for b, by_id in contexts)

    def run_confirm() -> int:
        return sum(len(on_confirm(context).add) for context in paying)

    def run_change() -> int:
        return sum(len(on_change(context).add) for context in changed)

    def run_dispatch() -> int:
        return len(dispatch(claimed, SWEEP_AT, rules)[0])

    def run_encode() -> int:
        return len([encode(event) for event in events])

    loads: list[tuple[str, int, Callable[[], int], str]] = [
        ("plan", len(contexts), run_plan, "reminders planned"),
        ("replan on payment", len(paying), run_confirm, "reminders planned"),
        ("replan on a flight's new time", len(changed), run_change, "reminders planned"),
        ("dispatch (decide + ReminderDue)", len(claimed), run_dispatch, "events"),
        ("encode ReminderDue", len(events), run_encode, "events"),
    ]
    held_count = sum(1 for booking in bookings if booking.status.value == "held")
    print(
        f"core, no I/O: {len(bookings):,} bookings ({len(bookings) - held_count:,} confirmed,"
        f" {held_count:,} held; 1-3 flights), {len(claimed):,} due reminders for dispatch",
        flush=True,
    )
    results: dict[str, list[tuple[float, int]]] = {name: [] for name, *_ in loads}
    for number in range(rounds):
        for name, _, work, _ in loads:
            results[name].append(timed(work))
        print(
            f"  round {number + 1}: "
            + "; ".join(
                f"{name} {results[name][-1][1] / results[name][-1][0]:,.0f}/s" for name, *_ in loads
            ),
            flush=True,
        )
    print(f"  {'median of ' + str(rounds) + ' round(s)':<34}{'items':>8}{'made':>8}"
          f"{'seconds':>10}{'items/s':>12}{'made/s':>12}")  # fmt: skip
    for name, items, _, what in loads:
        seconds = statistics.median(elapsed for elapsed, _ in results[name])
        made = results[name][0][1]
        print(
            f"  {name:<34}{items:>8,}{made:>8,}{seconds:>10.3f}{items / seconds:>12,.0f}"
            f"{made / seconds:>12,.0f}  ({what})"
        )


# 2. Sweep on MariaDB -----------------------------------------------------------------------------


async def fresh_database() -> None:
    from sqlalchemy import text

    from airline_runtime.db import create_database, upgrade

    base, _, query = database_url().partition("?")
    server, name = base.rsplit("/", 1)
    admin = create_database(f"{server}/mysql?{query}")
    async with admin.engine.begin() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    await admin.dispose()
    database = create_database(database_url())
    await upgrade(database)
    await database.dispose()


async def drop_database() -> None:
    from sqlalchemy import text

    from airline_runtime.db import create_database

    base, _, query = database_url().partition("?")
    server, name = base.rsplit("/", 1)
    admin = create_database(f"{server}/mysql?{query}")
    async with admin.engine.begin() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    await admin.dispose()


async def load(count: int) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The templates through the facade on MariaDB, then the clones' rows in bulk, and their
    reminders; (bookings, due reminders, later reminders, the due ones' ReminderDue events)."""
    from sqlalchemy import insert, select, text

    from airline_core import FakeClock
    from airline_core.reminders import ReminderRules, dispatch
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.db import create_database
    from airline_runtime.db.reminders import SQLAlchemyReminderStore
    from airline_runtime.db.tables import bookings
    from airline_runtime.settings import Settings

    settings = Settings(database_url=bench_url(), jwt_secret=SECRET, sweep_seconds=0)
    async with bootstrap(settings, clock=FakeClock(SETUP_AT)) as runtime:
        confirmed, held, flights = await templates(runtime.airline)
    made, due, later = workload(confirmed, held, flights, count)
    database = create_database(database_url())
    try:
        # The templates' own reminders and events are not the benchmark's.
        await database.execute(text("DELETE FROM reminders"))
        await database.execute(text("DELETE FROM outbox"))
        ids = [booking.id for booking in (*confirmed, *held)]
        rows = await database.fetch(select(bookings).where(bookings.c.id.in_(ids)))
        template_rows = {row.id: dict(row._mapping) for row in rows}
        template_of = {
            (b.flight_ids, b.status.value): template_rows[b.id] for b in (*confirmed, *held)
        }
        clone_rows = [
            {
                **template_of[(booking.flight_ids, booking.status.value)],
                "id": booking.id,
                "reference": booking.reference,
                "created_at": booking.created_at,
                "price_guarantee_expires_at": booking.price_guarantee_expires_at,
                "payment_required_by": booking.payment_required_by,
                "updated_at": booking.updated_at,
            }
            for booking in made
        ]
        for start in range(0, len(clone_rows), CHUNK):
            await database.execute(insert(bookings), clone_rows[start : start + CHUNK])
        store = SQLAlchemyReminderStore(database)
        everything = [*due, *later]
        for start in range(0, len(everything), CHUNK):
            await store.add(everything[start : start + CHUNK])
        await database.execute(text("ANALYZE TABLE reminders, bookings, outbox"))
    finally:
        await database.dispose()
    events, skipped = dispatch(due_reminders(due, made, flights), SWEEP_AT, ReminderRules())
    assert not skipped, skipped  # noqa: S101 - the workload is built to be sent
    return made, due, later, events


async def reset(database: Any) -> None:
    """The outbox empty and every reminder planned again, never claimed."""
    from sqlalchemy import text

    async def work(connection: Any) -> None:
        await connection.execute(text("DELETE FROM outbox"))
        await connection.execute(
            text(
                "UPDATE reminders SET status = 'planned', attempts = 0, claimed_by = NULL,"
                " claimed_until = NULL, settled_at = NULL, note = NULL"
            )
        )

    await database.write(work)


async def questions(database: Any) -> int:
    from sqlalchemy import text

    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SHOW GLOBAL STATUS LIKE 'Questions'"))).one()
    return int(row[1])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int | None:
    """The local MariaDB/MySQL server's process id (for its CPU time), if there is one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in {"mariadbd", "mysqld"}:
                    return int(entry.name)
            except OSError:
                continue
    return None


async def check(database: Any, due: int, later: int) -> list[str]:
    """What is wrong with the outcome of a sweep of ``due`` reminders (nothing: [])."""
    import json

    from sqlalchemy import text

    counts = (
        await database.fetch(
            text(
                "SELECT (SELECT COUNT(*) FROM reminders WHERE status = 'sent') AS sent,"
                " (SELECT COUNT(*) FROM reminders WHERE status = 'planned') AS planned,"
                " (SELECT COUNT(*) FROM reminders WHERE status NOT IN ('sent', 'planned'))"
                " AS other,"
                " (SELECT COUNT(*) FROM reminders WHERE attempts > 1) AS reclaimed,"
                " (SELECT COUNT(*) FROM outbox WHERE type = 'reminder.due') AS events,"
                " (SELECT COUNT(DISTINCT id) FROM outbox WHERE type = 'reminder.due')"
                " AS distinct_events,"
                " (SELECT COUNT(*) FROM outbox o JOIN reminders r ON r.id = o.id"
                " WHERE r.status = 'sent' AND o.type = 'reminder.due') AS matched"
            )
        )
    )[0]
    wrong = [
        f"{name} {value:,} (expected {expected:,})"
        for name, value, expected in (
            ("sent", counts.sent, due),
            ("planned", counts.planned, later),
            ("skipped or cancelled", counts.other, 0),
            ("claimed more than once", counts.reclaimed, 0),
            ("reminder.due events", counts.events, due),
            ("distinct events", counts.distinct_events, due),
            ("events of sent reminders", counts.matched, due),
        )
        if value != expected
    ]
    rows = await database.fetch(text("SELECT id, payload FROM outbox"))
    mismatched = sum(1 for row in rows if json.loads(row.payload)["reminder_id"] != row.id)
    if mismatched:
        wrong.append(f"{mismatched:,} events carrying another reminder's id")
    return wrong


async def baseline(database: Any, encoded: list[Any]) -> float:
    """Seconds to insert ``encoded`` with add_events, one transaction per batch."""
    from airline_runtime.db.outbox import add_events

    started = time.perf_counter()
    for start in range(0, len(encoded), BATCH):
        chunk = encoded[start : start + BATCH]

        async def work(connection: Any, chunk: list[Any] = chunk) -> None:
            await add_events(connection, chunk, SWEEP_AT)

        await database.write(work)
    return time.perf_counter() - started


def sweeper(database: Any) -> Any:
    from airline_core import FakeClock
    from airline_core.reminders import Reminders
    from airline_runtime.db.reminders import SQLAlchemyReminderStore

    return Reminders(SQLAlchemyReminderStore(database), FakeClock(SWEEP_AT), batch=BATCH)


def sweeper_process(url: str, pipe: Any, warm: Any) -> None:
    """A sweeping process: connects, then sweeps once at each "go" from the pipe."""
    install_uvloop()
    asyncio.run(_serve(url, pipe, warm))


async def _serve(url: str, pipe: Any, warm: Any) -> None:
    from airline_core.events import encode
    from airline_runtime.db import create_database

    database = create_database(url)
    try:
        await database.ping()
        encode(warm)  # the converter's code for ReminderDue made before the clock starts
        reminders = sweeper(database)
        pipe.send("ready")
        while await asyncio.to_thread(pipe.recv) == "go":
            cpu, started = time.process_time(), time.monotonic()
            report = await reminders.sweep()
            ended = time.monotonic()
            pipe.send((report.sent, report.skipped, started, ended, time.process_time() - cpu))
    finally:
        await database.dispose()


async def run_mode(
    mode: str, main_db: Any, pair: list[Any], children: list[Any], encoded: list[Any]
) -> tuple[float, int, int, float]:
    """One timed run of ``mode``: (seconds, sent, skipped, CPU seconds of the sweeping
    processes)."""
    cpu, started = time.process_time(), time.perf_counter()
    if mode == "baseline":
        elapsed = await baseline(main_db, encoded)
        return elapsed, len(encoded), 0, time.process_time() - cpu
    if mode == "1 sweeper":
        report = await sweeper(main_db).sweep()
        elapsed = time.perf_counter() - started
        return elapsed, report.sent, report.skipped, time.process_time() - cpu
    if mode == "2 sweepers, 1 process":
        reports = await asyncio.gather(*(sweeper(db).sweep() for db in pair))
        elapsed = time.perf_counter() - started
        sent = sum(report.sent for report in reports)
        skipped = sum(report.skipped for report in reports)
        return elapsed, sent, skipped, time.process_time() - cpu
    for _, pipe in children:
        pipe.send("go")
    answers = [await asyncio.to_thread(pipe.recv) for _, pipe in children]
    elapsed = max(a[3] for a in answers) - min(a[2] for a in answers)
    return (
        elapsed,
        sum(a[0] for a in answers),
        sum(a[1] for a in answers),
        sum(a[4] for a in answers),
    )


def start_children(url: str, warm: Any) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    children = []
    for _ in range(2):
        mine, theirs = context.Pipe()
        process = context.Process(target=sweeper_process, args=(url, theirs, warm))
        process.start()
        children.append((process, mine))
    return children


def summary(seconds: dict[str, list[float]], due: int, rounds: int) -> None:
    floor = statistics.median(seconds["baseline"])
    print(f"median of {rounds} round(s), {due:,} due reminders (target: under"
          f" {TARGET_SECONDS:.0f} s):")  # fmt: skip
    print(f"  {'':<26}{'median':>9}{'reminders/s':>13}{'of target':>11}{'x baseline':>12}"
          "   each round (s)")  # fmt: skip
    for mode in MODES:
        median = statistics.median(seconds[mode])
        print(
            f"  {mode:<26}{median:>7.2f} s{due / median:>13,.0f}"
            f"{median / TARGET_SECONDS:>11.0%}{median / floor:>12.1f}   "
            + ", ".join(f"{s:.2f}" for s in seconds[mode])
        )


async def sweep_rounds(count: int, rounds: int) -> bool:
    """Set up, run the rounds, print the figures; whether every sweep sent each reminder once.
    The database is dropped at the end, whatever happens."""
    try:
        started = time.perf_counter()
        await fresh_database()
        made, due, later, events = await load(count)
        confirmed = sum(1 for booking in made if booking.status.value == "confirmed")
        print(
            f"sweep on MariaDB: {len(due):,} due reminders ({len(later):,} more planned for"
            f" later) of {len(made):,} cloned bookings ({confirmed:,} confirmed,"
            f" {len(made) - confirmed:,} held), batches of {BATCH};"
            f" set up in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        seconds, failures = await measure(due, later, events, rounds)
    finally:
        await drop_database()
    summary(seconds, len(due), rounds)
    for failure in failures:
        print(f"  FAILED {failure}")
    return not failures


async def measure(
    due: list[Any], later: list[Any], events: list[Any], rounds: int
) -> tuple[dict[str, list[float]], list[str]]:
    """Each round's seconds per mode, and what went wrong."""
    from airline_core.events import encode
    from airline_runtime.db import create_database

    encoded = [encode(event) for event in events]
    url = database_url()
    children = start_children(url, events[0])
    main_db = create_database(url)
    pair = [create_database(url), create_database(url)]
    mariadb = server_pid()
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    failures: list[str] = []
    try:
        for database in (main_db, *pair):
            await database.ping()
        for _, pipe in children:
            if await asyncio.to_thread(pipe.recv) != "ready":
                raise SystemExit("a sweeper process did not start")
        for number in range(rounds):
            for mode in MODES if number % 2 == 0 else MODES[::-1]:
                await reset(main_db)
                before = await questions(main_db)
                server_before = cpu_seconds(mariadb) if mariadb else None
                elapsed, sent, skipped, python_cpu = await run_mode(
                    mode, main_db, pair, children, encoded
                )
                server_after = cpu_seconds(mariadb) if mariadb else None
                statements = await questions(main_db) - before - 1
                seconds[mode].append(elapsed)
                verdict = ""
                if mode != "baseline":
                    wrong = await check(main_db, len(due), len(later))
                    if sent != len(due) or skipped:
                        wrong.insert(0, f"the sweeps reported {sent:,} sent, {skipped:,} skipped")
                    verdict = "; exactly once: ok" if not wrong else "; WRONG: " + ", ".join(wrong)
                    failures.extend(f"round {number + 1} {mode}: {w}" for w in wrong)
                server = (
                    f", MariaDB CPU {server_after - server_before:.2f} s"
                    if server_after is not None and server_before is not None
                    else ""
                )
                print(
                    f"  round {number + 1} {mode:<24} {elapsed:6.2f} s, {sent / elapsed:>7,.0f}"
                    f" reminders/s; Python CPU {python_cpu:.2f} s{server},"
                    f" {statements / (len(due) / BATCH):.1f} statements per batch{verdict}",
                    flush=True,
                )
    finally:
        for process, pipe in children:
            pipe.send("stop")
            process.join(20)
        for database in (main_db, *pair):
            await database.dispose()
    return seconds, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=10_000, help="due reminders to sweep")
    parser.add_argument("--bookings", type=int, default=30_000, help="bookings planned in core")
    parser.add_argument("--only", choices=["core", "sweep"], help="run one part")
    arguments = parser.parse_args()
    install_uvloop()
    quiet()
    ok = True
    if arguments.only != "sweep":
        asyncio.run(core(arguments.bookings, arguments.reminders, arguments.rounds))
    if arguments.only != "core":
        ok = asyncio.run(sweep_rounds(arguments.reminders, arguments.rounds))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
