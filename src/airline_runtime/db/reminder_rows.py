"""Reminder rows as the stores that change bookings and flights write them, in their own
transactions (the sweep's store is :mod:`airline_runtime.db.reminders`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.booking.model import Booking
from airline_core.catalog.model import Flight
from airline_core.reminders.model import (
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderStatus,
)
from airline_runtime.db.catalog import _FLIGHTS_BY_ID, _flight
from airline_runtime.db.tables import reminders

if TYPE_CHECKING:
    from airline_core.ports import Replan

__all__ = [
    "PLANNED",
    "cancel_planned",
    "flights_by_id",
    "flights_of",
    "reminder_from_row",
    "reminder_values",
    "replan_bookings",
    "settled_values",
    "settling",
    "write_changes",
]

PLANNED: Final = ReminderStatus.PLANNED.value
_INSERT: Final = insert(reminders)
_OF_BOOKINGS: Final = (
    select(reminders)
    .where(reminders.c.booking_id.in_(bindparam("ids", expanding=True)))
    .order_by(reminders.c.id)
    .with_for_update()
)


def reminder_values(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": reminder.id,
        "booking_id": reminder.booking_id,
        "reference": reminder.reference,
        "kind": reminder.kind.value,
        "flight_id": reminder.flight_id,
        "due_at": reminder.due_at,
        "expires_at": reminder.expires_at,
        "status": reminder.status.value,
        "attempts": reminder.attempts,
        "claimed_by": reminder.claimed_by,
        "claimed_until": reminder.claimed_until,
        "created_at": reminder.created_at,
        "settled_at": reminder.settled_at,
        "note": reminder.note,
    }


def reminder_from_row(row: Any) -> Reminder:
    return Reminder(
        id=row.id,
        booking_id=row.booking_id,
        reference=row.reference,
        kind=row.kind,
        flight_id=row.flight_id,
        due_at=row.due_at,
        expires_at=row.expires_at,
        status=row.status,
        attempts=int(row.attempts),
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
        created_at=row.created_at,
        settled_at=row.settled_at,
        note=row.note,
    )


def settled_values(status: ReminderStatus, now: datetime, note: str | None) -> dict[str, Any]:
    return {
        "status": status.value,
        "settled_at": now,
        "note": None if note is None else note[:255],
        "claimed_by": None,
        "claimed_until": None,
    }


def settling(status: ReminderStatus, *where: Any) -> Any:
    """The UPDATE settling the reminders ``where`` picks as ``status``, with ``now`` and
    ``note`` bound (built once: a statement built per call costs a payment's confirmation a
    tenth of its time in SQLAlchemy); the values :func:`settled_values` gives, as parameters."""
    return (
        update(reminders)
        .where(*where)
        .values(
            status=status.value,
            settled_at=bindparam("now", type_=reminders.c.settled_at.type),
            note=bindparam("note"),
            claimed_by=None,
            claimed_until=None,
        )
    )


_CANCEL_BY_ID: Final = settling(
    ReminderStatus.CANCELLED,
    reminders.c.id.in_(bindparam("ids", expanding=True)),
    reminders.c.status == PLANNED,
)
_CANCEL_OF_BOOKING: Final = settling(
    ReminderStatus.CANCELLED,
    reminders.c.booking_id == bindparam("booking"),
    reminders.c.status == PLANNED,
)


async def write_changes(
    connection: AsyncConnection, changes: ReminderChanges, now: datetime, note: str
) -> None:
    """Cancel the planned reminders ``changes`` names and add its new ones."""
    if changes.cancel:
        await connection.execute(
            _CANCEL_BY_ID, {"ids": list(changes.cancel), "now": now, "note": note[:255]}
        )
    if changes.add:
        await connection.execute(_INSERT, [reminder_values(r) for r in changes.add])


async def cancel_planned(
    connection: AsyncConnection, booking_id: str, now: datetime, note: str
) -> None:
    """Cancel every planned reminder of the booking (it was cancelled or expired)."""
    await connection.execute(
        _CANCEL_OF_BOOKING, {"booking": booking_id, "now": now, "note": note[:255]}
    )


def flights_of(booking: Booking, found: Mapping[str, Flight]) -> dict[str, Flight]:
    """The booking's flights among ``found``, by id (a flight that went is left out)."""
    return {f: found[f] for f in booking.flight_ids if f in found}


async def flights_by_id(
    connection: AsyncConnection, flight_ids: Sequence[str]
) -> dict[str, Flight]:
    if not flight_ids:
        return {}
    rows = await connection.execute(_FLIGHTS_BY_ID, {"ids": sorted(set(flight_ids))})
    return {flight.id: flight for flight in map(_flight, rows)}


async def replan_bookings(
    connection: AsyncConnection,
    found: Sequence[Booking],
    replan: Replan,
    now: datetime,
    note: str,
) -> None:
    """Re-plan the reminders of each booking of ``found`` (as the change leaves it), on its
    flights and reminders as this transaction reads them: three reads and two writes however
    many bookings there are."""
    if not found:
        return
    # The reminders first, locked: a sweep settling one of them now finishes first (and this
    # sees it sent, so it is not planned again), and a change of another flight of the same
    # booking re-planning at once waits for this one and then reads the flights it left.
    existing: dict[str, list[Reminder]] = {}
    rows = await connection.execute(_OF_BOOKINGS, {"ids": sorted(b.id for b in found)})
    for row in rows:
        existing.setdefault(row.booking_id, []).append(reminder_from_row(row))
    found_flights = await flights_by_id(
        connection, [flight_id for booking in found for flight_id in booking.flight_ids]
    )
    cancel: list[str] = []
    add: list[Reminder] = []
    for booking in found:
        context = ReminderContext(
            booking=booking,
            flights=flights_of(booking, found_flights),
            reminders=existing.get(booking.id, ()),
        )
        changes = replan(context)
        cancel.extend(changes.cancel)
        add.extend(changes.add)
    await write_changes(
        connection, ReminderChanges(cancel=tuple(cancel), add=tuple(add)), now, note
    )
