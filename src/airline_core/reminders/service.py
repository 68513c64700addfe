"""The reminder use cases: planning hooks for the booking flow, the sweep, and the lists."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from attrs import define, field

from airline_core.booking.model import Booking
from airline_core.catalog.model import Flight
from airline_core.ids import new_id
from airline_core.ports import Clock, ReminderStore
from airline_core.reminders.model import (
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderQuery,
    ReminderRules,
    SweepReport,
)
from airline_core.reminders.planning import dispatch, flight_change_notice, plan, replan

__all__ = ["Reminders"]

logger = logging.getLogger("airline_core.reminders")


@define
class Reminders:
    """Reminders of bookings: planned with each change, sent by the sweep.

    :meth:`sweep` is safe to run in several processes at once (claims are leases and a reminder
    is marked sent in the transaction that writes its event) and catches up by itself: whatever
    fell due while no sweep ran goes out at the next one, if it is still of use.
    """

    store: ReminderStore
    clock: Clock
    rules: ReminderRules = field(factory=ReminderRules)
    #: How many reminders one claim takes.
    batch: int = 500
    #: How long a claim lasts: longer than a batch takes to settle.
    lease: timedelta = timedelta(seconds=60)

    def for_hold(self, booking: Booking, now: datetime) -> tuple[Reminder, ...]:
        """The reminders a new hold plans (its payment deadline)."""
        return tuple(plan(booking, {}, now, self.rules))

    def on_confirm(self, now: datetime) -> _Replan:
        """Re-planning for a payment's confirmation: the payment deadline goes, check-in and
        boarding passes come (the flights read in the confirmation's transaction)."""
        return _Replan(self.rules, now)

    def on_flight_change(self, flight: Flight, now: datetime) -> _Replan:
        """Re-planning for a flight's new time or status: every booking on it gets reminders
        for the new time and a flight-change notice."""
        return _Replan(self.rules, now, changed=flight)

    async def sweep(self, owner: str | None = None, *, limit: int | None = None) -> SweepReport:
        """Send every reminder due now, batch by batch (at most ``limit``): each becomes a
        ReminderDue event in the outbox, or is skipped when it is of no use any more."""
        owner = owner or f"sweep:{new_id()}"
        sent = skipped = 0
        while limit is None or sent + skipped < limit:
            size = self.batch if limit is None else min(self.batch, limit - sent - skipped)
            done, claimed = await self.sweep_once(owner, size)
            sent, skipped = sent + done.sent, skipped + done.skipped
            if claimed < size:
                break
        return SweepReport(sent=sent, skipped=skipped)

    async def sweep_once(self, owner: str, size: int | None = None) -> tuple[SweepReport, int]:
        """One batch: what it did, and how many reminders it claimed."""
        now = self.clock.now()
        claimed = await self.store.claim(owner, now, self.lease, size or self.batch)
        if not claimed:
            return SweepReport(), 0
        send, skip = dispatch(claimed, now, self.rules)
        sent = await self.store.settle(owner, now, send, skip)
        for reminder_id, reason in skip:
            logger.info("reminder %s skipped: %s", reminder_id, reason)
        return SweepReport(sent=sent, skipped=len(skip)), len(claimed)

    async def find(self, query: ReminderQuery | None = None) -> Sequence[Reminder]:
        """Reminders by ``query`` (the planned ones, soonest first, by default)."""
        return await self.store.find(query or ReminderQuery())

    async def of(self, booking: Booking) -> list[Reminder]:
        """The booking's reminders, soonest first."""
        return list(await self.store.for_booking(booking.id))


@define
class _Replan:
    """A re-planning a store runs in its transaction, once per booking it touches."""

    rules: ReminderRules
    now: datetime
    changed: Flight | None = None

    def __call__(self, context: ReminderContext) -> ReminderChanges:
        notices: list[Reminder] = []
        if self.changed is not None:
            notice = flight_change_notice(context.booking, self.changed, self.now, self.rules)
            if notice is not None:
                notices.append(notice)
        return replan(context, self.now, self.rules, notices)
