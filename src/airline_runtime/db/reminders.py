"""The SQLAlchemy reminder store (contract in :class:`airline_core.ports.ReminderStore`).

A sweep claims a batch in one short transaction: on MySQL and MariaDB
``SELECT ... FOR UPDATE SKIP LOCKED`` takes due rows no other sweep is claiming at that moment,
and an ``UPDATE`` stamps the lease on them; on SQLite the transaction is ``BEGIN IMMEDIATE``
(one writer at a time) and the ``UPDATE`` is a compare-and-set on the lease, so the same
statements are exclusive there too. The bookings and flights of the batch are then read in two
queries. Settling is a second transaction that locks the batch's rows still planned and still
this sweep's, adds the events of those to send to the outbox and marks them sent: a reminder
whose lease lapsed to another sweep is not this one's to send, so each is sent once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import define, evolve
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.events import Event, encode
from airline_core.reminders.model import DueReminder, Reminder, ReminderQuery, ReminderStatus
from airline_runtime.db.booking import _booking
from airline_runtime.db.engine import Database
from airline_runtime.db.outbox import add_events
from airline_runtime.db.reminder_rows import (
    PLANNED,
    flights_by_id,
    flights_of,
    reminder_from_row,
    reminder_values,
    settled_values,
    settling,
)
from airline_runtime.db.tables import bookings, reminders

__all__ = ["SQLAlchemyReminderStore"]

_BOOKINGS_BY_ID = select(bookings).where(bookings.c.id.in_(bindparam("ids", expanding=True)))
_SKIP = settling(ReminderStatus.SKIPPED, reminders.c.id == bindparam("reminder"))


@define
class SQLAlchemyReminderStore:
    db: Database

    async def add(self, planned: Sequence[Reminder]) -> None:
        if planned:
            await self.db.execute(insert(reminders), [reminder_values(r) for r in planned])

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[DueReminder]:
        free = or_(reminders.c.claimed_until.is_(None), reminders.c.claimed_until <= now)
        due = (
            select(reminders)
            .where(reminders.c.status == PLANNED, reminders.c.due_at <= now, free)
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        async def work(connection: AsyncConnection) -> list[Reminder]:
            found = [reminder_from_row(row) for row in await connection.execute(due)]
            if not found:
                return []
            until = now + lease
            taken = await connection.execute(
                update(reminders)
                .where(reminders.c.id.in_([r.id for r in found]), free)
                .values(claimed_by=owner, claimed_until=until, attempts=reminders.c.attempts + 1)
            )
            if taken.rowcount != len(found):  # pragma: no cover - the locks rule it out
                raise AssertionError("a claimed reminder was taken meanwhile")
            return [_claimed(r, owner, until) for r in found]

        claimed = await self.db.write(work)
        if not claimed:
            return []
        async with self.db.read() as connection:
            ids = sorted({r.booking_id for r in claimed})
            found = {
                row.id: _booking(row)
                for row in await connection.execute(_BOOKINGS_BY_ID, {"ids": ids})
            }
            flights = await flights_by_id(
                connection, [f for booking in found.values() for f in booking.flight_ids]
            )
        result = []
        for reminder in claimed:
            booking = found.get(reminder.booking_id)
            of = {} if booking is None else flights_of(booking, flights)
            result.append(DueReminder(reminder=reminder, booking=booking, flights=of))
        return result

    async def settle(
        self,
        owner: str,
        now: datetime,
        sent: Sequence[Event],
        skipped: Sequence[tuple[str, str]] = (),
    ) -> int:
        by_reminder = {event.reminder_id: event for event in sent}  # type: ignore[attr-defined]
        ids = [*by_reminder, *(reminder_id for reminder_id, _ in skipped)]
        if not ids:
            return 0
        mine = (
            select(reminders.c.id)
            .where(
                reminders.c.id.in_(ids),
                reminders.c.status == PLANNED,
                reminders.c.claimed_by == owner,
            )
            .with_for_update()
        )

        async def work(connection: AsyncConnection) -> int:
            still = {row.id for row in await connection.execute(mine)}
            sending = [by_reminder[r] for r in by_reminder if r in still]
            if sending:
                await add_events(connection, [encode(event) for event in sending], now)
                await connection.execute(
                    update(reminders)
                    .where(reminders.c.id.in_([e.reminder_id for e in sending]))  # type: ignore[attr-defined]
                    .values(**settled_values(ReminderStatus.SENT, now, None))
                )
            skipping: list[dict[str, Any]] = [
                {"reminder": reminder_id, "now": now, "note": reason[:255]}
                for reminder_id, reason in skipped
                if reminder_id in still
            ]
            if skipping:
                await connection.execute(_SKIP, skipping)
            return len(sending)

        return await self.db.write(work)

    async def for_booking(self, booking_id: str) -> Sequence[Reminder]:
        query = (
            select(reminders)
            .where(reminders.c.booking_id == booking_id)
            .order_by(reminders.c.due_at, reminders.c.id)
        )
        return [reminder_from_row(row) for row in await self.db.fetch(query)]

    async def find(self, query: ReminderQuery) -> Sequence[Reminder]:
        statement = select(reminders).where(
            reminders.c.status.in_(sorted(status.value for status in query.statuses))
        )
        if query.kind is not None:
            statement = statement.where(reminders.c.kind == query.kind.value)
        if query.reference is not None:
            statement = statement.where(reminders.c.reference == query.reference)
        if query.due_after is not None:
            statement = statement.where(reminders.c.due_at >= query.due_after)
        if query.due_before is not None:
            statement = statement.where(reminders.c.due_at < query.due_before)
        statement = statement.order_by(reminders.c.due_at, reminders.c.id).limit(query.limit)
        return [reminder_from_row(row) for row in await self.db.fetch(statement)]


def _claimed(reminder: Reminder, owner: str, until: datetime) -> Reminder:
    return evolve(reminder, claimed_by=owner, claimed_until=until, attempts=reminder.attempts + 1)
