"""Events benchmark: from the outbox on MariaDB through RabbitMQ to the notifier, against a raw
aio-pika publish-with-confirms loop measured in the same run.

Requires: the project with its extras (`pip install -e '.[all]'`), MariaDB/MySQL and RabbitMQ.
`AIRLINE_BENCH_EVENTS_MYSQL_URL` names the database (default
`mysql://root@127.0.0.1:3306/airline_bench_events`; dropped and made afresh each run),
`AIRLINE_BENCH_AMQP_URL` the broker (default `amqp://guest:guest@127.0.0.1:5672/`; the run
declares names of its own under a fresh prefix and deletes them at the end).
To run: `python benchmarks/events.py` (`--events N`, `--rounds N`, `--quick`).

Each round, in alternating order:

- **pipeline**: `airline outbox relay` and `airline worker` run as two processes (as deployed;
  the console notifier, one file per message, into a temporary folder). The round writes N
  `booking.confirmed` events to the outbox in one transaction, each of a one-passenger booking
  with a phone, so each event is two notices (an email and an SMS). The clock runs from that
  commit until the inbox holds N finished messages. It reports events relayed per second (until
  the outbox is empty) and delivered per second (until the last is finished).
- **raw**: one aio-pika connection and channel with publisher confirms, publishing N persistent,
  mandatory messages of the same bodies to a durable topic exchange bound to a quorum queue, in
  batches of 200 whose confirmations are awaited together (the relay's own batching; awaiting each
  confirm in turn is several times slower), then purging the queue. Nothing consumes them.

Each round also prints the CPU time each process spent per event (from Linux `/proc`): the
relay, the worker, the broker (`beam.smp`), the database (`mariadbd`) and this process (the raw
loop's publisher; in a pipeline round, only its progress poll), so that what the cores allow is
read off the same run: N cores can deliver at most N * 1000 / (ms of CPU per event, all
processes) events a second.

Target: pipeline delivered per second at least 50% of the raw rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import cpu_seconds

DEFAULT_URL = "mysql://root@127.0.0.1:3306/airline_bench_events"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
SECRET = "benchmark-signing-secret-of-at-least-32-chars"
BATCH = 200
PASSWORD = "a long enough passphrase"


def database_url() -> str:
    return os.environ.get("AIRLINE_BENCH_EVENTS_MYSQL_URL", DEFAULT_URL)


def amqp_url() -> str:
    return os.environ.get("AIRLINE_BENCH_AMQP_URL", DEFAULT_AMQP)


async def fresh_database() -> Any:
    """Drop and create the database, migrate it, and make one paid booking; its confirmation
    event is the template of every event the rounds write."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from airline_core import Principal, Role
    from airline_core.booking import Passenger
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.seed import seed_demo
    from airline_runtime.settings import Settings, normalize_database_url

    url = normalize_database_url(database_url())
    server, _, name = url.rpartition("?")[0].rpartition("/")
    engine = create_async_engine(f"{server}/?charset=utf8mb4")
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    await engine.dispose()
    settings = Settings(database_url=database_url(), jwt_secret=SECRET, sweep_seconds=0)
    async with bootstrap(settings, migrate=True) as runtime:
        airline = runtime.airline
        await seed_demo(airline)
        user = await airline.accounts.register(
            email="bench@example.org", password=PASSWORD, name="Bench"
        )
        who = Principal(user_id=user.id, role=Role.CUSTOMER)
        flight = (await airline.flights.list()).items[0]
        offer = await airline.offer(user.id, [flight.id], "economy", 1)
        passenger = Passenger(
            given_name="Ann",
            family_name="Traveller",
            born_on=date(1990, 5, 17),
            email="ann@example.org",
            phone="+447700900123",
        )
        held = await airline.hold(who, offer.id, [passenger])
        confirmed, payment = await airline.pay(who, held.reference, held.total, "pm_card_visa")
        await runtime.database.execute(text("DELETE FROM outbox"))  # type: ignore[union-attr]
        return confirmed, payment.id


def events(template: tuple[Any, str], count: int) -> list[Any]:
    from airline_core.clock import SystemClock
    from airline_core.events import BookingConfirmed, encode

    booking, payment_id = template
    now = SystemClock().now()
    return [
        encode(BookingConfirmed(occurred_at=now, booking=booking, payment_id=payment_id))
        for _ in range(count)
    ]


async def write_events(encoded: list[Any]) -> float:
    """Write the events in one transaction; the instant of its commit (monotonic)."""
    from airline_runtime.db import create_database
    from airline_runtime.db.outbox import add_events
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(database_url()))
    try:
        async with database.engine.begin() as connection:
            for start in range(0, len(encoded), 1000):
                await add_events(connection, encoded[start : start + 1000], encoded[0].occurred_at)
        return time.monotonic()
    finally:
        await database.dispose()


async def progress(database: Any) -> tuple[int, int]:
    """(events still in the outbox, messages the worker finished)."""
    from sqlalchemy import text

    rows = await database.fetch(
        text(
            "SELECT (SELECT COUNT(*) FROM outbox) AS pending, (SELECT COUNT(*) FROM inbox) AS done"
        )
    )
    return int(rows[0].pending), int(rows[0].done)


async def pipeline_round(
    template: tuple[Any, str], count: int, meter: CpuMeter
) -> tuple[float, float]:
    """Events per second relayed and delivered, the two processes already running."""
    from sqlalchemy import text

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(database_url()))
    try:
        await database.execute(text("DELETE FROM inbox"))
        await database.execute(text("DELETE FROM notifications"))
        encoded = events(template, count)
        started = await write_events(encoded)
        meter.start()
        relayed = None
        while True:
            pending, done = await progress(database)
            now = time.monotonic()
            if relayed is None and pending == 0:
                relayed = now - started
            if done >= count:
                delivered = now - started
                meter.stop()
                break
            if now - started > 600:
                raise SystemExit(f"only {done} of {count} delivered in 10 minutes")
            await asyncio.sleep(0.02)
        return count / (relayed or delivered), count / delivered
    finally:
        await database.dispose()


async def raw_round(template: tuple[Any, str], count: int, prefix: str, meter: CpuMeter) -> float:
    """Messages per second published and confirmed by a bare aio-pika loop."""
    import aio_pika

    from airline_runtime.messaging.wire import to_body

    bodies = [to_body(event) for event in events(template, count)]
    connection = await aio_pika.connect(amqp_url())
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            f"{prefix}.raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"{prefix}.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "booking.*")
        meter.start()
        started = time.monotonic()
        for start in range(0, count, BATCH):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=uuid.uuid4().hex,
                            content_type="application/json",
                            type="booking.confirmed",
                        ),
                        "booking.confirmed",
                        mandatory=True,
                    )
                    for body in bodies[start : start + BATCH]
                )
            )
        elapsed = time.monotonic() - started
        meter.stop()
        await queue.purge()
    return count / elapsed


async def drop_names(prefix: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url())
    async with connection:
        channel = await connection.channel()
        from airline_runtime.messaging.rabbitmq import RabbitMQ

        names = RabbitMQ(amqp_url()).queue_names(f"{prefix}.notifications")
        for queue in (f"{prefix}.raw", *names):
            await channel.queue_delete(queue)
        for exchange in (f"{prefix}.raw", f"{prefix}.events", f"{prefix}.events.dead"):
            await channel.exchange_delete(exchange)


def server_pids() -> dict[str, int]:
    """The broker's and the database's processes on this host (Linux ``/proc``), to charge
    their CPU; the oldest of each name."""
    names = {"beam.smp": "broker", "mariadbd": "database", "mysqld": "database"}
    found: dict[str, int] = {}
    for entry in sorted(Path("/proc").glob("[0-9]*"), key=lambda path: int(path.name)):
        try:
            name = names.get((entry / "comm").read_text().strip())
        except OSError:
            continue
        if name is not None and name not in found:
            found[name] = int(entry.name)
    return found


class CpuMeter:
    """CPU seconds each named process spent between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids.items()}

    def stop(self) -> None:
        self.spent = {
            name: (cpu_seconds(pid) or 0.0) - self.before[name] for name, pid in self.pids.items()
        }


def cpu_line(spent: dict[str, float], count: int) -> str:
    per_event = {name: seconds / count * 1000 for name, seconds in spent.items()}
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_event.items())
    return f"CPU ms per event: {parts}; all {sum(per_event.values()):.2f}"


def print_cpu_medians(cpu: dict[str, list[dict[str, float]]], count: int) -> None:
    for kind, spent in cpu.items():
        medians = {name: statistics.median(s[name] for s in spent) for name in spent[0]}
        print(f"median {kind} {cpu_line(medians, count)}")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "airline_runtime", *command],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round of 2,000 events")
    parser.add_argument("--workers", type=int, default=1, help="`airline worker` processes")
    parser.add_argument(
        "--mail-dir",
        type=Path,
        default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,  # noqa: S108
        help="where the console notifier's folder goes (default: /dev/shm, a RAM disk, so that"
        " the figure is the pipeline's and not the disk's file creation rate)",
    )
    return parser.parse_args()


def main() -> None:
    options = arguments()
    rounds = 1 if options.quick else options.rounds
    count = 2_000 if options.quick else options.events
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    template = asyncio.run(fresh_database())
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="airline-bench-mail-", dir=options.mail_dir))
    env = {
        **os.environ,
        "AIRLINE_DATABASE_URL": database_url(),
        "AIRLINE_JWT_SECRET": SECRET,
        "AIRLINE_AMQP_URL": amqp_url(),
        "AIRLINE_AMQP_PREFIX": prefix,
        "AIRLINE_NOTIFICATIONS_DIR": str(folder),
        "AIRLINE_LOG_LEVEL": "warning",
    }
    children = [start(["outbox", "relay"], env, folder.parent / f"{prefix}-relay.log")]
    children += [
        start(["worker"], env, folder.parent / f"{prefix}-worker{n}.log")
        for n in range(options.workers)
    ]
    processes = {"relay": children[0].pid}
    processes.update({f"worker{n + 1}": c.pid for n, c in enumerate(children[1:])})
    # This process: the publisher of the raw loop; in a pipeline round, the progress poll.
    meter = CpuMeter({**processes, **server_pids(), "bench": os.getpid()})
    time.sleep(4)  # both connected and idle
    raw: list[float] = []
    relayed: list[float] = []
    delivered: list[float] = []
    cpu: dict[str, list[dict[str, float]]] = {"raw": [], "pipeline": []}
    try:
        for number in range(rounds):
            order = ("raw", "pipeline") if number % 2 == 0 else ("pipeline", "raw")
            for kind in order:
                if kind == "raw":
                    raw.append(asyncio.run(raw_round(template, count, prefix, meter)))
                    print(
                        f"round {number + 1} raw publish-with-confirms: {raw[-1]:,.0f} msg/s;"
                        f" {cpu_line(meter.spent, count)}"
                    )
                else:
                    out, through = asyncio.run(pipeline_round(template, count, meter))
                    relayed.append(out)
                    delivered.append(through)
                    shutil.rmtree(folder, ignore_errors=True)
                    print(
                        f"round {number + 1} pipeline: relayed {out:,.0f} events/s, delivered"
                        f" {through:,.0f} events/s ({2 * through:,.0f} notices/s);"
                        f" {cpu_line(meter.spent, count)}"
                    )
                cpu[kind].append(meter.spent)
            if any(child.poll() is not None for child in children):
                raise SystemExit("a relay or worker process exited: see its log beside the mail")
    finally:
        for child in children:
            child.terminate()
            child.wait(20)
        asyncio.run(drop_names(prefix))
        shutil.rmtree(folder, ignore_errors=True)
    print_cpu_medians(cpu, count)
    ceiling, median = statistics.median(raw), statistics.median(delivered)
    print(
        f"median of {rounds} round(s), {count:,} events each: raw {ceiling:,.0f} msg/s;"
        f" relayed {statistics.median(relayed):,.0f} events/s; delivered {median:,.0f} events/s"
        f" = {median / ceiling:.0%} of raw (target 50%)"
    )


if __name__ == "__main__":
    main()
