"""Faults while bookings flow (markers ``mysql`` and ``rabbitmq``): two relays and two workers
run as real ``airline`` processes on MariaDB, reaching RabbitMQ through a TCP proxy that this
test cuts and restores (the shared broker itself is never touched), while the relays and workers
are killed with SIGKILL at random moments and started again. Afterwards every confirmed booking
produced exactly one confirmation email and one SMS (and its hold one email), the outbox is
empty, and nothing reached the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import random
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import anyio
import pytest

from airline_core import Airline, Flight, Principal, Role
from airline_core.booking import Passenger
from airline_core.events import OutboxStatus
from airline_runtime.bootstrap import bootstrap
from airline_runtime.messaging.rabbitmq import RabbitMQ
from airline_runtime.seed import seed_demo
from airline_runtime.settings import Settings
from tests.runtime.conftest import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.mysql, pytest.mark.rabbitmq]

BOOKINGS = 40
SECRET = "f" * 48


class Proxy:
    """A TCP proxy on a loopback port to the broker, in a thread of its own. :meth:`cut` drops
    every connection through it at once and refuses new ones until :meth:`restore`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.down = False
        self.cuts = 0
        self._transports: set[asyncio.Transport] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._started.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> asyncio.Server:
            server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
            self._started.set()
            return server

        server = self._loop.run_until_complete(serve())
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.05))
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, upstream_writer.transport}
        self._transports |= pair  # type: ignore[arg-type]

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        self._transports -= pair  # type: ignore[arg-type]

    def cut(self) -> None:
        def now() -> None:
            self.down = True
            self.cuts += 1
            for transport in list(self._transports):
                transport.abort()

        self._loop.call_soon_threadsafe(now)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "down", False))

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Fleet:
    """The relay and worker processes, each restartable after a kill."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = Counter[str]()

    def start(self, name: str) -> None:
        command = ["worker"] if name.startswith("worker") else ["outbox", "relay"]
        log = (self.logs / f"{name}.log").open("ab")
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "airline_runtime", *command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, name: str) -> None:
        self.children[name].kill()
        self.children[name].wait(10)
        self.kills[name.rstrip("12")] += 1

    def stop(self) -> None:
        for child in self.children.values():
            child.kill()
            child.wait(10)

    def revive(self) -> None:
        """Start again what chaos left killed (it may stop between a kill and the restart);
        anything else that exited is a failure."""
        for name, child in list(self.children.items()):
            if child.poll() is None:
                continue
            log = (self.logs / f"{name}.log").read_text()
            assert child.returncode == -9, f"{name} exited by itself:\n{log}"
            self.start(name)


@pytest.fixture
def proxy(amqp_url: str) -> Iterator[Proxy]:
    parts = urlsplit(amqp_url)
    made = Proxy((parts.hostname or "127.0.0.1", parts.port or 5672))
    made.start()
    yield made
    made.stop()


def count_files(folder: Path) -> int:
    return len(list(folder.glob("*.eml"))) + len(list(folder.glob("*.sms.txt")))


def mail_counts(folder: Path) -> tuple[Counter[str], Counter[str]]:
    """Per booking reference: emails by subject kind, and SMS."""
    emails: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    for path in folder.glob("*.eml"):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        subject = str(mail["Subject"])
        emails[f"{subject.split(':', maxsplit=1)[0]}:{subject.rsplit(' ', 1)[-1]}"] += 1
    for path in folder.glob("*.sms.txt"):
        texts[path.read_text().split("Booking ", 1)[1].split(" ", 1)[0]] += 1
    return emails, texts


async def book(airline: Airline, flights: list[Flight], n: int) -> str:
    """A paid booking of one passenger with a phone: a held email, a confirmation email and an
    SMS to come."""
    user = await airline.accounts.register(
        email=f"buyer{n}@example.org", password="a long enough passphrase", name="B"
    )
    who = Principal(user_id=user.id, role=Role.CUSTOMER)
    offer = await airline.offer(user.id, [flights[n % len(flights)].id], "economy", 1)
    passenger = Passenger(
        given_name="Buyer",
        family_name=f"Number{n}",
        born_on=date(1990, 1, 1),
        email=f"buyer{n}@example.org",
        phone=f"+4477009{n:05d}",
    )
    held = await airline.hold(who, offer.id, [passenger])
    await airline.pay(who, held.reference, held.total, "pm_card_visa")
    return held.reference


async def chaos(proxy: Proxy, fleet: Fleet, rng: random.Random) -> None:
    """Until cancelled: cut the broker for a while, or kill a relay, a worker or one of each
    (each of them once first, whatever the timing, then at random)."""
    first = ["worker", "cut", "relay", "both"]
    while True:
        await anyio.sleep(rng.uniform(0.2, 0.8))
        action = first.pop(0) if first else rng.choice(["cut", "relay", "worker", "both"])
        if action == "cut":
            proxy.cut()
            await anyio.sleep(rng.uniform(0.3, 1.5))
            proxy.restore()
            continue
        names = {"relay": ["relay1"], "worker": ["worker1"]}.get(action, ["relay2", "worker2"])
        for name in names:
            fleet.kill(name)
        await anyio.sleep(rng.uniform(0.1, 0.5))
        for name in names:
            fleet.start(name)


async def settle(
    airline: Airline, mail: Path, expected: int, amqp_url: str, prefix: str
) -> OutboxStatus:
    """Wait for every notice and an empty outbox, then a little more (a duplicate, were there
    one, would show up by then)."""
    with anyio.move_on_after(120) as waiting:
        while count_files(mail) < expected or (await airline.outbox.status()).pending:  # noqa: ASYNC110 - polls
            await anyio.sleep(0.25)
    if waiting.cancelled_caught:  # say what is missing, and where it is, not only that time ran out
        status = await airline.outbox.status()
        pytest.fail(
            f"after 120 s: {count_files(mail)} of {expected} notices, "
            f"{status.pending} events pending in the outbox, {status.failed} failed; "
            f"broker: {await broker_state(amqp_url, prefix)}"
        )
    await anyio.sleep(1)
    return await airline.outbox.status()


async def broker_state(amqp_url: str, prefix: str) -> str:
    """The test's queues that hold ready messages or have consumers, as the broker sees them
    (messages delivered and not acked count in neither: a queue whose messages all wait on a
    consumer that does not handle them shows none ready)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        found = []
        for name in RabbitMQ(amqp_url).queue_names(f"{prefix}.notifications"):
            queue = await channel.declare_queue(name, passive=True)
            ready = queue.declaration_result.message_count or 0
            consumers = queue.declaration_result.consumer_count or 0
            if ready or consumers:
                found.append(f"{name}: {ready} ready, {consumers} consumers")
    return "; ".join(found) or "no queue holds ready messages or has consumers"


async def drop_broker_names(amqp_url: str, prefix: str) -> int:
    """Delete the test's queues and exchanges; how many messages its dead-letter queue held."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = f"{prefix}.notifications"
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        dead_letters = dead.declaration_result.message_count or 0
        for name in RabbitMQ(amqp_url).queue_names(queue):
            await channel.queue_delete(name)
        for exchange in (f"{prefix}.events", f"{prefix}.events.dead"):
            await channel.exchange_delete(exchange)
    return dead_letters


async def test_nothing_is_lost_or_sent_twice_through_cuts_and_kills(
    tmp_path: Path, mysql_empty_url: str, amqp_url: str, proxy: Proxy
) -> None:
    prefix = f"fault-{uuid.uuid4().hex[:8]}"
    mail = tmp_path / "mail"
    env = {
        **os.environ,
        "AIRLINE_DATABASE_URL": mysql_empty_url,
        "AIRLINE_JWT_SECRET": SECRET,
        "AIRLINE_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/?reconnect_interval=0.5",
        "AIRLINE_AMQP_PREFIX": prefix,
        "AIRLINE_NOTIFICATIONS_DIR": str(mail),
        "AIRLINE_SWEEP_SECONDS": "0",
        "AIRLINE_LOG_FORMAT": "console",
    }
    settings = Settings(
        database_url=mysql_empty_url, jwt_secret=SECRET, sweep_seconds=0, data_dir=tmp_path
    )
    fleet = Fleet(env, tmp_path)
    references: list[str] = []
    dead_letters = -1
    try:
        async with bootstrap(settings, migrate=True) as runtime:
            airline = runtime.airline
            await seed_demo(airline)
            flights = list((await airline.flights.list()).items)
            for name in ("relay1", "relay2", "worker1", "worker2"):
                fleet.start(name)
            async with anyio.create_task_group() as group:
                group.start_soon(chaos, proxy, fleet, random.Random(7))
                for n in range(BOOKINGS):
                    references.append(await book(airline, flights, n))
                    await anyio.sleep(0.05)
                await anyio.sleep(2)  # more chaos after the last booking
                group.cancel_scope.cancel()
            proxy.restore()
            fleet.revive()
            status = await settle(airline, mail, 3 * BOOKINGS, amqp_url, prefix)
    finally:
        fleet.stop()
        with contextlib.suppress(Exception):  # even when the test failed; -1 if it cannot
            dead_letters = await drop_broker_names(amqp_url, prefix)
    emails, texts = mail_counts(mail)
    assert (status.pending, status.failed) == (0, 0)
    for reference in references:
        assert emails[f"Booking confirmed:{reference}"] == 1, reference
        assert emails[f"Your seats are held:{reference}"] == 1, reference
        assert texts[reference] == 1, reference
    assert sum(emails.values()) + sum(texts.values()) == 3 * BOOKINGS
    assert proxy.cuts > 0
    assert fleet.kills["relay"] > 0
    assert fleet.kills["worker"] > 0
    assert dead_letters == 0
