"""The relay and the worker wired by the runtime, as ``airline demo``, ``airline worker`` and
``airline outbox relay`` run them: on the in-process bus of the embedded default and on the real
RabbitMQ; readiness reporting the broker; the outbox and notifications commands."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import anyio
import pytest
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner

from airline_core import FlightFilter, Principal, Role
from airline_core.booking import Passenger
from airline_runtime.bootstrap import Runtime, bootstrap
from airline_runtime.cli import app as cli
from airline_runtime.http import create_app
from airline_runtime.messaging.rabbitmq import RabbitMQ
from airline_runtime.messaging.service import run_messaging
from airline_runtime.seed import seed_demo
from airline_runtime.settings import Settings

pytestmark = pytest.mark.anyio


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*")) if folder.exists() else []


async def book_and_pay(runtime: Runtime) -> str:
    """One paid booking of one passenger with a phone: three notices (held email, confirmed
    email and SMS)."""
    airline = runtime.airline
    await seed_demo(airline)  # the first time; afterwards it finds the catalog loaded
    user = await airline.accounts.register(
        email=f"{uuid.uuid4().hex[:8]}@example.org", password="a long enough passphrase", name="A"
    )
    who = Principal(user_id=user.id, role=Role.CUSTOMER)
    # A flight some days ahead, whatever the hour: every reminder of a paid booking is planned
    # for it (the day's first flight may leave within the hour, too late for a check-in).
    later = (airline.clock.now() + timedelta(days=3)).date()
    flight = (await airline.flights.list(FlightFilter(departs_on=later))).items[0]
    offer = await airline.offer(user.id, [flight.id], "economy", 1)
    passenger = Passenger(
        given_name="Ann",
        family_name="Traveller",
        born_on=date(1990, 5, 17),
        email="ann@example.org",
        phone="+447700900123",
    )
    booking = await airline.hold(who, offer.id, [passenger])
    await airline.pay(who, booking.reference, booking.total, "pm_card_visa")
    return booking.reference


async def wait_for_files(
    runtime: Runtime, folder: Path, count: int, seconds: float = 15
) -> list[str]:
    """The folder's files once it has ``count`` and the outbox is empty (a notice's record is
    written after its file, its event deleted after that)."""
    with anyio.fail_after(seconds):
        while (  # noqa: ASYNC110 - polls the folder and the outbox
            len(found := listing(folder)) < count or (await runtime.airline.outbox.status()).pending
        ):
            await anyio.sleep(0.05)
    return found


def settings_in(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", notifications_dir=tmp_path / "mail", sweep_seconds=0, **changes
    )


async def test_the_embedded_default_notifies_in_process(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    async with bootstrap(settings, migrate=True) as runtime, anyio.create_task_group() as group:
        await book_and_pay(runtime)
        assert (await runtime.airline.outbox.status()).pending == 2
        group.start_soon(run_messaging, runtime)
        files = await wait_for_files(runtime, settings.notification_folder, 3)
        assert [name.rsplit(".", 2)[-2:] for name in files].count(["sms", "txt"]) == 1
        assert (await runtime.airline.outbox.status()).pending == 0
        assert await runtime.check_ready() == {"database": "ok"}
        group.cancel_scope.cancel()


@pytest.fixture
async def prefix(amqp_url: str) -> AsyncIterator[str]:
    """A private name prefix on the shared broker; its queues and exchanges go afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = f"{name}.notifications"
        for each in RabbitMQ(amqp_url).queue_names(queue):
            await channel.queue_delete(each)
        for exchange in (f"{name}.events", f"{name}.events.dead"):
            await channel.exchange_delete(exchange)


@pytest.mark.rabbitmq
async def test_relay_and_worker_over_rabbitmq_and_readiness_reports_the_broker(
    tmp_path: Path, amqp_url: str, prefix: str
) -> None:
    settings = settings_in(tmp_path, amqp_url=amqp_url, amqp_prefix=prefix)
    async with bootstrap(settings, migrate=True) as runtime:
        async with AsyncTestClient(app=create_app(runtime=runtime)) as client:
            ready = (await client.get("/health/ready")).json()
            assert ready["checks"]["broker"] == "unreachable"  # nothing connected it yet
            await book_and_pay(runtime)
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: run_messaging(runtime, relay=True, consume=False))
                group.start_soon(lambda: run_messaging(runtime, relay=False, consume=True))
                files = await wait_for_files(runtime, settings.notification_folder, 3)
                assert len(files) == 3
                ready = (await client.get("/health/ready")).json()
                assert ready["checks"] == {"database": "ok", "broker": "ok"}
                metrics = (await client.get("/metrics")).text
                assert 'airline_events_published_total{type="booking.confirmed"} 1.0' in metrics
                assert "airline_notifications_total" in metrics
                group.cancel_scope.cancel()
        assert (await runtime.airline.outbox.status()).pending == 0


runner = CliRunner()


async def test_outbox_and_notification_commands(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    env = {
        "AIRLINE_DATA_DIR": str(settings.data_dir),
        "AIRLINE_NOTIFICATIONS_DIR": str(settings.notification_folder),
    }
    async with bootstrap(settings, migrate=True) as runtime:
        await book_and_pay(runtime)
        claimed = await runtime.airline.outbox.claim(
            "test", runtime.airline.clock.now(), timedelta(seconds=5), 1
        )
        await runtime.airline.outbox.retry("test", claimed[0].event.id, "returned: no queue", None)

    def invoke(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    status = await anyio.to_thread.run_sync(invoke, "outbox", "status")
    assert "pending: 1" in status
    assert "failed:  1" in status
    assert "booking.held" in status
    assert "returned: no queue" in status
    assert "1 events pending again" in await anyio.to_thread.run_sync(invoke, "outbox", "requeue")

    async with bootstrap(settings, migrate=True) as runtime, anyio.create_task_group() as group:
        group.start_soon(run_messaging, runtime)
        await wait_for_files(runtime, settings.notification_folder, 3)
        group.cancel_scope.cancel()
    listed = await anyio.to_thread.run_sync(invoke, "notifications", "list")
    lines = listed.strip().splitlines()
    assert len(lines) == 3
    assert sum("sms" in line for line in lines) == 1
    assert all(" sent " in line for line in lines)
    assert "pending: 0" in await anyio.to_thread.run_sync(invoke, "outbox", "status")
