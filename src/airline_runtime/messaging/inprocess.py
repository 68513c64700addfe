"""The in-process bus of the embedded default: the outbox table is its queue.

:meth:`InProcessBus.publish` hands each event to every subscription that wants it, in this
process, and confirms the event only when each has finished with it. So the relay deletes an
event from the outbox only after it was handled; a process that dies mid-way leaves it in the
outbox, and the next relay delivers it again (consumers deduplicate by the event id). A handler
that raises :class:`~airline_runtime.messaging.base.RetryLater` (or fails unexpectedly) makes
the event a refused one: the relay tries it again after its backoff, and gives it up after its
``max_failures``, as a broker's delivery limit would.
:class:`~airline_runtime.messaging.base.Reject` dead-letters the event for that subscription:
logged, counted and kept in :attr:`dead_letters`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from attrs import define, field, frozen

from airline_core.events import EncodedEvent, UnknownEvent
from airline_runtime.messaging.base import Outcome, Published, Reject, Subscription
from airline_runtime.messaging.metrics import MessagingMetrics

__all__ = ["DeadLetter", "InProcessBus"]

logger = logging.getLogger(__name__)


@frozen
class DeadLetter:
    subscription: str
    event: EncodedEvent
    reason: str


@define
class InProcessBus:
    subscriptions: list[Subscription] = field(factory=list)
    metrics: MessagingMetrics = field(factory=MessagingMetrics)
    #: The latest dead letters (the log has them all).
    dead_letters: deque[DeadLetter] = field(factory=lambda: deque(maxlen=1000))

    def subscribe(self, subscription: Subscription) -> None:
        self.subscriptions.append(subscription)

    async def publish(self, events: Sequence[EncodedEvent]) -> Published:
        again: dict[str, list[str]] = {}
        for subscription in self.subscriptions:
            wanted = [event for event in events if subscription.wants(event.type)]
            if not wanted:
                continue
            for event, outcome in zip(
                wanted, await self._outcomes(subscription, wanted), strict=True
            ):
                reason = self._settle(subscription, event, outcome)
                if reason is not None:
                    again.setdefault(event.id, []).append(reason)
        confirmed = tuple(event.id for event in events if event.id not in again)
        failed = tuple((event_id, "; ".join(reasons)) for event_id, reasons in again.items())
        return Published(confirmed=confirmed, failed=failed)

    @staticmethod
    async def _outcomes(
        subscription: Subscription, events: Sequence[EncodedEvent]
    ) -> Sequence[Outcome]:
        if subscription.batch is not None:
            try:
                return await subscription.batch(events)
            except Exception as error:  # noqa: BLE001 - the whole batch failed: each retried
                return [error] * len(events)
        outcomes: list[Outcome] = []
        for event in events:
            try:
                outcomes.append(await subscription.handler(event))
            except Exception as error:  # noqa: BLE001 - an outcome, settled below
                outcomes.append(error)
        return outcomes

    def _settle(
        self, subscription: Subscription, event: EncodedEvent, outcome: Outcome
    ) -> str | None:
        """Count and log the outcome; why the event must come again, if so."""
        if isinstance(outcome, Reject | UnknownEvent):
            reason = outcome.reason if isinstance(outcome, Reject) else str(outcome)
            self.dead_letters.append(DeadLetter(subscription.name, event, reason))
            self.metrics.finished(subscription.name, "dead_lettered")
            logger.error(
                "%s: dead-lettered event %s (%s): %s",
                subscription.name,
                event.id,
                event.type,
                reason,
            )
            return None
        if isinstance(outcome, Exception):
            self.metrics.finished(subscription.name, "retried")
            return f"{subscription.name}: {type(outcome).__name__}: {outcome}"
        self.metrics.finished(subscription.name, outcome or "handled")
        return None
