"""The notification service: booking events in, email and SMS out, each notice exactly once as
far as the inbox can tell.

For each message (:meth:`NotificationWorker.handle`):

1. a message this consumer finished before is a redelivery: absorbed (``duplicate``);
2. the event is decoded (a message that is no known event is rejected: dead-lettered);
3. its notices are planned (:func:`airline_core.notifications.plan_notices`) and those already
   sent by an earlier, interrupted delivery are skipped;
4. each remaining one is rendered and sent, and its outcome recorded under its key: sent, or
   failed for good when the provider refused it (a 4xx);
5. if a provider failed in a way that may pass (a 5xx, a timeout), the message is retried
   later (the bus's backoff), sending then only what is still unsent; if one was refused for
   good, the message is dead-lettered with the reason once the others are sent; otherwise the
   message is finished in the inbox.

The window left is a crash after a provider accepted a message and before its record was
written: that notice goes again on redelivery. The console notifier closes it (the same key
rewrites the same file); SMTP repeats the same ``Message-ID``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from attrs import define, field

from airline_core.catalog.model import Flight
from airline_core.errors import NotFound
from airline_core.events import EncodedEvent, Event, decode
from airline_core.notifications import (
    Channel,
    DeliveryFailed,
    Notice,
    NoticeRecord,
    NoticeStatus,
    plan_notices,
)
from airline_core.ports import Clock, FlightStore, InboxStore, Notifier
from airline_runtime.messaging.base import Reject, RetryLater, Subscription
from airline_runtime.messaging.metrics import MessagingMetrics
from airline_runtime.notify.templates import TemplateError, Templates

__all__ = ["CONSUMER", "NOTIFIED_EVENTS", "NotificationWorker"]

logger = logging.getLogger(__name__)

#: The worker's queue and inbox name.
CONSUMER = "airline.notifications"
#: The routing keys it binds.
NOTIFIED_EVENTS = ("booking.*", "payment.failed", "reminder.due")


@define
class NotificationWorker:
    inbox: InboxStore
    notifiers: Mapping[Channel, Notifier]
    flights: FlightStore
    clock: Clock
    templates: Templates = field(factory=Templates)
    name: str = CONSUMER
    metrics: MessagingMetrics = field(factory=MessagingMetrics)

    def subscription(self) -> Subscription:
        return Subscription(self.name, NOTIFIED_EVENTS, self.handle)

    async def handle(self, encoded: EncodedEvent) -> str | None:
        """Handle one message (see the module's steps); ``"duplicate"`` for a redelivery.

        :raises Reject: the message can never be handled, or a notice was refused for good.
        :raises RetryLater: a provider failed in a way that may pass.
        """
        if await self.inbox.processed(self.name, encoded.id):
            return "duplicate"
        event = decode(encoded)  # UnknownEvent: the bus dead-letters it
        notices = plan_notices(event)
        done = await self.inbox.sent(encoded.id) if notices else set()
        pending = [notice for notice in notices if notice.key not in done]
        flights = await self._flights(event) if pending else []
        refused: list[str] = []
        passing: list[str] = []
        for notice in pending:
            try:
                message = self.templates.render(
                    notice, self.templates.context(notice, event, flights)
                )
            except TemplateError as error:
                await self._record(notice, NoticeStatus.FAILED, error=str(error))
                refused.append(str(error))
                continue
            try:
                provider_id = await self.notifiers[notice.channel].send(message)
            except DeliveryFailed as error:
                if error.permanent:
                    await self._record(notice, NoticeStatus.FAILED, error=error.detail)
                    refused.append(f"{notice.channel} to {notice.to}: {error.detail}")
                else:
                    passing.append(f"{notice.channel} to {notice.to}: {error.detail}")
                continue
            await self._record(notice, NoticeStatus.SENT, provider_id=provider_id)
        if passing:
            raise RetryLater("; ".join(passing))
        if refused:
            raise Reject("; ".join(refused))
        await self.inbox.finish(self.name, encoded.id, self.clock.now())
        return None

    async def _flights(self, event: Event) -> list[Flight]:
        """The booking's flights as they are now (a deleted one is left out)."""
        booking = getattr(event, "booking", None)
        found: list[Flight] = []
        for flight_id in booking.flight_ids if booking is not None else ():
            try:
                found.append(await self.flights.get(flight_id))
            except NotFound:
                continue
        return found

    async def _record(
        self,
        notice: Notice,
        status: NoticeStatus,
        *,
        provider_id: str | None = None,
        error: str | None = None,
    ) -> None:
        await self.inbox.record(
            NoticeRecord(
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
        )
        self.metrics.notified(notice.channel.value, status.value)
        if status is NoticeStatus.FAILED:
            logger.error("notice %s refused for good: %s", notice.key, error)
