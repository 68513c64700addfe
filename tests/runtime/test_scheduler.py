"""The scheduler: two scheduler processes sweeping the reminders of 1,000 bookings on MariaDB
send each exactly once and on time; one stopped for 10 minutes of fake time catches up on
restart with nothing missed; real ``airline scheduler`` processes do the same on real time; the
jobs are cron jobs that coalesce, never overlap and never give up on a late run; and the
``airline reminders`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from airline_core import FakeClock, Principal, Role
from airline_core.booking.model import new_locator
from airline_core.ids import new_id
from airline_core.reminders import Reminder, ReminderKind, ReminderStatus, SweepReport
from airline_runtime.bootstrap import Runtime, bootstrap
from airline_runtime.cli import app as cli
from airline_runtime.db.catalog import (
    SQLAlchemyAirplaneStore,
    SQLAlchemyAirportStore,
    SQLAlchemyCityStore,
    SQLAlchemyFlightStore,
)
from airline_runtime.db.tables import bookings, outbox, reminders
from airline_runtime.scheduling import Scheduler
from airline_runtime.settings import Settings
from tests.contract import samples
from tests.contract.test_booking import SMALL, party

pytestmark = pytest.mark.anyio
SECRET = "s" * 48
T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
FLIGHTS = 10
COPIES = 100  # bookings per flight
DEPARTURE = T0 + timedelta(days=3)
SPACING = timedelta(minutes=7)  # between departures: reminders fall due over an hour


def mysql_settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, jwt_secret=SECRET, sweep_seconds=0, data_dir=tmp_path)


async def schedule(runtime: Runtime) -> list[str]:
    """Ten flights LHR-JFK, ``SPACING`` apart; their ids."""
    database = runtime.database
    assert database is not None
    home, country = samples.CITIES["LHR"]
    await SQLAlchemyCityStore(database).add(samples.city(home, "London", country))
    nyc, us = samples.CITIES["JFK"]
    await SQLAlchemyCityStore(database).add(samples.city(nyc, "New York", us))
    for code in ("LHR", "JFK"):
        await SQLAlchemyAirportStore(database).add(samples.airport(code))
    plane = samples.airplane(layout=SMALL)
    await SQLAlchemyAirplaneStore(database).add(plane)
    flights = [
        samples.flight(plane, DEPARTURE + n * SPACING, number=f"BA{100 + n}")
        for n in range(FLIGHTS)
    ]
    await SQLAlchemyFlightStore(database).add_many(flights)
    return [flight.id for flight in flights]


async def book(runtime: Runtime, flight_ids: list[str]) -> int:
    """One paid booking per flight through the airline, each then copied ``COPIES - 1`` times
    with its reminders (fresh ids and references): 1,000 confirmed bookings with 2,000 planned
    reminders. How many reminders are planned."""
    airline, database = runtime.airline, runtime.database
    assert database is not None
    user = await airline.accounts.register(
        email="ann@example.org", password="a long enough passphrase", name="Ann"
    )
    ann = Principal(user_id=user.id, role=Role.CUSTOMER)
    for flight_id in flight_ids:
        offer = await airline.offer(user.id, [flight_id], "economy", 1)
        held = await airline.hold(ann, offer.id, party(1))
        await airline.pay(ann, held.reference, held.total, "pm_card_visa")
    await airline.outbox.claim("test", airline.clock.now(), timedelta(days=1), 1000)  # not ours
    async with database.engine.begin() as connection:
        originals = (await connection.execute(select(bookings))).mappings().all()
        planned = (
            (
                await connection.execute(
                    select(reminders).where(reminders.c.status == ReminderStatus.PLANNED.value)
                )
            )
            .mappings()
            .all()
        )
        copies, copied = [], []
        # Drawn apart: 1,000 random locators out of 32**6 repeat one in about 2,000 runs (a
        # real hold draws again when its locator is taken; this bulk insert could not).
        references = {original["reference"] for original in originals}
        for original in originals:
            for _ in range(COPIES - 1):
                while (reference := new_locator()) in references:
                    pass
                references.add(reference)
                booking_id = new_id()
                copies.append({**original, "id": booking_id, "reference": reference})
                copied.extend(
                    {**row, "id": new_id(), "booking_id": booking_id, "reference": reference}
                    for row in planned
                    if row["booking_id"] == original["id"]
                )
        await connection.execute(insert(bookings), copies)
        await connection.execute(insert(reminders), copied)
    return len(planned) + len(copied)


async def reminder_rows(runtime: Runtime) -> list[Reminder]:
    assert runtime.database is not None
    from airline_runtime.db.reminder_rows import reminder_from_row

    return [reminder_from_row(row) for row in await runtime.database.fetch(select(reminders))]


async def sent_events(runtime: Runtime) -> list[str]:
    assert runtime.database is not None
    query = select(outbox.c.id).where(outbox.c.type == "reminder.due")
    return [row.id for row in await runtime.database.fetch(query)]


async def paid_with_overdue(runtime: Runtime, kind: ReminderKind, *, minutes: int) -> Reminder:
    """A paid booking (of the demo catalog) with one more reminder of ``kind``, due ``minutes``
    ago and of use for an hour; that reminder."""
    from tests.runtime.test_workers import book_and_pay

    reference = await book_and_pay(runtime)
    booking = await runtime.airline.bookings.bookings.get(reference)
    now = runtime.airline.clock.now()
    overdue = Reminder(
        id=new_id(),
        booking_id=booking.id,
        reference=reference,
        kind=kind,
        flight_id=booking.flight_ids[0],
        due_at=now - timedelta(minutes=minutes),
        expires_at=now + timedelta(hours=1),
        created_at=now,
    )
    await runtime.airline.reminders.store.add([overdue])
    return overdue


@pytest.fixture
async def two(
    mysql_empty_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, Runtime, FakeClock]]:
    """Two runtimes on one MariaDB database (each its own connection pool, as two scheduler
    processes have) and the fake clock they share."""
    clock = FakeClock(T0)
    settings = mysql_settings(mysql_empty_url, tmp_path)
    async with (
        bootstrap(settings, migrate=True, clock=clock) as first,
        bootstrap(settings, clock=clock) as second,
    ):
        yield first, second, clock


@pytest.mark.mysql
async def test_two_schedulers_send_the_reminders_of_1000_bookings_exactly_once(
    two: tuple[Runtime, Runtime, FakeClock],
) -> None:
    first, second, clock = two
    total = await book(first, await schedule(first))
    assert total == 2 * FLIGHTS * COPIES
    one, other = Scheduler(first, relay=False), Scheduler(second, relay=False)
    for runtime in (first, second):
        runtime.airline.reminders.batch = 60  # small batches: the two interleave their claims
    reports: list[SweepReport] = []

    async def tick(*schedulers: Scheduler) -> None:
        async with anyio.create_task_group() as group:
            for scheduler in schedulers:

                async def sweep(scheduler: Scheduler = scheduler) -> None:
                    reports.append(await scheduler.sweep_reminders())

                group.start_soon(sweep)

    # Check-in opens for the ten flights over an hour: both schedulers sweep every minute.
    clock.set(DEPARTURE - timedelta(hours=48) - timedelta(minutes=1))
    for _ in range(FLIGHTS * 7 + 2):
        clock.advance(minutes=1)
        await tick(one, other)
    rows = await reminder_rows(first)
    check_ins = [r for r in rows if r.kind is ReminderKind.CHECK_IN]
    assert {r.status for r in check_ins} == {ReminderStatus.SENT}
    assert all(
        r.settled_at is not None and r.settled_at - r.due_at < timedelta(minutes=1)
        for r in check_ins
    )
    assert sum(1 for report in reports if report.sent) >= 2 * FLIGHTS  # both did work

    # Boarding passes: one scheduler alone, stopped for 10 minutes of fake time mid-window.
    clock.set(DEPARTURE - timedelta(hours=3) - timedelta(minutes=1))
    stopped = (clock.now() + timedelta(minutes=20), clock.now() + timedelta(minutes=30))
    missed_while_down = 0
    for _ in range(FLIGHTS * 7 + 2):
        clock.advance(minutes=1)
        if stopped[0] <= clock.now() < stopped[1]:
            missed_while_down += 1
            continue  # down: nobody sweeps
        await tick(other)
    assert missed_while_down == 10
    rows = [r for r in await reminder_rows(first) if r.status is not ReminderStatus.CANCELLED]
    assert len(rows) == total
    assert {r.status for r in rows} == {ReminderStatus.SENT}, "nothing missed, nothing skipped"
    delays = [r.settled_at - r.due_at for r in rows if r.settled_at is not None]
    assert len(delays) == total
    # What fell due while it was down went out at its restart, at most 10 minutes late.
    late = [r for r in rows if r.settled_at is not None and r.settled_at - r.due_at > timedelta(0)]
    assert all(stopped[0] <= r.due_at < stopped[1] for r in late)
    assert len(late) >= COPIES  # a flight's boarding passes fell due while it was down
    assert max(delays) <= timedelta(minutes=10)

    events = await sent_events(first)
    assert len(events) == total
    assert sorted(events) == sorted(r.id for r in rows)  # one event per reminder, its own id
    assert sum(report.sent for report in reports) == total


@pytest.mark.mysql
async def test_scheduler_processes_catch_up_on_start_and_share_the_work(
    mysql_empty_url: str, tmp_path: Path
) -> None:
    """Real ``airline scheduler`` processes on real time: reminders that fell due while none
    ran are sent at their start, each once, by whichever claims it."""
    settings = mysql_settings(mysql_empty_url, tmp_path)
    async with bootstrap(settings, migrate=True) as runtime:
        planned = await book(runtime, await schedule(runtime))
        assert runtime.database is not None
        # Everything fell due a minute ago (and is of use for an hour).
        now = datetime.now(UTC)
        await runtime.database.execute(
            reminders.update().values(
                due_at=now - timedelta(minutes=1), expires_at=now + timedelta(hours=1)
            )
        )
        env = {
            **os.environ,
            "AIRLINE_DATABASE_URL": mysql_empty_url,
            "AIRLINE_JWT_SECRET": SECRET,
            "AIRLINE_SWEEP_SECONDS": "0",
            "AIRLINE_LOG_FORMAT": "console",
            "AIRLINE_DATA_DIR": str(tmp_path),
        }
        command = [sys.executable, "-m", "airline_runtime", "scheduler", "--no-relay"]
        logs = [(tmp_path / f"scheduler{n}.log").open("w") for n in range(2)]
        processes = [
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - our CLI, started once
            for log in logs
        ]
        try:
            with anyio.fail_after(60):
                while len(await sent_events(runtime)) < planned:  # noqa: ASYNC110 - polls the database
                    await anyio.sleep(0.25)
            await anyio.sleep(1)  # anything sent twice would show by now
        finally:
            for process in processes:
                process.terminate()
            for process, log in zip(processes, logs, strict=True):
                process.wait(10)
                log.close()
        rows = [r for r in await reminder_rows(runtime) if r.status is not ReminderStatus.CANCELLED]
        assert len(rows) == planned
        assert {r.status for r in rows} == {ReminderStatus.SENT}
        events = await sent_events(runtime)
        assert sorted(events) == sorted(r.id for r in rows)
        count = await runtime.database.fetch(select(func.count()).select_from(outbox))
        assert count[0][0] == planned + 2 * FLIGHTS  # the bookings' own events were not relayed
        claimants = {r.claimed_by for r in rows} | {None}
        assert claimants == {None}  # settled rows keep no claim


async def test_jobs_are_cron_jobs_that_coalesce_never_overlap_and_run_late(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        sweep_seconds=0,
        reminder_sweep_cron="*/5 * * * *",
        housekeeping_cron="0 * * * *",
    )
    async with bootstrap(settings, migrate=True) as runtime:
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as stack:
            scheduler = Scheduler(runtime).build(stack)
            scheduler.start(paused=True)  # the jobs as they would run, none running
            try:
                jobs = {job.id: job for job in scheduler.get_jobs()}
                assert set(jobs) == {"reminders", "housekeeping", "relay"}
                assert "minute='*/5'" in str(jobs["reminders"].trigger)
                assert "minute='0'" in str(jobs["housekeeping"].trigger)
                for job in jobs.values():
                    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (
                        True,
                        1,
                        None,
                    )
                    # Both sweeps run at start (catching up); the relay starts once, at once.
                    assert job.next_run_time <= datetime.now(UTC)
                assert str(jobs["relay"].trigger).startswith("date[")
            finally:
                scheduler.shutdown(wait=False)
            demo = Scheduler(runtime, relay=False, housekeeping=False).build(stack)
            assert [job.id for job in demo.get_jobs()] == ["reminders"]


async def test_a_running_scheduler_sends_what_is_due_and_its_relay_delivers_it(
    tmp_path: Path,
) -> None:
    """On the embedded default: the scheduler's start-up sweep sends a due reminder and its
    relay job hands it to the in-process worker, which writes the email."""
    settings = Settings(
        data_dir=tmp_path / "data", notifications_dir=tmp_path / "mail", sweep_seconds=0
    )
    async with bootstrap(settings, migrate=True) as runtime:
        from tests.runtime.test_workers import listing, wait_for_files

        due = await paid_with_overdue(runtime, ReminderKind.BOARDING_PASS, minutes=5)
        async with anyio.create_task_group() as group:
            group.start_soon(Scheduler(runtime).run)
            # held and confirmed emails, the confirmation's SMS, the boarding pass by both
            # (and whatever the demo flight's own reminders sent at once)
            files = await wait_for_files(runtime, settings.notification_folder, 5)
            with anyio.fail_after(10):
                while (  # noqa: ASYNC110 - polls the folder
                    len([f for f in listing(settings.notification_folder) if f.startswith(due.id)])
                    < 2
                ):
                    await anyio.sleep(0.05)
            group.cancel_scope.cancel()
    mine = sorted(f for f in listing(settings.notification_folder) if f.startswith(due.id))
    assert [f.split(".")[1] for f in mine] == ["email", "sms"]
    assert len(files) >= 5


runner = CliRunner()


async def test_reminders_commands_list_and_sweep(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", sweep_seconds=0)
    env = {"AIRLINE_DATA_DIR": str(settings.data_dir)}
    async with bootstrap(settings, migrate=True) as runtime:
        overdue = await paid_with_overdue(runtime, ReminderKind.FLIGHT_CHANGED, minutes=1)
        reference = overdue.reference

    def invoke(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    listed = (await anyio.to_thread.run_sync(invoke, "reminders", "list")).splitlines()
    # (the demo flight's own reminders may be due already: it leaves within days)
    assert sorted(line.split()[3] for line in listed) == [
        "boarding_pass",
        "check_in",
        "flight_changed",
    ]
    assert "(overdue)" in next(line for line in listed if "flight_changed" in line)
    assert all(reference in line for line in listed)
    only = await anyio.to_thread.run_sync(
        invoke, "reminders", "list", "--kind", "check_in", "--booking", reference.lower()
    )
    assert len(only.splitlines()) == 1
    due_now = await anyio.to_thread.run_sync(invoke, "reminders", "list", "--within", "0")
    assert "flight_changed" in due_now
    assert all("(overdue)" in line for line in due_now.splitlines())
    swept = await anyio.to_thread.run_sync(invoke, "reminders", "sweep")
    assert swept.strip().endswith("reminders sent, 0 skipped")
    assert int(swept.split()[0]) >= 1
    sent = await anyio.to_thread.run_sync(invoke, "reminders", "list", "--status", "sent")
    assert "flight_changed" in sent
    assert "no reminders" in await anyio.to_thread.run_sync(
        invoke, "reminders", "list", "--status", "skipped"
    )
    bad = runner.invoke(cli, ["reminders", "list", "--kind", "nap"], env=env)
    assert bad.exit_code == 2
