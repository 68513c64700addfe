"""A broker connection that closes under an operation, without a broker: aiormq rejects the
futures still waiting on a closing channel or connection with :class:`asyncio.CancelledError`
(its ``close()`` default), so an ack's write or a publish's confirmation raises that error in a
task nobody cancelled. The adapter must take it for a lost channel, not a cancellation: the
fault test with real processes once saw a worker's batch drainer end that way, its deliveries
unacked for good while the process looked alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest

from airline_core.events import EncodedEvent
from airline_core.ids import new_id
from airline_runtime.messaging import Subscription
from airline_runtime.messaging.rabbitmq import (
    ChannelLost,
    RabbitConsumer,
    RabbitMQ,
    RabbitPublisher,
    _on_the_wire,
)
from airline_runtime.messaging.wire import to_body
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the adapter is aio-pika's, on asyncio only


async def closed_under_us() -> None:
    """What awaiting a future of a channel that closed meanwhile does."""
    future = asyncio.get_running_loop().create_future()
    future.set_exception(asyncio.CancelledError())
    await future


def event() -> EncodedEvent:
    return EncodedEvent(
        id=new_id(), type="booking.confirmed", version=1, occurred_at=TEST_NOW, payload="{}"
    )


class Channel:
    """Acked delivery tags, as the broker would count them."""

    is_closed = False

    def __init__(self) -> None:
        self.acked: set[int] = set()


class Delivery:
    """An incoming message; its acks meet a closed channel while ``lost`` is set."""

    def __init__(self, channel: Channel, tag: int, lost: bool) -> None:
        self.event = event()
        self.body = to_body(self.event)
        self.channel = channel
        self.delivery_tag = tag
        self.message_id = self.event.id
        self.headers: dict[str, object] = {}
        self.lost = lost

    async def ack(self, multiple: bool = False) -> None:
        if self.lost:
            await closed_under_us()
        tag = self.delivery_tag
        self.channel.acked |= set(range(1, tag + 1)) if multiple else {tag}

    async def nack(self, requeue: bool = True) -> None:
        await self.ack()


async def test_a_batch_whose_ack_meets_a_closed_channel_does_not_stop_the_consumer() -> None:
    handled: list[list[str]] = []

    async def batch(events: Sequence[EncodedEvent]) -> list[None]:
        handled.append([event.id for event in events])
        return [None] * len(events)

    async def one(event: EncodedEvent) -> None:
        raise AssertionError("the batch handler takes them")

    subscription = Subscription("q", ("#",), one, batch=batch)
    consumer = RabbitConsumer(RabbitMQ("amqp://unused"), subscription, batch_size=2)
    consumer._drainer = asyncio.create_task(consumer._drain())  # what start() does, no broker
    old, new = Channel(), Channel()
    first = [Delivery(old, tag, lost=True) for tag in (1, 2)]
    for delivery in first:
        await consumer._on_message(delivery)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        while len(handled) < 1:  # noqa: ASYNC110 - polls
            await anyio.sleep(0.01)
    # The channel came back: the broker redelivers both, and a message arrives after them.
    again = [Delivery(new, tag, lost=False) for tag in (1, 2, 3)]
    for delivery, before in zip(again, first, strict=False):
        delivery.event, delivery.body = before.event, before.body
    for delivery in again:
        await consumer._on_message(delivery)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        while new.acked != {1, 2, 3}:  # noqa: ASYNC110 - polls
            await anyio.sleep(0.01)
    assert not consumer._drainer.done()
    assert handled[0] == handled[1] == [delivery.event.id for delivery in first]
    assert handled[2] == [again[2].event.id]
    assert old.acked == set()
    await consumer.stop()
    assert consumer._drainer is None


async def test_a_drainer_that_ends_unasked_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def batch(events: Sequence[EncodedEvent]) -> list[None]:
        return [None] * len(events)

    async def one(event: EncodedEvent) -> None:
        raise AssertionError("the batch handler takes them")

    consumer = RabbitConsumer(
        RabbitMQ("amqp://unused"), Subscription("q", ("#",), one, batch=batch)
    )
    # What start() does, without a broker.
    consumer._drainer = drainer = asyncio.create_task(consumer._drain())
    drainer.add_done_callback(consumer._drainer_ended)
    await anyio.lowlevel.checkpoint()
    drainer.cancel()  # nobody called stop()
    await asyncio.gather(drainer, return_exceptions=True)
    await anyio.lowlevel.checkpoint()  # done callbacks run on the loop's next turn
    [record] = [r for r in caplog.records if "batch drainer ended" in r.getMessage()]
    assert record.levelname == "ERROR"
    assert "q: the batch drainer ended (cancelled)" in record.getMessage()

    caplog.clear()
    consumer._drainer = drainer = asyncio.create_task(consumer._drain())
    drainer.add_done_callback(consumer._drainer_ended)
    await anyio.lowlevel.checkpoint()
    await consumer.stop()  # asked: nothing to say
    await anyio.lowlevel.checkpoint()
    assert not [r for r in caplog.records if "batch drainer ended" in r.getMessage()]


class Exchange:
    def __init__(self, lost: set[str]) -> None:
        self.lost = lost

    async def publish(self, message: object, routing_key: str, **_: object) -> None:
        if getattr(message, "message_id", None) in self.lost:
            await closed_under_us()


class Connection:
    is_closed = False


async def test_a_publish_cut_short_by_a_closed_channel_is_lost_not_cancelled() -> None:
    events = [event() for _ in range(3)]
    broker = RabbitMQ("amqp://unused", connection=Connection())  # type: ignore[arg-type]
    publisher = RabbitPublisher(broker, exchange=Exchange({events[1].id}))  # type: ignore[arg-type]
    published = await publisher.publish(events)
    assert published.confirmed == (events[0].id, events[2].id)
    assert published.lost == (events[1].id,)
    assert published.failed == ()


async def test_a_real_cancellation_still_cancels() -> None:
    entered = anyio.Event()

    async def operation() -> None:
        with _on_the_wire():
            entered.set()
            await anyio.sleep_forever()

    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(operation)
            await entered.wait()
            group.cancel_scope.cancel()
    assert not scope.cancelled_caught  # the task ended by its cancellation, nothing else

    with pytest.raises(ChannelLost), _on_the_wire():
        await closed_under_us()
