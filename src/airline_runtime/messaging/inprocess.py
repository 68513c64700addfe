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
from airline_runtime.messaging.base import Published, Reject, Subscription
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
        confirmed: list[str] = []
        failed: list[tuple[str, str]] = []
        for event in events:
            reason = await self._deliver(event)
            if reason is None:
                confirmed.append(event.id)
            else:
                failed.append((event.id, reason))
        return Published(confirmed=tuple(confirmed), failed=tuple(failed))

    async def _deliver(self, event: EncodedEvent) -> str | None:
        """Hand ``event`` to each subscription; why one of them must see it again, if so."""
        again: list[str] = []
        for subscription in self.subscriptions:
            if not subscription.wants(event.type):
                continue
            try:
                outcome = await subscription.handler(event)
            except (Reject, UnknownEvent) as error:
                reason = error.reason if isinstance(error, Reject) else str(error)
                self.dead_letters.append(DeadLetter(subscription.name, event, reason))
                self.metrics.finished(subscription.name, "dead_lettered")
                logger.error(
                    "%s: dead-lettered event %s (%s): %s",
                    subscription.name,
                    event.id,
                    event.type,
                    reason,
                )
            except Exception as error:  # noqa: BLE001 - any other failure is retried
                again.append(f"{subscription.name}: {type(error).__name__}: {error}")
                self.metrics.finished(subscription.name, "retried")
            else:
                self.metrics.finished(subscription.name, outcome or "handled")
        return "; ".join(again) or None
