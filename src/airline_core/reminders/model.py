"""Reminders: what a traveller is reminded of, when, and until when it is still worth sending.

A :class:`Reminder` is planned for one booking (and, for the kinds about a flight, one of its
flights) with two instants, both UTC:

- ``due_at``: when it goes out, computed from an anchor (the flight's departure, or the hold's
  payment deadline) by :class:`ReminderTiming`; the sweep sends it at the first pass at or after
  that instant;
- ``expires_at``: the last instant it is still of use (check-in still open, the hold not yet
  lapsed). A reminder whose ``expires_at`` has passed is never sent: it is *skipped*, with the
  reason kept. That one rule covers a booking made after a reminder's moment (the reminder goes
  out at once if it is still of use, and not at all otherwise) and a scheduler that was down
  (it catches up on everything still of use).

Instants are UTC, so "48 hours before departure" is 48 real hours even across a change of the
departure zone's clocks; the traveller sees them in the departure airport's local time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from attrs import field, frozen

from airline_core.booking.model import Booking
from airline_core.catalog.model import Flight
from airline_core.validation import Rules

__all__ = [
    "DueReminder",
    "Reminder",
    "ReminderChanges",
    "ReminderContext",
    "ReminderKind",
    "ReminderQuery",
    "ReminderRules",
    "ReminderStatus",
    "ReminderTiming",
    "SweepReport",
]


class ReminderKind(StrEnum):
    #: Online check-in opens (per airline of the itinerary, before its first flight).
    CHECK_IN = "check_in"
    #: The boarding pass of a flight (before each flight).
    BOARDING_PASS = "boarding_pass"  # noqa: S105 - a kind, not a password
    #: An unpaid hold is about to lapse.
    PAYMENT_DEADLINE = "payment_deadline"
    #: A flight of the booking changed its time or was cancelled (due at once).
    FLIGHT_CHANGED = "flight_changed"


class ReminderStatus(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    #: No longer wanted: the booking was paid, cancelled or expired, or its flight moved and
    #: a reminder for the new time replaced this one.
    CANCELLED = "cancelled"
    #: Its moment came but it was of no use any more (``note`` says why): never sent.
    SKIPPED = "skipped"


@frozen(kw_only=True)
class Reminder:
    """One planned reminder of one booking."""

    id: str
    booking_id: str
    #: The booking's record locator (for people reading lists of reminders).
    reference: str
    kind: ReminderKind = field(converter=ReminderKind)
    #: The flight the reminder is about; ``None`` for a payment deadline.
    flight_id: str | None
    due_at: datetime
    expires_at: datetime
    created_at: datetime
    status: ReminderStatus = field(default=ReminderStatus.PLANNED, converter=ReminderStatus)
    #: How many times a sweep claimed it.
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    #: When it was sent, skipped or cancelled.
    settled_at: datetime | None = None
    #: Why it was skipped or cancelled.
    note: str | None = None

    @property
    def slot(self) -> tuple[ReminderKind, str | None]:
        """What the reminder is for: a booking has at most one planned reminder per slot
        (flight-change notices aside)."""
        return self.kind, self.flight_id


@frozen
class ReminderTiming:
    """When a kind of reminder is due, relative to its anchor: ``before`` the anchor, and of use
    until ``until`` before it (``until`` < ``before``)."""

    before: timedelta
    until: timedelta = timedelta(0)

    def check(self, rules: Rules, name: str) -> None:
        rules.require(self.until >= timedelta(0), f"{name}.until", "must not be negative")
        rules.require(self.before > self.until, f"{name}.before", "must be longer than until")


def _timings(values: Mapping[str, timedelta]) -> dict[str, timedelta]:
    return {code.upper(): value for code, value in values.items()}


@frozen(kw_only=True)
class ReminderRules:
    """When reminders are due (see docs/reminders.md); every timing is configurable.

    Defaults: check-in opens 48 hours before departure and is of use until it closes an hour
    before; the boarding pass comes 3 hours before and is of use until 30 minutes before; the
    payment deadline reminder comes 10 minutes before an unpaid hold lapses and is of use until
    a minute before.
    """

    check_in: ReminderTiming = ReminderTiming(timedelta(hours=48), timedelta(hours=1))
    #: Per airline (IATA designator): when its check-in opens, instead of ``check_in.before``.
    check_in_by_airline: Mapping[str, timedelta] = field(factory=dict, converter=_timings)
    boarding_pass: ReminderTiming = ReminderTiming(timedelta(hours=3), timedelta(minutes=30))
    payment_deadline: ReminderTiming = ReminderTiming(timedelta(minutes=10), timedelta(minutes=1))
    #: A flight-change notice is of use until the flight departs, and for at least this long.
    flight_changed_for: timedelta = timedelta(hours=6)
    #: Claims after which a reminder that never got through is skipped.
    max_attempts: int = 10

    def __attrs_post_init__(self) -> None:
        rules = Rules("reminder_rules")
        self.check_in.check(rules, "check_in")
        self.boarding_pass.check(rules, "boarding_pass")
        self.payment_deadline.check(rules, "payment_deadline")
        for code, opens in self.check_in_by_airline.items():
            rules.require(
                opens > self.check_in.until,
                f"check_in_by_airline.{code}",
                "must open before check-in closes",
            )
        rules.require(
            self.flight_changed_for > timedelta(0), "flight_changed_for", "must be positive"
        )
        rules.require(self.max_attempts >= 1, "max_attempts", "must be at least 1")
        rules.check()

    def check_in_for(self, airline: str) -> ReminderTiming:
        opens = self.check_in_by_airline.get(airline)
        return self.check_in if opens is None else ReminderTiming(opens, self.check_in.until)


@frozen(kw_only=True)
class ReminderContext:
    """What re-planning a booking's reminders decides on, read in the transaction of the change
    (a payment, a flight's new time): the booking as the change leaves it, its flights as they
    are now (by id; a flight that no longer exists is missing) and its stored reminders."""

    booking: Booking
    flights: Mapping[str, Flight]
    reminders: Sequence[Reminder] = ()


@frozen(kw_only=True)
class ReminderChanges:
    """What re-planning decided: the ids of planned reminders to cancel, and new ones to add."""

    cancel: tuple[str, ...] = ()
    add: tuple[Reminder, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.cancel or self.add)


@frozen(kw_only=True)
class DueReminder:
    """A reminder a sweep claimed, with what deciding on it needs: its booking (``None`` when
    it no longer exists) and the booking's flights that exist, by id."""

    reminder: Reminder
    booking: Booking | None
    flights: Mapping[str, Flight] = field(factory=dict)


@frozen(kw_only=True)
class ReminderQuery:
    """Which reminders a list shows (``airline reminders list``): by default the planned ones,
    soonest first."""

    statuses: frozenset[ReminderStatus] = frozenset({ReminderStatus.PLANNED})
    kind: ReminderKind | None = None
    reference: str | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    limit: int = 50


@frozen
class SweepReport:
    """What one sweep did: reminders sent (as ReminderDue events to the outbox) and skipped."""

    sent: int = 0
    skipped: int = 0
