"""Running the relay and the notification worker on an open runtime (``airline worker``,
``airline outbox relay``, ``airline demo``).

With ``AIRLINE_AMQP_URL`` the relay publishes to RabbitMQ and the worker consumes its queue;
they may run in separate processes, any number of each. Without it the bus is in-process: the
relay hands each event straight to the worker in the same process (the outbox table being the
queue), so wherever a relay runs the worker runs beside it, and either command starts both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import anyio
from attrs import define

from airline_core.notifications import Channel
from airline_core.ports import Notifier
from airline_runtime.bootstrap import Runtime
from airline_runtime.db.catalog import SQLAlchemyFlightStore
from airline_runtime.db.inbox import SQLAlchemyInboxStore
from airline_runtime.messaging.base import Publisher
from airline_runtime.messaging.inprocess import InProcessBus
from airline_runtime.messaging.relay import Relay
from airline_runtime.notify.files import FileNotifier
from airline_runtime.notify.templates import Templates
from airline_runtime.notify.worker import NotificationWorker

__all__ = ["Messaging", "build_notifiers", "open_messaging", "run_messaging"]

logger = logging.getLogger(__name__)

#: How long the inbox remembers a finished message (a redelivery comes within minutes).
INBOX_DAYS = 7


async def build_notifiers(runtime: Runtime, stack: AsyncExitStack) -> dict[Channel, Notifier]:
    """The notifier of each channel, by ``AIRLINE_NOTIFIER``; closed with ``stack``."""
    settings = runtime.settings
    console = FileNotifier(settings.notification_folder, sender=settings.mail_from)
    chosen: dict[Channel, Notifier] = {Channel.EMAIL: console, Channel.SMS: console}
    for name in settings.notifiers:
        notifier: Notifier
        if name == "smtp":
            from airline_runtime.notify.smtp import SMTPNotifier

            notifier = SMTPNotifier(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.mail_from,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                security=settings.smtp_security,  # type: ignore[arg-type]
            )
        elif name == "sendgrid":
            from airline_runtime.notify.sendgrid import SendGridNotifier

            sendgrid = SendGridNotifier(
                settings.sendgrid_api_key, settings.mail_from, api_url=settings.sendgrid_api_url
            )
            stack.push_async_callback(sendgrid.aclose)
            notifier = sendgrid
        elif name == "twilio":
            from airline_runtime.notify.twilio import TwilioNotifier

            twilio = TwilioNotifier(
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                settings.twilio_from,
                api_url=settings.twilio_api_url,
            )
            stack.push_async_callback(twilio.aclose)
            notifier = twilio
        else:
            continue
        for channel in notifier.channels:
            chosen[channel] = notifier
    return chosen


@define
class Messaging:
    """The relay and the worker of one process, built on a runtime."""

    runtime: Runtime
    worker: NotificationWorker
    publisher: Publisher

    def relay(self) -> Relay:
        runtime = self.runtime
        return Relay(
            runtime.airline.outbox,
            self.publisher,
            runtime.airline.clock,
            metrics=runtime.messaging_metrics,
        )


@asynccontextmanager
async def open_messaging(runtime: Runtime, stack: AsyncExitStack) -> AsyncIterator[Messaging]:
    """The worker and the publisher of this process (on the in-process bus the publisher hands
    events to the worker; with RabbitMQ it publishes to the broker)."""
    if runtime.database is None:
        raise RuntimeError("the relay and the worker need a runtime with a database")
    worker = NotificationWorker(
        inbox=SQLAlchemyInboxStore(runtime.database),
        notifiers=await build_notifiers(runtime, stack),
        flights=SQLAlchemyFlightStore(runtime.database),
        clock=runtime.airline.clock,
        templates=Templates(runtime.settings.templates_dir),
        name=f"{runtime.settings.amqp_prefix}.notifications",
        metrics=runtime.messaging_metrics,
    )
    publisher: Publisher
    if runtime.broker is None:
        bus = InProcessBus(metrics=runtime.messaging_metrics)
        bus.subscribe(worker.subscription())
        publisher = bus
    else:
        from airline_runtime.messaging.rabbitmq import RabbitPublisher

        publisher = RabbitPublisher(runtime.broker, [worker.subscription()])
    yield Messaging(runtime, worker, publisher)


async def _forget_old(worker: NotificationWorker) -> None:
    while True:
        try:
            cutoff = worker.clock.now() - timedelta(days=INBOX_DAYS)
            await worker.inbox.forget(cutoff)
        except Exception:
            logger.exception("forgetting old inbox entries failed")
        await anyio.sleep(3600)


async def run_messaging(runtime: Runtime, *, relay: bool = True, consume: bool = True) -> None:
    """Run the relay and/or the worker until cancelled. With the in-process bus both run
    whatever is asked (neither works without the other there)."""
    async with AsyncExitStack() as stack, open_messaging(runtime, stack) as messaging:
        broker = runtime.broker
        if broker is None:
            relay = consume = True
        async with anyio.create_task_group() as group:
            if broker is not None:
                await broker.connect_forever()
                if consume:
                    from airline_runtime.messaging.rabbitmq import RabbitConsumer

                    consumer = RabbitConsumer(
                        broker,
                        messaging.worker.subscription(),
                        metrics=runtime.messaging_metrics,
                    )
                    await consumer.start()
                    stack.push_async_callback(consumer.stop)
            if consume:
                group.start_soon(_forget_old, messaging.worker)
            if relay:
                group.start_soon(messaging.relay().run)
            logger.info(
                "messaging: %s%s over %s",
                "relay " if relay else "",
                "worker" if consume else "",
                "RabbitMQ" if broker is not None else "the in-process bus",
            )
            await anyio.sleep_forever()
