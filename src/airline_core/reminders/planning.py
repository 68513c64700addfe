"""The rules that turn a booking and its flights into planned reminders (no I/O).

- A **held** booking gets one reminder: its payment deadline, ``payment_deadline.before`` its
  ``payment_required_by`` (none once a flight of it is cancelled: it can no longer be paid).
- A **confirmed** booking gets a check-in reminder per airline of its itinerary, before that
  airline's first flight of it (an airline checks a traveller in for all of its flights at
  once), and a boarding-pass reminder before each flight. A cancelled flight gets neither.
- A **cancelled** or **expired** booking gets none: its planned ones are cancelled.
- A reminder whose moment has passed when it is planned goes out at the next sweep if it is
  still of use (before its ``expires_at``), and is not planned at all otherwise: a booking made
  an hour before departure gets no check-in reminder (check-in closed), but does get its
  boarding pass (of use until 30 minutes before departure).
- A flight's new time re-plans every booking on it; each also gets a flight-change notice, due
  at once. A reminder already sent is not sent again for the new time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from airline_core.booking.model import Booking, BookingStatus
from airline_core.catalog.model import Flight, FlightStatus
from airline_core.events import ReminderDue
from airline_core.ids import new_id
from airline_core.reminders.model import (
    DueReminder,
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderKind,
    ReminderRules,
    ReminderStatus,
    ReminderTiming,
)

__all__ = ["dispatch", "flight_change_notice", "plan", "replan", "why_not_send"]

#: The booking state each kind is for.
_FOR_STATUS = {
    ReminderKind.PAYMENT_DEADLINE: frozenset({BookingStatus.HELD}),
    ReminderKind.CHECK_IN: frozenset({BookingStatus.CONFIRMED}),
    ReminderKind.BOARDING_PASS: frozenset({BookingStatus.CONFIRMED}),
    ReminderKind.FLIGHT_CHANGED: frozenset({BookingStatus.HELD, BookingStatus.CONFIRMED}),
}


def _reminder(
    booking: Booking,
    kind: ReminderKind,
    flight_id: str | None,
    anchor: datetime,
    timing: ReminderTiming,
    now: datetime,
) -> Reminder | None:
    expires_at = anchor - timing.until
    if now >= expires_at:
        return None  # of no use any more: not planned
    return Reminder(
        id=new_id(),
        booking_id=booking.id,
        reference=booking.reference,
        kind=kind,
        flight_id=flight_id,
        due_at=anchor - timing.before,
        expires_at=expires_at,
        created_at=now,
    )


def plan(
    booking: Booking, flights: Mapping[str, Flight], now: datetime, rules: ReminderRules
) -> list[Reminder]:
    """The reminders ``booking`` should have planned at ``now``, soonest first (see the
    module's rules). Flights missing from ``flights`` get none."""
    status = booking.status_at(now)
    planned: list[Reminder | None] = []
    cancelled = any(f.status is FlightStatus.CANCELLED for f in flights.values())
    if status is BookingStatus.HELD and not cancelled:
        # (A hold on a cancelled flight can no longer be paid: no deadline to remind of.)
        planned.append(
            _reminder(
                booking,
                ReminderKind.PAYMENT_DEADLINE,
                None,
                booking.payment_required_by,
                rules.payment_deadline,
                now,
            )
        )
    elif status is BookingStatus.CONFIRMED:
        flying = [
            flight
            for flight_id in booking.flight_ids
            if (flight := flights.get(flight_id)) is not None
            and flight.status is not FlightStatus.CANCELLED
        ]
        airlines: set[str] = set()
        for flight in flying:
            if flight.airline not in airlines:
                airlines.add(flight.airline)
                timing = rules.check_in_for(flight.airline)
                planned.append(
                    _reminder(
                        booking, ReminderKind.CHECK_IN, flight.id, flight.departs_at, timing, now
                    )
                )
            planned.append(
                _reminder(
                    booking,
                    ReminderKind.BOARDING_PASS,
                    flight.id,
                    flight.departs_at,
                    rules.boarding_pass,
                    now,
                )
            )
    found = [reminder for reminder in planned if reminder is not None]
    return sorted(found, key=lambda reminder: (reminder.due_at, reminder.kind))


def flight_change_notice(
    booking: Booking, flight: Flight, now: datetime, rules: ReminderRules
) -> Reminder | None:
    """The notice telling the travellers of ``booking`` that ``flight`` changed, due at once;
    none when the booking is no longer held or confirmed, or the flight has left."""
    if booking.status_at(now) not in _FOR_STATUS[ReminderKind.FLIGHT_CHANGED]:
        return None
    if flight.status is not FlightStatus.CANCELLED and flight.departs_at <= now:
        return None
    return Reminder(
        id=new_id(),
        booking_id=booking.id,
        reference=booking.reference,
        kind=ReminderKind.FLIGHT_CHANGED,
        flight_id=flight.id,
        due_at=now,
        expires_at=max(flight.departs_at, now + rules.flight_changed_for),
        created_at=now,
    )


def replan(
    context: ReminderContext,
    now: datetime,
    rules: ReminderRules,
    notices: Iterable[Reminder] = (),
) -> ReminderChanges:
    """Bring the booking's planned reminders in line with :func:`plan`: a planned one that is
    still wanted at the same instants stays, one that is not (or at other instants) is
    cancelled, and what is missing is added, except a reminder already sent for the same slot
    (kind and flight). Flight-change notices planned before stay; ``notices`` are added."""
    wanted = plan(context.booking, context.flights, now, rules)
    sent = {r.slot for r in context.reminders if r.status is ReminderStatus.SENT}
    planned = {
        r.slot: r
        for r in context.reminders
        if r.status is ReminderStatus.PLANNED and r.kind is not ReminderKind.FLIGHT_CHANGED
    }
    cancel: list[str] = []
    add: list[Reminder] = []
    for reminder in wanted:
        if reminder.slot in sent:
            continue
        current = planned.pop(reminder.slot, None)
        if current is not None:
            if _same_instant(current.due_at, reminder.due_at) and _same_instant(
                current.expires_at, reminder.expires_at
            ):
                continue
            cancel.append(current.id)
        add.append(reminder)
    cancel.extend(reminder.id for reminder in planned.values())
    add.extend(notices)
    return ReminderChanges(cancel=tuple(cancel), add=tuple(add))


def _same_instant(one: datetime, other: datetime) -> bool:
    """Equal to the second: a database may keep an anchor (a hold's deadline) in whole seconds
    and its reminder to the microsecond, or round where another truncates."""
    return abs(one - other) < timedelta(seconds=1)


def why_not_send(  # noqa: PLR0911 - one rule per return
    due: DueReminder, now: datetime, rules: ReminderRules
) -> str | None:
    """Why a reminder whose moment came is not sent (``None``: send it). The booking and its
    flights are as they are now: a reminder is only ever sent if it still holds."""
    reminder, booking = due.reminder, due.booking
    if reminder.attempts > rules.max_attempts:
        return f"not sent after {rules.max_attempts} attempts"
    if now >= reminder.expires_at:
        return f"too late: of use until {reminder.expires_at.isoformat()}"
    if booking is None:
        return "the booking no longer exists"
    status = booking.status_at(now)
    if status not in _FOR_STATUS[reminder.kind]:
        return f"the booking is {status}"
    if reminder.kind is ReminderKind.PAYMENT_DEADLINE and any(
        flight.status is FlightStatus.CANCELLED for flight in due.flights.values()
    ):
        return "a flight of the booking is cancelled"
    if reminder.flight_id is not None:
        flight = due.flights.get(reminder.flight_id)
        if flight is None:
            return "the flight no longer exists"
        if reminder.kind is not ReminderKind.FLIGHT_CHANGED:
            if flight.status is FlightStatus.CANCELLED:
                return "the flight is cancelled"
            if flight.departs_at <= now:
                return "the flight has left"
    return None


def dispatch(
    claimed: Sequence[DueReminder], now: datetime, rules: ReminderRules
) -> tuple[list[ReminderDue], list[tuple[str, str]]]:
    """What a sweep does with reminders it claimed: the ReminderDue event of each to send (its
    id is the reminder's, so a reminder can make one event only), and the others with the
    reason they are skipped."""
    send: list[ReminderDue] = []
    skip: list[tuple[str, str]] = []
    for due in claimed:
        reason = why_not_send(due, now, rules)
        if reason is not None:
            skip.append((due.reminder.id, reason))
            continue
        reminder = due.reminder
        assert due.booking is not None  # noqa: S101 - why_not_send checked it
        send.append(
            ReminderDue(
                id=reminder.id,
                occurred_at=now,
                reminder_id=reminder.id,
                kind=reminder.kind.value,
                booking=due.booking,
                due_at=reminder.due_at,
                flight_id=reminder.flight_id,
            )
        )
    return send, skip
