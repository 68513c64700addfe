"""RabbitMQ through aio-pika: the relay's publisher and the consumers' queues.

Topology (declared by :meth:`RabbitMQ.declare`, the same by the relay and by every consumer, so
whichever starts first makes it and routing never depends on start order):

- ``airline.events``: a durable topic exchange; an event's type is its routing key
  (``booking.confirmed``).
- per consumer ``Q`` (``airline.notifications``): a durable queue bound to the keys it wants;
  a quorum queue by default (replicated in a cluster, with a delivery limit that dead-letters a
  message which keeps killing its consumer), or a classic one where the broker has no quorum
  queues (``queue_type="classic"``). Its dead letters go to ``Q.dead`` through the
  ``airline.events.dead`` exchange, at least once.
- ``Q.retry.<delay>``: one queue without consumers per step of the retry backoff (1 s, 2 s,
  4 s, ... 512 s), each with that queue-wide TTL. A delivery to retry is republished to the
  step of its attempt; when its time is up the broker moves it back to ``Q`` alone, so the other
  consumers of the event never see the retry. One TTL per queue, because RabbitMQ expires
  messages from the head of a queue only: with per-message expirations in one queue, a short
  retry would wait behind a long one.

Publishing: persistent messages (they survive a broker restart), ``mandatory`` with returns
raised (an event no queue would take is a failure, not a silent drop), publisher confirms,
``message_id`` = the event id. A batch is published at once and its confirmations awaited
together: awaiting each confirm before the next publish caps a channel at about 1,300
messages a second on this machine, against about 6,300 batched.

Consuming: manual acks, a prefetch window, every message settled exactly one way: acked when
handled; republished to the retry queue of its attempt with the attempt counted (then acked)
when the handler asks to retry; republished to the dead-letter exchange with the reason in the
``x-airline-reason`` header (then acked) when it rejects the message or its attempts are
spent. A consumer that dies with messages unacked gets them back from the broker on reconnect.
The connection is aio-pika's robust one: it reconnects with a pause and restores channels,
queues, bindings and consumers.

A lost connection can surface as :class:`asyncio.CancelledError` where nothing was cancelled:
aiormq closes a connection whose reader stopped with that exception, and a closing channel or
connection sets it on every future still waiting (an ack's write, a publish's confirmation).
Taken for a cancellation, it would end the task that waited (a batch consumer's drainer, a relay
round) without a word, leaving its deliveries unacked or its outbox unrelayed while the process
looks alive. Every broker operation here therefore runs under :func:`_on_the_wire`, which
turns such an error into :class:`ChannelLost` unless the waiting task is really being cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Final, Literal, TypeVar

import aio_pika
from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, DeliveryError, PublishError
from aiormq.abc import AbstractChannel as WireChannel
from attrs import define, field

from airline_core.events import EncodedEvent, UnknownEvent
from airline_runtime.messaging.base import (
    BrokerUnavailable,
    Outcome,
    Published,
    Reject,
    RetryLater,
    Subscription,
)
from airline_runtime.messaging.metrics import MessagingMetrics
from airline_runtime.messaging.wire import from_body, to_body

__all__ = ["EXCHANGE", "ChannelLost", "RabbitConsumer", "RabbitMQ", "RabbitPublisher"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

EXCHANGE: Final = "airline.events"
#: The attempt a delivery is (1 for the first), carried on retried copies.
ATTEMPT_HEADER: Final = "x-airline-attempt"
#: Why a message was dead-lettered, on the copy in ``Q.dead``.
REASON_HEADER: Final = "x-airline-reason"
_CONFIRM_TIMEOUT: Final = 30.0
#: Errors that mean the connection or channel went away (not a refusal of the message).
_CONNECTION_ERRORS: Final = (
    AMQPError,
    ChannelInvalidStateError,
    OSError,
    EOFError,  # asyncio.IncompleteReadError: the socket closed mid-frame
    StopAsyncIteration,  # aiormq's frame reader, when the socket closed mid-handshake
    asyncio.TimeoutError,
    RuntimeError,
)


class ChannelLost(ConnectionError):
    """The channel or connection closed under a broker operation (which aiormq reported as a
    cancellation of a task nobody cancelled)."""


def _cancelled_for_real() -> bool:
    """Whether the running task is being cancelled (by a cancel scope, a timeout, a shutdown),
    as opposed to having met a :class:`asyncio.CancelledError` set on a future it awaited."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


@contextmanager
def _on_the_wire() -> Iterator[None]:
    """Run a broker operation: a :class:`asyncio.CancelledError` that is no cancellation of
    this task becomes :class:`ChannelLost`; a real one goes on."""
    try:
        yield
    except asyncio.CancelledError as error:
        if _cancelled_for_real():
            raise
        raise ChannelLost("the broker connection closed during the operation") from error


async def _wired(operation: Awaitable[_T]) -> _T:
    with _on_the_wire():
        return await operation


def _message(event: EncodedEvent) -> Message:
    return Message(
        to_body(event),
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=event.occurred_at,
        headers={"x-event-version": event.version},
    )


@define
class RabbitMQ:
    """One robust connection to the broker, and the topology both sides declare."""

    url: str
    #: The events exchange; its dead letters go to ``<exchange>.dead``.
    exchange: str = EXCHANGE
    queue_type: Literal["quorum", "classic"] = "quorum"
    #: Deliveries of one message (redeliveries after a consumer died included) after which a
    #: quorum queue dead-letters it.
    delivery_limit: int = 10
    #: The waits before the 1st, 2nd, ... retry of a delivery (the last repeats): one retry
    #: queue each.
    retry_delays: tuple[timedelta, ...] = tuple(timedelta(seconds=1 << n) for n in range(10))
    connection: AbstractRobustConnection | None = None
    #: One connection however many tasks connect at once.
    _connecting: asyncio.Lock = field(factory=asyncio.Lock)

    async def connect(self, *, wait: float = 10.0) -> None:
        """Open the connection (from then on aio-pika keeps it up).

        :raises BrokerUnavailable: the broker did not answer within ``wait`` seconds.
        """
        try:
            with _on_the_wire():
                self.connection = await aio_pika.connect_robust(
                    self.url, timeout=wait, client_properties={"connection_name": "airline"}
                )
        except Exception as error:  # a handshake cut short raises many kinds
            raise BrokerUnavailable(f"RabbitMQ unreachable: {type(error).__name__}") from error

    async def connect_forever(
        self, first: float = 0.5, longest: float = 30.0, *, wait: float = 10.0
    ) -> None:
        """Connect, trying again with a growing pause (``first`` doubling up to ``longest``
        seconds) while the broker is unreachable: a worker started before its broker waits for
        it instead of exiting. Returns at once when already connected."""
        pause = first
        while not self.is_connected:
            try:
                async with self._connecting:
                    if self.connection is None:
                        await self.connect(wait=wait)
            except BrokerUnavailable as error:
                logger.warning("%s; trying again in %.1f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)
            else:
                # A robust connection that is down reconnects by itself: wait for it.
                if not self.is_connected:
                    await asyncio.sleep(pause)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    @property
    def is_connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed

    async def ping(self) -> None:
        """Raise :class:`BrokerUnavailable` unless the connection is up (readiness)."""
        if not self.is_connected:
            raise BrokerUnavailable("RabbitMQ connection is down")

    async def channel(self, *, prefetch: int = 0) -> AbstractChannel:
        if self.connection is None:
            raise BrokerUnavailable("RabbitMQ is not connected")
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        if prefetch:
            await channel.set_qos(prefetch_count=prefetch)
        return channel

    @property
    def dead_exchange(self) -> str:
        return f"{self.exchange}.dead"

    def queue_arguments(self, name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_exchange,
            "x-dead-letter-routing-key": name,
        }
        if self.queue_type == "quorum":
            arguments |= {
                "x-queue-type": "quorum",
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
        return arguments

    async def declare(
        self, channel: AbstractChannel, subscriptions: Sequence[Subscription] = ()
    ) -> AbstractExchange:
        """Declare the exchanges and each subscription's queues and bindings (idempotent);
        the events exchange."""
        exchange = await channel.declare_exchange(self.exchange, ExchangeType.TOPIC, durable=True)
        dead = await channel.declare_exchange(self.dead_exchange, ExchangeType.DIRECT, durable=True)
        for subscription in subscriptions:
            name = subscription.name
            queue = await channel.declare_queue(
                name, durable=True, arguments=self.queue_arguments(name)
            )
            for key in subscription.keys:
                await queue.bind(exchange, key)
            dead_queue = await channel.declare_queue(
                f"{name}.dead", durable=True, arguments=self._side_arguments()
            )
            await dead_queue.bind(dead, name)
            for delay in self.retry_delays:
                await channel.declare_queue(
                    self.retry_queue(name, delay),
                    durable=True,
                    arguments={
                        **self._side_arguments(dead_letters=True),
                        "x-message-ttl": _milliseconds(delay),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": name,
                    },
                )
        return exchange

    def retry_queue(self, name: str, delay: timedelta) -> str:
        return f"{name}.retry.{_milliseconds(delay)}ms"

    def retry_delay(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th delivery (1-based) failed."""
        return self.retry_delays[min(attempt, len(self.retry_delays)) - 1]

    def queue_names(self, name: str) -> list[str]:
        """Every queue :meth:`declare` makes for the subscription ``name``."""
        return [name, f"{name}.dead", *(self.retry_queue(name, d) for d in self.retry_delays)]

    def _side_arguments(self, *, dead_letters: bool = False) -> dict[str, Any]:
        if self.queue_type != "quorum":
            return {}
        arguments: dict[str, Any] = {"x-queue-type": "quorum"}
        if dead_letters:
            arguments |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        return arguments


@define
class RabbitPublisher:
    """The relay's :class:`~airline_runtime.messaging.base.Publisher` on RabbitMQ.

    ``subscriptions`` are the consumers whose queues it declares too, so that events published
    before any consumer ever started are kept for it instead of returned as unroutable.
    """

    broker: RabbitMQ
    subscriptions: Sequence[Subscription] = ()
    _exchange: AbstractExchange | None = None
    _lock: asyncio.Lock = field(factory=asyncio.Lock)

    async def _ready(self) -> AbstractExchange:
        async with self._lock:
            if self._exchange is None:
                with _on_the_wire():
                    channel = await self.broker.channel()
                    self._exchange = await self.broker.declare(channel, self.subscriptions)
            return self._exchange

    async def publish(self, events: Sequence[EncodedEvent]) -> Published:
        if not self.broker.is_connected:
            raise BrokerUnavailable("RabbitMQ connection is down")
        try:
            exchange = await self._ready()
        except _CONNECTION_ERRORS as error:
            raise BrokerUnavailable(f"RabbitMQ: {type(error).__name__}: {error}") from error
        outcomes = await asyncio.gather(
            *(
                _wired(
                    exchange.publish(
                        _message(event), event.type, mandatory=True, timeout=_CONFIRM_TIMEOUT
                    )
                )
                for event in events
            ),
            return_exceptions=True,
        )
        confirmed: list[str] = []
        failed: list[tuple[str, str]] = []
        lost: list[str] = []
        for event, outcome in zip(events, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                confirmed.append(event.id)
            elif isinstance(outcome, PublishError):
                failed.append((event.id, f"returned: no queue is bound to {event.type}"))
            elif isinstance(outcome, DeliveryError):
                failed.append((event.id, "nacked by the broker"))
            elif isinstance(outcome, Exception):
                lost.append(event.id)
            else:
                raise outcome
        if lost:
            logger.warning("RabbitMQ: %d publishes unconfirmed, connection lost", len(lost))
        return Published(confirmed=tuple(confirmed), failed=tuple(failed), lost=tuple(lost))


@define
class RabbitConsumer:
    """Runs a subscription on its queue (:meth:`start`, then :meth:`stop`)."""

    broker: RabbitMQ
    subscription: Subscription
    #: Messages delivered and not yet settled (the channel's prefetch window).
    prefetch: int = 128
    #: With a batch handler: the most messages handed to it at once.
    batch_size: int = 64
    #: Attempts of one message before it is dead-lettered (the waits between them are the
    #: broker's ``retry_delays``).
    max_attempts: int = 8
    metrics: MessagingMetrics = field(factory=MessagingMetrics)
    _channel: AbstractChannel | None = None
    _tag: str | None = None
    _waiting: list[AbstractIncomingMessage] = field(factory=list)
    _arrived: asyncio.Event = field(factory=asyncio.Event)
    _drainer: asyncio.Task[None] | None = None
    #: A channel on which a delivery may have been left unsettled: acked one by one from then
    #: on, never with a ``multiple`` ack that would cover it.
    _unsure: WireChannel | None = None

    async def start(self, *, longest_pause: float = 30.0) -> None:
        """Connect (waiting for the broker as long as it takes), declare the queues and
        consume; from then on the robust connection restores the consumer after a reconnect."""
        pause = 0.5
        while True:
            await self.broker.connect_forever()
            try:
                with _on_the_wire():
                    channel = await self.broker.channel(prefetch=self.prefetch)
                    await self.broker.declare(channel, [self.subscription])
                    queue = await channel.get_queue(self.subscription.name)
                    self._tag = await queue.consume(self._on_message)
            except (BrokerUnavailable, *_CONNECTION_ERRORS) as error:
                logger.warning(
                    "%s: could not start consuming (%s); again in %.1f s",
                    self.subscription.name,
                    type(error).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest_pause)
                continue
            self._channel = channel
            if self.subscription.batch is not None and self._drainer is None:
                self._drainer = asyncio.create_task(self._drain())
                self._drainer.add_done_callback(self._drainer_ended)
            return

    async def stop(self) -> None:
        drainer, self._drainer = self._drainer, None
        if drainer is not None:
            drainer.cancel()
            await asyncio.gather(drainer, return_exceptions=True)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = self._tag = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self.subscription.batch is not None:
            self._waiting.append(message)
            self._arrived.set()
            return
        try:
            outcome: Outcome = await self.subscription.handler(from_body(message.body))
        except asyncio.CancelledError:
            raise  # shutting down: the broker redelivers the unacked message
        except Exception as error:  # noqa: BLE001 - an outcome, settled below
            outcome = error
        await self._settle(message, outcome)

    def _drainer_ended(self, task: asyncio.Task[None]) -> None:
        """Say so when the batch drainer ends other than by :meth:`stop`: its consumer stays
        registered, and what the broker delivers to it waits unacked until the process ends."""
        if task is not self._drainer:  # stopped
            return
        if task.cancelled():
            reason = "cancelled"
        elif (failure := task.exception()) is not None:
            reason = f"{type(failure).__name__}: {failure}"
        else:
            reason = "returned"
        logger.error(
            "%s: the batch drainer ended (%s); deliveries wait unhandled until the worker restarts",
            self.subscription.name,
            reason,
        )

    async def _drain(self) -> None:
        """Hand what arrived to the batch handler, up to ``batch_size`` at a time: while one
        batch is handled, the next fills up to the prefetch window."""
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                batch = self._waiting[: self.batch_size]
                del self._waiting[: self.batch_size]
                try:
                    await self._handle_batch(batch)
                except asyncio.CancelledError:
                    if _cancelled_for_real():
                        raise
                    self._unsure = batch[0].channel  # no cancellation: the drainer goes on
                    logger.warning(
                        "%s: a batch was not settled (cancelled)", self.subscription.name
                    )
                except Exception:  # a lost channel: the broker redelivers the batch
                    self._unsure = batch[0].channel
                    logger.exception("%s: a batch was not settled", self.subscription.name)

    async def _handle_batch(self, batch: list[AbstractIncomingMessage]) -> None:
        assert self.subscription.batch is not None  # noqa: S101 - batch mode only
        # Deliveries of a channel that closed meanwhile are redelivered on the new one.
        batch = [message for message in batch if not message.channel.is_closed]
        outcomes: dict[int, Outcome] = {}
        events: list[EncodedEvent] = []
        readable: list[int] = []
        for n, message in enumerate(batch):
            try:
                events.append(from_body(message.body))
                readable.append(n)
            except Exception as error:  # noqa: BLE001 - whatever it is, it is no event
                outcomes[n] = UnknownEvent(f"the message is no event envelope: {error!r}")
        if events:
            try:
                handled: Sequence[Outcome] = await self.subscription.batch(events)
                if len(handled) != len(events):
                    raise RuntimeError(f"{len(handled)} outcomes for {len(events)} events")
            except Exception as error:  # noqa: BLE001 - the whole batch failed: each retried
                handled = [error] * len(events)
            outcomes.update(zip(readable, handled, strict=True))
        handled_ok = [n for n in range(len(batch)) if not isinstance(outcomes[n], BaseException)]
        others = [n for n in range(len(batch)) if isinstance(outcomes[n], BaseException)]
        # Retries and dead letters first, each republished and then acked on its own.
        settled = await asyncio.gather(
            *(self._settle(batch[n], outcomes[n]) for n in others), return_exceptions=True
        )
        for n, failure in zip(others, settled, strict=True):
            if isinstance(failure, Exception):  # the retry or dead letter was not published
                message = batch[n]
                logger.warning(
                    "%s: message %s not settled (%s); requeued",
                    self.subscription.name,
                    message.message_id,
                    _describe(failure),
                )
                try:
                    await _wired(message.nack(requeue=True))
                except Exception:  # noqa: BLE001 - the channel went: the broker redelivers
                    self._unsure = message.channel
        if handled_ok:
            await self._ack_handled(batch, handled_ok, outcomes)

    async def _ack_handled(
        self,
        batch: list[AbstractIncomingMessage],
        positions: list[int],
        outcomes: Mapping[int, Outcome],
    ) -> None:
        """Ack the handled messages of a batch: with one ``multiple`` ack of the last one when
        every other delivery of the batch is settled (a batch is the oldest unsettled
        deliveries of the channel, handed over in order, so the ack covers exactly the batch),
        which saves a frame, a write and the broker's work per message; one by one otherwise.
        ``positions`` are the handled messages' places in ``batch``."""
        messages = [batch[n] for n in positions]
        channel = messages[0].channel
        last = max(messages, key=lambda message: message.delivery_tag or 0)
        try:
            with _on_the_wire():
                if channel is not self._unsure and all(m.channel is channel for m in messages):
                    await last.ack(multiple=True)
                else:
                    for message in messages:
                        await message.ack()
        except Exception as error:  # noqa: BLE001 - the channel went: the broker redelivers
            logger.warning(
                "%s: %d handled messages not acked (%s); the broker delivers them again",
                self.subscription.name,
                len(messages),
                _describe(error),
            )
            return
        for n in positions:
            self.metrics.finished(self.subscription.name, str(outcomes[n] or "handled"))

    async def _settle(self, message: AbstractIncomingMessage, outcome: Outcome) -> None:
        """Ack, retry or dead-letter the message by its handler's outcome."""
        if isinstance(outcome, Reject | UnknownEvent):
            reason = outcome.reason if isinstance(outcome, Reject) else str(outcome)
            await self._dead_letter(message, reason)
        elif isinstance(outcome, Exception):  # RetryLater and any failure: try again
            reason = str(outcome) if isinstance(outcome, RetryLater) else _describe(outcome)
            attempt = _attempt(message.headers)
            if attempt >= self.max_attempts:
                await self._dead_letter(message, f"gave up after {attempt} attempts: {reason}")
            else:
                await self._retry(message, attempt, reason)
        else:
            await _wired(message.ack())
            self.metrics.finished(self.subscription.name, outcome or "handled")

    async def _retry(self, message: AbstractIncomingMessage, attempt: int, reason: str) -> None:
        delay = self.broker.retry_delay(attempt)
        copy = _copy(message, {ATTEMPT_HEADER: attempt + 1, REASON_HEADER: reason[:500]})
        assert self._channel is not None  # noqa: S101 - set by start
        with _on_the_wire():
            await self._channel.default_exchange.publish(
                copy,
                self.broker.retry_queue(self.subscription.name, delay),
                mandatory=True,
                timeout=_CONFIRM_TIMEOUT,
            )
            await message.ack()
        self.metrics.finished(self.subscription.name, "retried")
        logger.warning(
            "%s: message %s failed (attempt %d), again in %s: %s",
            self.subscription.name,
            message.message_id,
            attempt,
            delay,
            reason,
        )

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self._channel is not None  # noqa: S101 - set by start
        copy = _copy(message, {REASON_HEADER: reason[:1000]})
        with _on_the_wire():
            dead = await self._channel.get_exchange(self.broker.dead_exchange)
            await dead.publish(
                copy, self.subscription.name, mandatory=True, timeout=_CONFIRM_TIMEOUT
            )
            await message.ack()
        self.metrics.finished(self.subscription.name, "dead_lettered")
        logger.error(
            "%s: dead-lettered message %s: %s", self.subscription.name, message.message_id, reason
        )


def _milliseconds(delay: timedelta) -> int:
    return max(1, round(delay.total_seconds() * 1000))


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _attempt(headers: Mapping[str, Any] | None) -> int:
    value = (headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and value > 0 else 1


def _copy(message: AbstractIncomingMessage, headers: Mapping[str, Any]) -> Message:
    return Message(
        message.body,
        content_type=message.content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        headers={**(message.headers or {}), **headers},
    )
