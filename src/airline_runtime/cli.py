"""The ``airline`` command.

Typer commands are plain functions that call :func:`anyio.run` (typer never awaits an ``async
def``). Every failure the user can cause or fix ends as one line on stderr and exit status 1;
usage mistakes exit with 2, as typer does.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import anyio
import typer

from airline_core import AirlineError, __version__
from airline_runtime.seed import BUSIEST_AIRPORTS
from airline_runtime.settings import Settings, SettingsError

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="airline",
    help="An airline booking backend: API server, database tools and demo data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema tools.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
bookings_app = typer.Typer(help="Bookings, for an operator.", no_args_is_help=True)
app.add_typer(bookings_app, name="bookings")
outbox_app = typer.Typer(help="The outbox of events and its relay.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
notifications_app = typer.Typer(help="Notifications sent and refused.", no_args_is_help=True)
app.add_typer(notifications_app, name="notifications")
reminders_app = typer.Typer(help="Reminders of bookings and their sweep.", no_args_is_help=True)
app.add_typer(reminders_app, name="reminders")


def fail(message: str) -> NoReturn:
    """Print ``message`` as one line on stderr (driver messages may span several) and exit 1."""
    typer.echo(f"airline: error: {' '.join(message.split())}", err=True)
    raise typer.Exit(1)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn the errors a user can cause or fix into one line on stderr."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except (SettingsError, AirlineError) as error:
        fail(str(error))
    except DBAPIError as error:
        fail(f"database error: {str(error.orig).strip() or type(error.orig).__name__}")
    except OSError as error:
        fail(str(error))


def _run(work: Callable[[], Awaitable[T]]) -> T:
    with _one_line_errors():
        return anyio.run(work, backend_options=_loop_options())
    # Only reached if the context manager swallowed an error, which it never does (it exits).
    raise AssertionError("unreachable")  # pragma: no cover


def _loop_options() -> dict[str, bool]:
    try:
        import uvloop  # noqa: F401 - only probing whether it is installed
    except ImportError:  # pragma: no cover - Windows
        return {}
    return {"use_uvloop": True}


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    with _one_line_errors():
        settings = Settings.from_env()
    if host is not None or port is not None:
        from attrs import evolve

        settings = evolve(
            settings,
            host=host if host is not None else settings.host,
            port=port if port is not None else settings.port,
        )
    return settings


def _version(value: bool) -> None:
    if value:
        typer.echo(f"airline {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Settings come from AIRLINE_* environment variables; see `airline serve --help`."""


HostOption = Annotated[
    str | None,
    typer.Option(help="Address to listen on (default: AIRLINE_HOST, else 127.0.0.1)."),
]
PortOption = Annotated[
    int | None,
    typer.Option(min=1, max=65535, help="Port to listen on (default: AIRLINE_PORT, else 8000)."),
]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to this version's (safe to run again)."""
    settings = _settings()

    async def work() -> tuple[str | None, str | None]:
        from airline_runtime.db import create_database, upgrade

        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = create_database(settings.effective_database_url)
        try:
            return await upgrade(database)
        finally:
            await database.dispose()

    before, after = _run(work)
    if before == after:
        typer.echo(f"database schema already at {after}")
    else:
        typer.echo(f"database schema upgraded from {before or 'nothing'} to {after}")


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The admin's email address.")],
    name: Annotated[str, typer.Option(help="The admin's name.")] = "Administrator",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
) -> None:
    """Create an admin account (asks for the password twice unless --password-stdin)."""
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work() -> str:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            user = await runtime.airline.accounts.create_admin(
                email=email, password=password, name=name
            )
        return f"admin {user.email} created (id {user.id})"

    typer.echo(_run(work))


@app.command()
def seed(
    airports: Annotated[
        int,
        typer.Option(
            min=2, max=len(BUSIEST_AIRPORTS), help="How many of the busiest airports to serve."
        ),
    ] = 40,
    days: Annotated[int, typer.Option(min=1, max=730, help="How many days of schedule.")] = 14,
    start: Annotated[
        str | None, typer.Option(help="First day of the schedule, YYYY-MM-DD (default: tomorrow).")
    ] = None,
    random_seed: Annotated[
        int, typer.Option("--seed", help="Seed of the generator: same seed, same schedule.")
    ] = 7,
    density: Annotated[
        int, typer.Option(min=1, max=4, help="Multiply every route's daily departures.")
    ] = 1,
) -> None:
    """Load real airports (airportsdata), realistic airplanes and a generated schedule."""
    settings = _settings()
    first_day: date | None = None
    if start is not None:
        try:
            first_day = date.fromisoformat(start)
        except ValueError:
            fail(f"--start: {start!r} is not a date such as 2026-12-01")
        if first_day < datetime.now(UTC).date():
            fail(f"--start: {start} is in the past; a schedule starts today or later")

    async def work() -> str:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TimeElapsedColumn,
        )

        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.seed import seed_catalog

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
            console=None,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
                report = await seed_catalog(
                    runtime.airline,
                    airports=airports,
                    days=days,
                    start=first_day,
                    seed=random_seed,
                    density=density,
                    progress=progress,
                )
                if runtime.database is not None:
                    # A bulk load leaves the planner's statistics behind (see Database).
                    await runtime.database.refresh_statistics()
        return str(report)

    typer.echo(_run(work))


@app.command()
def search(
    origin: Annotated[str, typer.Argument(help="Airport or city code, such as LHR or LON.")],
    destination: Annotated[str, typer.Argument(help="Airport or city code, such as JFK.")],
    day: Annotated[
        str, typer.Argument(metavar="DATE", help="Local date of departure, YYYY-MM-DD.")
    ],
    passengers: Annotated[int, typer.Option(help="Travellers, 1..9.")] = 1,
    cabin: Annotated[
        str, typer.Option(help="first, business, premium_economy or economy.")
    ] = "economy",
    max_stops: Annotated[int, typer.Option(help="Connections allowed, 0..2.")] = 1,
    sort: Annotated[str, typer.Option(help="best, price, departure or duration.")] = "best",
    min_price: Annotated[str | None, typer.Option(help="Lowest total price.")] = None,
    max_price: Annotated[str | None, typer.Option(help="Highest total price.")] = None,
    depart_after: Annotated[
        str | None, typer.Option(help="Earliest local departure, HH:MM.")
    ] = None,
    depart_before: Annotated[
        str | None, typer.Option(help="Latest local departure, HH:MM.")
    ] = None,
    airlines: Annotated[str | None, typer.Option(help="Airline codes, such as BA,AA.")] = None,
    max_duration: Annotated[int | None, typer.Option(help="Longest trip, in minutes.")] = None,
    limit: Annotated[int, typer.Option(help="Itineraries per page, 1..200.")] = 20,
    after: Annotated[str | None, typer.Option(help="Cursor of the next page.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON answer instead of a table.")
    ] = False,
) -> None:
    """Search flights as GET /api/v1/search/flights does, on the configured database."""
    settings = _settings()
    try:
        departure_day = date.fromisoformat(day)
    except ValueError:
        fail(f"DATE: {day!r} is not a date such as 2026-12-01")

    async def work() -> tuple[Any, Any]:
        from airline_core import PageRequest
        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.http.search import search_query

        query = search_query(
            origin=origin,
            destination=destination,
            day=departure_day,
            passengers=passengers,
            cabin=cabin,
            max_stops=max_stops,
            sort=sort,
            min_price=min_price,
            max_price=max_price,
            depart_after=depart_after,
            depart_before=depart_before,
            airlines=airlines,
            max_duration=max_duration,
        )
        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            page = await runtime.airline.search(query, PageRequest(limit=limit, after=after))
            return page, runtime.airline.flight_search.weights

    page, weights = _run(work)
    from airline_runtime.http.schemas import ItineraryList, itinerary_out, meta_of

    answer = ItineraryList(
        data=[itinerary_out(itinerary, weights) for itinerary in page.items], meta=meta_of(page)
    )
    if as_json:
        import msgspec

        typer.echo(msgspec.json.encode(answer).decode())
        return
    _print_itineraries(answer)


def _print_itineraries(answer: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    if not answer.data:
        typer.echo("no itineraries")
        return
    table = Table(box=None, header_style="bold")
    for heading in ("departs", "arrives", "route", "flights", "stops", "time", "price", "seats"):
        table.add_column(heading, justify="right" if heading in {"stops", "seats"} else "left")
    for itinerary in answer.data:
        first, last = itinerary.segments[0], itinerary.segments[-1]
        hours, minutes = divmod(itinerary.duration_minutes, 60)
        table.add_row(
            first.departs_at[:16].replace("T", " "),
            last.arrives_at[:16].replace("T", " "),
            "-".join([first.origin, *(segment.destination for segment in itinerary.segments)]),
            " ".join(segment.number for segment in itinerary.segments),
            str(itinerary.stops),
            f"{hours}h{minutes:02d}",
            f"{itinerary.price.amount} {itinerary.price.currency}",
            str(itinerary.seats_available),
        )
    Console(width=120).print(table)
    if answer.meta.after:
        typer.echo(f"more: --after {answer.meta.after}")


def _operator() -> Any:
    """Who the CLI acts as: an operator, who may see and cancel any booking."""
    from airline_core import Principal, Role

    return Principal(user_id="operator", role=Role.ADMIN)


_STATE_MARKS = {"available": ".", "held": "h", "sold": "x"}


@app.command()
def seatmap(
    flight_id: Annotated[str, typer.Argument(metavar="FLIGHT", help="The flight's id.")],
    cabin: Annotated[
        str, typer.Option(help="first, business, premium_economy or economy.")
    ] = "economy",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON answer instead of a grid.")
    ] = False,
) -> None:
    """Draw a flight's cabin as a grid: . available, h held, x sold; | an aisle."""
    settings = _settings()

    async def work() -> Any:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            return await runtime.airline.seat_map(flight_id, cabin)

    seat_map = _run(work)
    if as_json:
        import msgspec

        from airline_runtime.http.booking import SeatMapResponse, seat_map_out

        typer.echo(msgspec.json.encode(SeatMapResponse(data=seat_map_out(seat_map))).decode())
        return
    typer.echo(draw_seat_map(seat_map))


def draw_seat_map(seat_map: Any) -> str:
    """The cabin as text: a heading of seat letters, then a line per row, front first."""
    pattern = seat_map.layout.seats
    states = {entry.seat: entry.state.value for entry in seat_map.seats}
    exits = set(seat_map.layout.exit_rows)
    lines = [f"{seat_map.cabin.value} cabin of flight {seat_map.flight_id}"]
    lines.append("     " + " ".join("|" if c == "-" else c for c in pattern))
    for row in seat_map.layout.rows:
        marks = " ".join("|" if c == "-" else _STATE_MARKS[states[f"{row}{c}"]] for c in pattern)
        lines.append(f"{row:>3}  {marks}{'  exit' if row in exits else ''}")
    counts = {state: list(states.values()).count(state) for state in _STATE_MARKS}
    lines.append(", ".join(f"{count} {state}" for state, count in counts.items()))
    return "\n".join(lines)


def _print_booking(booking: Any, now: datetime) -> None:
    typer.echo(
        f"{booking.reference}  {booking.status_at(now).value}  {booking.cabin.value}  "
        f"{booking.total}  flights {' '.join(booking.flight_ids)}"
    )
    typer.echo(
        f"  made {booking.created_at.isoformat()}, pay by {booking.payment_required_by.isoformat()}"
        f", price kept until {booking.price_guarantee_expires_at.isoformat()}"
    )
    for index, passenger in enumerate(booking.passengers):
        seats = ", ".join(
            f"{seat.seat} on {seat.flight_id}" for seat in booking.seats if seat.passenger == index
        )
        typer.echo(f"  {index}: {passenger.given_name} {passenger.family_name}: {seats}")


@bookings_app.command("show")
def bookings_show(
    reference: Annotated[str, typer.Argument(help="The record locator, such as K7QX2M.")],
) -> None:
    """Look a booking up by its record locator."""
    settings = _settings()

    async def work() -> tuple[Any, datetime]:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            airline = runtime.airline
            return await airline.bookings.get(reference.upper(), _operator()), airline.clock.now()

    booking, now = _run(work)
    _print_booking(booking, now)


@bookings_app.command("list")
def bookings_list(
    limit: Annotated[int, typer.Option(help="Bookings per page, 1..200.")] = 50,
    after: Annotated[str | None, typer.Option(help="Cursor of the next page.")] = None,
) -> None:
    """Every booking, oldest first."""
    settings = _settings()

    async def work() -> tuple[Any, datetime]:
        from airline_core import PageRequest
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            airline = runtime.airline
            page = await airline.bookings.list(_operator(), PageRequest(limit=limit, after=after))
            return page, airline.clock.now()

    page, now = _run(work)
    if not page.items:
        typer.echo("no bookings")
    for booking in page.items:
        typer.echo(
            f"{booking.reference}  {booking.status_at(now).value:<9}  {booking.total}  "
            f"{booking.seat_count} seats  {booking.created_at.isoformat()}"
        )
    if page.after:
        typer.echo(f"more: --after {page.after}")


@bookings_app.command("cancel")
def bookings_cancel(
    reference: Annotated[str, typer.Argument(help="The record locator, such as K7QX2M.")],
) -> None:
    """Cancel a booking and free its seats."""
    settings = _settings()

    async def work() -> tuple[Any, datetime]:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            airline = runtime.airline
            return await airline.cancel(reference.upper(), _operator()), airline.clock.now()

    booking, now = _run(work)
    _print_booking(booking, now)


@bookings_app.command("expire")
def bookings_expire(
    limit: Annotated[int, typer.Option(help="Most holds to expire in this pass.")] = 500,
) -> None:
    """Mark expired the unpaid holds whose deadline passed, and free their seats (one pass
    of the sweep; safe to run from cron on several machines at once)."""
    settings = _settings()

    async def work() -> int:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            return await runtime.airline.bookings.expire_due(limit)

    typer.echo(f"{_run(work)} holds expired")


MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve Prometheus metrics of this process on this port (default: none).",
    ),
]


def _serve_metrics(runtime: Any, port: int | None) -> None:
    """Serve the process's messaging metrics on ``AIRLINE_HOST`` at ``port``, if one is given."""
    if port is not None:
        from prometheus_client import start_http_server

        start_http_server(
            port, addr=runtime.settings.host, registry=runtime.messaging_metrics.registry
        )


def _run_messaging(*, relay: bool, consume: bool, metrics_port: int | None) -> None:
    from airline_runtime.logs import configure_logging

    settings = _settings()
    configure_logging(settings)

    async def work() -> None:
        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.messaging.service import run_messaging

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            _serve_metrics(runtime, metrics_port)
            where = "RabbitMQ" if runtime.broker else "the in-process bus (relay and worker)"
            typer.echo(f"{'worker' if consume else 'relay'} running over {where}; Ctrl-C stops")
            await run_messaging(runtime, relay=relay, consume=consume)

    with contextlib.suppress(KeyboardInterrupt):
        _run(work)


@app.command()
def worker(metrics_port: MetricsPortOption = None) -> None:
    """Run the notification service: booking events in, email and SMS out.

    With AIRLINE_AMQP_URL it consumes its RabbitMQ queue (run as many as you like); without it
    the bus is in-process, so this also relays the outbox to itself. Notifiers come from
    AIRLINE_NOTIFIER (console: one file per message under AIRLINE_NOTIFICATIONS_DIR, default
    <data dir>/notifications).
    """
    _run_messaging(relay=False, consume=True, metrics_port=metrics_port)


@outbox_app.command("relay")
def outbox_relay(metrics_port: MetricsPortOption = None) -> None:
    """Publish the outbox's events to RabbitMQ once it confirms them (run several: their
    claims never overlap). Without AIRLINE_AMQP_URL the worker runs in this process too."""
    _run_messaging(relay=True, consume=False, metrics_port=metrics_port)


@outbox_app.command("status")
def outbox_status() -> None:
    """Pending and failed events, and how far behind the relay is."""
    settings = _settings()

    async def work() -> Any:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            return runtime.airline.clock.now(), await runtime.airline.outbox.status()

    now, status = _run(work)
    behind = (
        ""
        if status.oldest_pending_at is None
        else (f", oldest {int((now - status.oldest_pending_at).total_seconds())} s old")
    )
    typer.echo(f"pending: {status.pending}{behind}")
    typer.echo(f"failed:  {status.failed}")
    for event_id, kind, error in status.failures:
        typer.echo(f"  {event_id}  {kind:<18} {error}")
    if status.failed:
        typer.echo("(`airline outbox requeue` sends the failed events again)")


@outbox_app.command("requeue")
def outbox_requeue() -> None:
    """Make every failed event pending again, for the relay to retry at once."""
    settings = _settings()

    async def work() -> int:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            return await runtime.airline.outbox.requeue(runtime.airline.clock.now())

    typer.echo(f"{_run(work)} events pending again")


@notifications_app.command("list")
def notifications_list(
    message: Annotated[
        str | None, typer.Option(help="Only the notices of this event (message) id.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Most notices to show.")] = 20,
) -> None:
    """The latest notices, newest first: sent, or refused for good with the reason."""
    settings = _settings()

    async def work() -> Any:
        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.db.inbox import SQLAlchemyInboxStore

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            assert runtime.database is not None  # noqa: S101 - bootstrap opens one
            return await SQLAlchemyInboxStore(runtime.database).records(message, limit)

    for record in _run(work):
        outcome = record.provider_id if record.error is None else f"refused: {record.error}"
        typer.echo(
            f"{record.at:%Y-%m-%d %H:%M:%S}  {record.status.value:<6} {record.channel.value:<5} "
            f"{record.template:<18} {record.to}  {outcome}"
        )


@app.command()
def scheduler(
    relay: Annotated[
        bool,
        typer.Option(
            "--relay/--no-relay",
            help="Also run the outbox relay as a job (leave it out when `airline outbox relay` "
            "processes run apart).",
        ),
    ] = True,
    metrics_port: MetricsPortOption = None,
) -> None:
    """Run the scheduler: the reminder sweep (AIRLINE_REMINDER_SWEEP_CRON, every minute), the
    booking housekeeping (AIRLINE_HOUSEKEEPING_CRON: expire unpaid holds, retry refunds) and
    the outbox relay, as cron jobs (UTC).

    Run two or more for availability: every job is a claim on shared rows, so they share the
    work and never send a reminder twice. Both sweeps run at start, catching up on whatever
    fell due while no scheduler ran.
    """
    from airline_runtime.logs import configure_logging

    settings = _settings()
    configure_logging(settings)

    async def work() -> None:
        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.scheduling import Scheduler

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            _serve_metrics(runtime, metrics_port)
            jobs = "reminders, housekeeping" + (", relay" if relay else "")
            typer.echo(f"scheduler running ({jobs}); Ctrl-C stops")
            await Scheduler(runtime, relay=relay).run()

    with contextlib.suppress(KeyboardInterrupt):
        _run(work)


@reminders_app.command("list")
def reminders_list(
    booking: Annotated[
        str | None, typer.Option("--booking", help="Only this booking's (record locator).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Only this kind: check_in, boarding_pass, payment_deadline, flight_changed."
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these statuses (repeat the option): planned (default), sent, skipped, "
            "cancelled."
        ),
    ] = None,
    within: Annotated[
        float | None, typer.Option(min=0, help="Only those due within this many hours.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Most reminders to show.")] = 50,
) -> None:
    """Reminders, soonest first: by default the planned ones (upcoming, and overdue ones the
    next sweep sends)."""
    from datetime import timedelta

    from airline_core.reminders import ReminderKind, ReminderQuery, ReminderStatus

    try:
        statuses = frozenset(ReminderStatus(s) for s in status or ["planned"])
        chosen = None if kind is None else ReminderKind(kind)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    settings = _settings()

    async def work() -> tuple[Any, datetime]:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            airline = runtime.airline
            now = airline.clock.now()
            query = ReminderQuery(
                statuses=statuses,
                kind=chosen,
                reference=None if booking is None else booking.upper(),
                due_before=None if within is None else now + timedelta(hours=within),
                limit=limit,
            )
            return await airline.reminders.find(query), now

    found, now = _run(work)
    if not found:
        typer.echo("no reminders")
    for reminder in found:
        late = " (overdue)" if reminder.status.value == "planned" and reminder.due_at <= now else ""
        note = f"  {reminder.note}" if reminder.note else ""
        typer.echo(
            f"{reminder.due_at:%Y-%m-%d %H:%M:%S}Z  {reminder.reference}  "
            f"{reminder.kind.value:<16} {reminder.status.value:<9} "
            f"flight {reminder.flight_id or '-'}{late}{note}"
        )


@reminders_app.command("sweep")
def reminders_sweep(
    limit: Annotated[
        int | None, typer.Option(min=1, help="Most reminders to handle in this pass.")
    ] = None,
) -> None:
    """Send every reminder that is due (one pass of the scheduler's sweep), for cron or a
    Kubernetes CronJob; safe to run on several machines at once. With the in-process bus the
    reminders wait in the outbox for `airline worker` or `airline demo`."""
    settings = _settings()

    async def work() -> Any:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded) as runtime:
            return await runtime.airline.reminders.sweep(limit=limit)

    report = _run(work)
    typer.echo(f"{report.sent} reminders sent, {report.skipped} skipped")


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each a full API server).")
    ] = 1,
) -> None:
    """Run the HTTP API (Litestar on uvicorn).

    On the embedded default (no AIRLINE_DATABASE_URL) the SQLite schema is created or upgraded
    first; on MySQL run `airline db upgrade` once per release instead.
    """
    import uvicorn

    settings = _settings(host, port)

    async def check() -> None:
        from airline_runtime.bootstrap import bootstrap

        async with bootstrap(settings, migrate=settings.is_embedded):
            pass

    _run(check)
    from airline_runtime.http.observability import prepare_multiprocess_metrics
    from airline_runtime.logs import configure_logging

    configure_logging(settings)
    metrics_dir = None
    if workers > 1:
        # Each worker counts in files here; a scrape of any worker adds them all up.
        metrics_dir = Path(tempfile.mkdtemp(prefix="airline-metrics-"))
        prepare_multiprocess_metrics(metrics_dir)
    typer.echo(f"API on http://{settings.host}:{settings.port}/api/v1 ({workers} worker(s))")
    try:
        uvicorn.run(
            "airline_runtime.http.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            loop="auto",
            http="auto",
            proxy_headers=False,
            server_header=False,
            # Our middleware writes one structured access line per request.
            log_config=None,
            access_log=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def demo(host: HostOption = None, port: PortOption = None) -> None:
    """Everything in one process: schema, demo data on first start, then the API, the
    outbox relay, the notification worker and the reminder sweep.

    Runs on the embedded default (a SQLite file under AIRLINE_DATA_DIR, default ./airline-data;
    delete it to start afresh) unless AIRLINE_DATABASE_URL names another database, which it then
    upgrades and, if it has no airports yet, fills with the demo data.
    """
    import uvicorn

    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.http import create_app
    from airline_runtime.logs import configure_logging
    from airline_runtime.messaging.service import run_messaging
    from airline_runtime.scheduling import Scheduler
    from airline_runtime.seed import seed_demo

    settings = _settings(host, port)
    configure_logging(settings)

    async def work() -> None:
        async with bootstrap(settings, migrate=True) as runtime:
            report = await seed_demo(runtime.airline)
            typer.echo(f"demo data: {report}" if report else "demo data: already loaded")
            base = f"http://{settings.host}:{settings.port}"
            typer.echo(f"API:  {base}/api/v1/flights")
            typer.echo(f"Docs: {base}/schema/swagger")
            typer.echo(f"Mail: {settings.notification_folder} (one file per message)")
            config = uvicorn.Config(
                create_app(runtime=runtime),
                host=settings.host,
                port=settings.port,
                server_header=False,
                log_config=None,
                access_log=False,
            )
            async with anyio.create_task_group() as group:
                # The relay, the notification worker and the reminder sweep, beside the API
                # (which runs the booking housekeeping itself).
                group.start_soon(run_messaging, runtime)
                group.start_soon(Scheduler(runtime, relay=False, housekeeping=False).run)
                await uvicorn.Server(config).serve()
                group.cancel_scope.cancel()

    _run(work)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
