"""The notification service: booking events in, email and SMS out, each notice exactly once as
far as the inbox can tell.

Messages that arrive together are handled as a batch (:meth:`NotificationWorker.handle_many`;
:meth:`~NotificationWorker.handle` is a batch of one). For each message:

1. one read of the inbox for the whole batch: a message this consumer finished before is a
   redelivery, absorbed (``duplicate``); otherwise which of its notices were sent by an
   earlier delivery;
2. the event is decoded (a message that is no known event is rejected: dead-lettered);
3. its notices are planned (:func:`airline_core.notifications.plan_notices`) and those already
   sent are skipped;
4. each remaining one is rendered and sent (the messages of a batch concurrently); the
   outcomes (sent, or failed for good when the provider refused it: a 4xx) of the whole batch
   are recorded under their keys in one transaction, with the inbox rows of the messages that
   are finished;
5. if a provider failed in a way that may pass (a 5xx, a timeout), the message is retried
   later (the bus's backoff), sending then only what is still unsent; if one was refused for
   good, the message is dead-lettered with the reason once the others are sent; otherwise the
   message is finished in the inbox.

The window left is a crash after a provider accepted a message and before the records were
written: those notices go again on redelivery. The console notifier closes it (the same key
rewrites the same file); SMTP repeats the same ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from time import monotonic

from attrs import define, field

from airline_core.catalog.model import Flight
from airline_core.errors import NotFound
from airline_core.events import EncodedEvent, Event, UnknownEvent, decode
from airline_core.notifications import (
    Channel,
    DeliveryFailed,
    Notice,
    NoticeRecord,
    NoticeStatus,
    Settlement,
    plan_notices,
)
from airline_core.ports import Clock, FlightStore, InboxStore, Notifier
from airline_runtime.messaging.base import Outcome, Reject, RetryLater, Subscription
from airline_runtime.messaging.metrics import MessagingMetrics
from airline_runtime.notify.templates import TemplateError, Templates

__all__ = ["CONSUMER", "NOTIFIED_EVENTS", "NotificationWorker"]

logger = logging.getLogger(__name__)

#: The worker's queue and inbox name.
CONSUMER = "airline.notifications"
#: The routing keys it binds: every event type, so that none is unroutable (the relay counts
#: a returned event as a failure); those that tell travellers nothing finish without notices.
NOTIFIED_EVENTS = ("booking.*", "payment.*", "flight.*", "reminder.*")
#: How long a flight read for a message's template is used again (its times and status).
FLIGHT_CACHE_SECONDS = 5.0
_FLIGHT_CACHE_SIZE = 4096


@define
class NotificationWorker:
    inbox: InboxStore
    notifiers: Mapping[Channel, Notifier]
    flights: FlightStore
    clock: Clock
    templates: Templates = field(factory=Templates)
    name: str = CONSUMER
    metrics: MessagingMetrics = field(factory=MessagingMetrics)
    _flight_cache: dict[str, tuple[float, asyncio.Future[Flight | None]]] = field(
        factory=dict, init=False
    )

    def subscription(self) -> Subscription:
        return Subscription(self.name, NOTIFIED_EVENTS, self.handle, batch=self.handle_many)

    async def handle(self, encoded: EncodedEvent) -> str | None:
        """Handle one message (see the module's steps); ``"duplicate"`` for a redelivery.

        :raises Reject: the message can never be handled, or a notice was refused for good.
        :raises RetryLater: a provider failed in a way that may pass.
        :raises UnknownEvent: the message is no event this code knows.
        """
        [outcome] = await self.handle_many([encoded])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def handle_many(self, batch: Sequence[EncodedEvent]) -> list[Outcome]:
        """Handle messages that arrived together: one read of the inbox for all, their notices
        sent concurrently, one transaction recording them all; an outcome per message, in
        order (see :data:`~airline_runtime.messaging.base.Outcome`)."""
        done = await self.inbox.progress(self.name, [encoded.id for encoded in batch])
        decoded: list[Event | Outcome] = []
        seen: set[str] = set()
        for encoded in batch:
            if done[encoded.id].finished or encoded.id in seen:
                # Finished before, or a second copy in this batch (a relay published it
                # again): the first copy is handled, the others absorbed.
                decoded.append("duplicate")
                continue
            seen.add(encoded.id)
            try:
                decoded.append(decode(encoded))
            except UnknownEvent as error:
                decoded.append(error)
        results = await asyncio.gather(
            *(
                self._deliver(item, done[encoded.id].sent)
                for encoded, item in zip(batch, decoded, strict=True)
                if isinstance(item, Event)
            )
        )
        delivered = iter(results)
        outcomes: list[Outcome] = []
        settled: list[Settlement] = []
        for encoded, item in zip(batch, decoded, strict=True):
            if not isinstance(item, Event):
                outcomes.append(item)
                continue
            records, outcome = next(delivered)
            outcomes.append(outcome)
            finished = not isinstance(outcome, Exception)
            if records or finished:
                settled.append(Settlement(encoded.id, tuple(records), finished))
        # What was sent is recorded even when its message must come again, so that only the
        # rest goes out then.
        await self.inbox.settle(self.name, settled, self.clock.now())
        return outcomes

    async def _deliver(
        self, event: Event, sent: frozenset[str]
    ) -> tuple[list[NoticeRecord], Outcome]:
        """Send the event's notices not sent yet; their records and the event's outcome. Any
        failure is this event's outcome, never the batch's: what the others sent is recorded."""
        records: list[NoticeRecord] = []
        try:
            return await self._send(event, sent, records)
        except Exception as error:  # noqa: BLE001 - a database blip, a bug: retried
            return records, error

    async def _send(
        self, event: Event, sent: frozenset[str], records: list[NoticeRecord]
    ) -> tuple[list[NoticeRecord], Outcome]:
        pending = [notice for notice in plan_notices(event) if notice.key not in sent]
        if not pending:
            return records, None
        context = self.templates.context(event, await self._flights(event))
        refused: list[str] = []
        passing: list[str] = []
        for notice in pending:
            try:
                message = self.templates.render(notice, context)
            except TemplateError as error:
                records.append(self._record(notice, NoticeStatus.FAILED, error=str(error)))
                refused.append(str(error))
                continue
            try:
                provider_id = await self.notifiers[notice.channel].send(message)
            except DeliveryFailed as error:
                if error.permanent:
                    records.append(self._record(notice, NoticeStatus.FAILED, error=error.detail))
                    refused.append(f"{notice.channel} to {notice.to}: {error.detail}")
                else:
                    passing.append(f"{notice.channel} to {notice.to}: {error.detail}")
                continue
            records.append(self._record(notice, NoticeStatus.SENT, provider_id=provider_id))
        if passing:
            return records, RetryLater("; ".join(passing))
        if refused:
            return records, Reject("; ".join(refused))
        return records, None

    async def _flights(self, event: Event) -> list[Flight]:
        """The booking's flights as they are now (a deleted one is left out), read through a
        cache of a few seconds. The cache keeps the read itself, so the messages of a batch
        that all want one flight wait for one read rather than each starting its own."""
        booking = getattr(event, "booking", None)
        found: list[Flight] = []
        now = monotonic()
        for flight_id in booking.flight_ids if booking is not None else ():
            cached = self._flight_cache.get(flight_id)
            if cached is None or now - cached[0] >= FLIGHT_CACHE_SECONDS:
                if len(self._flight_cache) >= _FLIGHT_CACHE_SIZE:
                    self._flight_cache.clear()
                cached = (now, asyncio.ensure_future(self._read_flight(flight_id)))
                self._flight_cache[flight_id] = cached
            try:
                flight = await asyncio.shield(cached[1])
            except Exception:
                if self._flight_cache.get(flight_id) is cached:
                    del self._flight_cache[flight_id]  # not kept: the next message reads again
                raise
            if flight is not None:
                found.append(flight)
        return found

    async def _read_flight(self, flight_id: str) -> Flight | None:
        try:
            return await self.flights.get(flight_id)
        except NotFound:
            return None

    def _record(
        self,
        notice: Notice,
        status: NoticeStatus,
        *,
        provider_id: str | None = None,
        error: str | None = None,
    ) -> NoticeRecord:
        self.metrics.notified(notice.channel.value, status.value)
        if status is NoticeStatus.FAILED:
            logger.error("notice %s refused for good: %s", notice.key, error)
        return NoticeRecord(
            key=notice.key,
            message_id=notice.event_id,
            event_type=notice.event_type,
            channel=notice.channel,
            to=notice.to,
            template=notice.template,
            status=status,
            at=self.clock.now(),
            provider_id=provider_id,
            error=error,
        )
