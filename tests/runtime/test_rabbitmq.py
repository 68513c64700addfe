"""The RabbitMQ adapter against the real broker on this machine (marker ``rabbitmq``).

Each test declares its own exchange and queues (unique names) and deletes them afterwards, so it
never sees another test's messages and leaves the shared broker as it found it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aio_pika
import anyio
import attrs
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed

from airline_core import FakeClock
from airline_core.events import EncodedEvent
from airline_core.ids import new_id
from airline_core.memory import MemoryOutboxStore
from airline_runtime.messaging import Reject, Relay, RetryLater, Subscription
from airline_runtime.messaging.rabbitmq import (
    ATTEMPT_HEADER,
    REASON_HEADER,
    RabbitConsumer,
    RabbitMQ,
    RabbitPublisher,
)
from airline_runtime.messaging.wire import from_body
from tests.conftest import TEST_NOW

pytestmark = [pytest.mark.anyio, pytest.mark.rabbitmq]


class Broker:
    """A connected adapter on a private exchange, and the queue names a test made."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = uuid.uuid4().hex[:10]
        self.rabbit = RabbitMQ(
            url,
            exchange=f"test.{self.tag}.events",
            retry_delays=(timedelta(milliseconds=50), timedelta(milliseconds=100)),
        )
        self.queues: list[str] = []

    def subscription(self, handler: object, keys: tuple[str, ...] = ("#",)) -> Subscription:
        name = f"test.{self.tag}.q{len(self.queues)}"
        self.queues += self.rabbit.queue_names(name)
        return Subscription(name, keys, handler)  # type: ignore[arg-type]

    async def clean(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            for name in self.queues:
                await channel.queue_delete(name)
            for exchange in (self.rabbit.exchange, self.rabbit.dead_exchange):
                await channel.exchange_delete(exchange)


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[Broker]:
    made = Broker(amqp_url)
    await made.rabbit.connect()
    try:
        yield made
    finally:
        await made.rabbit.close()
        await made.clean()


def events(count: int, kind: str = "booking.confirmed") -> list[EncodedEvent]:
    return [
        EncodedEvent(
            id=new_id(),
            type=kind,
            version=1,
            occurred_at=TEST_NOW,
            payload=f'{{"n":{n}}}',
        )
        for n in range(count)
    ]


class Inbox:
    """A handler that keeps what it got and fails as told, by payload."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None) -> None:
        self.got: list[EncodedEvent] = []
        self.failures = failures or {}
        self.arrived = anyio.Event()
        self.expected = 0

    async def __call__(self, event: EncodedEvent) -> None:
        self.got.append(event)
        waiting = self.failures.get(event.payload)
        if waiting:
            raise waiting.pop(0)
        if len(self.got) >= self.expected:
            self.arrived.set()


async def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - polls a plain condition
            await anyio.sleep(0.02)


async def test_a_batch_is_confirmed_and_delivered_as_persistent_messages(broker: Broker) -> None:
    inbox = Inbox()
    subscription = broker.subscription(inbox, ("booking.*",))
    published = await RabbitPublisher(broker.rabbit, [subscription]).publish(events(300))
    assert len(published.confirmed) == 300
    assert published.failed == published.lost == ()

    channel = await broker.rabbit.channel()
    queue = await channel.get_queue(subscription.name)
    message = await queue.get(timeout=5)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == published.confirmed[0]
    assert (message.type, message.content_type) == ("booking.confirmed", "application/json")
    assert from_body(message.body).id == message.message_id
    await message.nack(requeue=True)
    await channel.close()

    inbox.expected = 300
    consumer = RabbitConsumer(broker.rabbit, subscription)
    await consumer.start()
    with anyio.fail_after(10):
        await inbox.arrived.wait()
    await consumer.stop()
    assert sorted(event.id for event in inbox.got) == sorted(published.confirmed)


async def test_an_event_no_queue_takes_is_refused_not_dropped(broker: Broker) -> None:
    subscription = broker.subscription(Inbox(), ("booking.*",))
    published = await RabbitPublisher(broker.rabbit, [subscription]).publish(
        events(1, "flight.changed")
    )
    assert published.confirmed == ()
    assert published.failed[0][1] == "returned: no queue is bound to flight.changed"


async def test_the_consumer_queue_is_a_quorum_queue(broker: Broker) -> None:
    subscription = broker.subscription(Inbox())
    await RabbitPublisher(broker.rabbit, [subscription]).publish(events(1))
    channel = await broker.rabbit.channel()
    with pytest.raises(ChannelPreconditionFailed):
        await channel.declare_queue(
            subscription.name, durable=True, arguments={"x-queue-type": "classic"}
        )


async def dead_letters(
    broker: Broker, subscription: Subscription
) -> list[aio_pika.IncomingMessage]:
    channel = await broker.rabbit.channel()
    queue = await channel.get_queue(f"{subscription.name}.dead")
    found = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        found.append(message)
        await message.ack()
    await channel.close()
    return found


def batched(handler: Inbox) -> Callable[[list[EncodedEvent]], Awaitable[list[object]]]:
    """A batch handler giving each event ``handler``'s outcome (its exception as the value)."""

    async def batch(events: list[EncodedEvent]) -> list[object]:
        outcomes: list[object] = []
        for event in events:
            try:
                outcomes.append(await handler(event))
            except Exception as error:  # noqa: BLE001 - the outcome of that event
                outcomes.append(error)
        return outcomes

    return batch


@pytest.mark.parametrize("in_batches", [False, True], ids=["one-by-one", "in-batches"])
async def test_retries_back_off_and_rejects_and_bad_messages_are_dead_lettered(
    broker: Broker, in_batches: bool
) -> None:
    flaky, doomed, rejected, fine = sent = events(4)
    inbox = Inbox(
        {
            flaky.payload: [RetryLater("provider answered 503")],
            doomed.payload: [RuntimeError("boom")] * 5,
            rejected.payload: [Reject("recipient address refused (550)")],
        }
    )
    subscription = broker.subscription(inbox)
    if in_batches:
        subscription = attrs.evolve(subscription, batch=batched(inbox))
    consumer = RabbitConsumer(broker.rabbit, subscription, max_attempts=3)
    await consumer.start()
    published = await RabbitPublisher(broker.rabbit, [subscription]).publish(sent)
    assert len(published.confirmed) == 4
    channel = await broker.rabbit.channel()
    await channel.default_exchange.publish(
        aio_pika.Message(b"not an event", message_id="junk"), subscription.name
    )
    # flaky: twice (retried once); doomed: three attempts; rejected and fine: once each.
    await wait_for(lambda: len(inbox.got) >= 7)
    await anyio.sleep(0.3)  # nothing more arrives
    await consumer.stop()
    counts = {event.id: [got.id for got in inbox.got].count(event.id) for event in sent}
    assert counts == {flaky.id: 2, doomed.id: 3, rejected.id: 1, fine.id: 1}

    dead = await dead_letters(broker, subscription)
    reasons = {message.message_id: str(message.headers[REASON_HEADER]) for message in dead}
    assert reasons.pop(doomed.id) == "gave up after 3 attempts: RuntimeError: boom"
    assert reasons.pop(rejected.id) == "recipient address refused (550)"
    assert "no event envelope" in reasons.pop("junk")
    assert reasons == {}
    [doomed_copy] = [message for message in dead if message.message_id == doomed.id]
    assert doomed_copy.headers[ATTEMPT_HEADER] == 3


async def test_the_relay_moves_the_outbox_through_the_broker(broker: Broker) -> None:
    inbox = Inbox()
    subscription = broker.subscription(inbox)
    outbox, clock = MemoryOutboxStore(), FakeClock(TEST_NOW)
    written = events(450)
    await outbox.add(written, TEST_NOW)
    relay = Relay(outbox, RabbitPublisher(broker.rabbit, [subscription]), clock, batch=200)
    rounds = [await relay.run_once() for _ in range(3)]
    assert [done.published for done in rounds] == [200, 200, 50]
    assert (await outbox.status()).pending == 0
    inbox.expected = 450
    consumer = RabbitConsumer(broker.rabbit, subscription)
    await consumer.start()
    with anyio.fail_after(10):
        await inbox.arrived.wait()
    await consumer.stop()
    assert sorted(event.id for event in inbox.got) == sorted(event.id for event in written)
    assert {event.payload for event in inbox.got} == {event.payload for event in written}


async def test_a_batch_is_acked_at_once_and_nothing_comes_back(broker: Broker) -> None:
    # Batches mixing handled messages with a retried one: the handled ones are acked with one
    # `multiple` ack per batch, the retried one on its own after its copy is republished.
    sent = events(300)
    flaky = sent[150]
    inbox = Inbox({flaky.payload: [RetryLater("provider answered 503")]})
    subscription = attrs.evolve(broker.subscription(inbox), batch=batched(inbox))
    consumer = RabbitConsumer(broker.rabbit, subscription, prefetch=128, batch_size=64)
    await consumer.start()
    published = await RabbitPublisher(broker.rabbit, [subscription]).publish(sent)
    assert len(published.confirmed) == 300
    await wait_for(lambda: len(inbox.got) >= 301)
    await consumer.stop()  # its channel closes: anything unacked would go back to the queue
    channel = await broker.rabbit.channel()
    queue = await channel.declare_queue(subscription.name, passive=True)
    assert queue.declaration_result.message_count == 0
    await channel.close()

    # A new consumer gets nothing: every delivery was acked exactly once.
    again = Inbox()
    consumer = RabbitConsumer(
        broker.rabbit, attrs.evolve(subscription, handler=again, batch=batched(again))
    )
    await consumer.start()
    await anyio.sleep(0.5)
    await consumer.stop()
    assert again.got == []
    counts = {event.id: [got.id for got in inbox.got].count(event.id) for event in sent}
    assert counts == {event.id: 2 if event is flaky else 1 for event in sent}
