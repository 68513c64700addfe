"""The SQLAlchemy outbox (contract in :class:`airline_core.ports.OutboxStore`).

A store that changes a booking or a flight writes its events with :func:`add_events` on the
connection of its own transaction. A relay claims a batch in one short transaction: on MySQL
and MariaDB ``SELECT ... FOR UPDATE SKIP LOCKED`` takes due rows that no other relay is
claiming at that moment (the others skip them rather than wait), and an ``UPDATE`` stamps the
lease on them; on SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer at a time), so the
same statements are already exclusive. The lease is what makes a claim last beyond its
transaction: a row whose lease runs is not due. A published event's row is deleted, so the
table holds only what is still to go out (and what failed for good) and stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import define
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.events import ClaimedEvent, EncodedEvent, OutboxStatus
from airline_runtime.db.engine import Database
from airline_runtime.db.tables import outbox

__all__ = ["FAILED", "PENDING", "SQLAlchemyOutboxStore", "add_events"]

PENDING: Final = "pending"
FAILED: Final = "failed"
#: How many failed events ``status`` lists.
_FAILURES_LISTED: Final = 20
_INSERT = insert(outbox)
_EVENT_COLUMNS = (
    outbox.c.id,
    outbox.c.type,
    outbox.c.version,
    outbox.c.occurred_at,
    outbox.c.payload,
    outbox.c.attempts,
)


def _row(event: EncodedEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at,
        "payload": event.payload,
        "status": PENDING,
        "next_attempt_at": now,
        "attempts": 0,
        "claimed_by": None,
        "claimed_until": None,
        "last_error": None,
    }


async def add_events(
    connection: AsyncConnection, events: Sequence[EncodedEvent], now: datetime
) -> None:
    """Write ``events`` in the transaction of ``connection`` (one statement for all)."""
    if events:
        await connection.execute(_INSERT, [_row(event, now) for event in events])


def _claimed(row: Any) -> ClaimedEvent:
    event = EncodedEvent(
        id=row.id,
        type=row.type,
        version=row.version,
        occurred_at=row.occurred_at,
        payload=row.payload,
    )
    return ClaimedEvent(event=event, failures=int(row.attempts))


@define
class SQLAlchemyOutboxStore:
    db: Database

    async def add(self, events: Sequence[EncodedEvent], now: datetime) -> None:
        async def work(connection: AsyncConnection) -> None:
            await add_events(connection, events, now)

        await self.db.write(work)

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[ClaimedEvent]:
        due = (
            select(*_EVENT_COLUMNS)
            .where(
                outbox.c.status == PENDING,
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        async def work(connection: AsyncConnection) -> list[ClaimedEvent]:
            claimed = [_claimed(row) for row in await connection.execute(due)]
            if claimed:
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([entry.event.id for entry in claimed]))
                    .values(claimed_by=owner, claimed_until=now + lease)
                )
            return claimed

        return await self.db.write(work)

    async def sent(self, owner: str, event_ids: Sequence[str]) -> int:
        if not event_ids:
            return 0
        return await self.db.execute(
            delete(outbox).where(outbox.c.id.in_(list(event_ids)), outbox.c.claimed_by == owner)
        )

    async def release(self, owner: str, event_ids: Sequence[str]) -> int:
        if not event_ids:
            return 0
        return await self.db.execute(
            update(outbox)
            .where(outbox.c.id.in_(list(event_ids)), outbox.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )

    async def retry(
        self, owner: str, event_id: str, error: str, next_attempt: datetime | None
    ) -> None:
        values: dict[str, Any] = {
            "claimed_by": None,
            "claimed_until": None,
            "last_error": error,
            "attempts": outbox.c.attempts + 1,
        }
        if next_attempt is None:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = next_attempt
        await self.db.execute(
            update(outbox)
            .where(outbox.c.id == event_id, outbox.c.claimed_by == owner)
            .values(**values)
        )

    async def requeue(self, now: datetime) -> int:
        return await self.db.execute(
            update(outbox)
            .where(outbox.c.status == FAILED)
            .values(status=PENDING, next_attempt_at=now, attempts=0)
        )

    async def status(self) -> OutboxStatus:
        counts = select(
            outbox.c.status,
            func.count().label("events"),
            func.min(outbox.c.occurred_at).label("oldest"),
        ).group_by(outbox.c.status)
        failures = (
            select(outbox.c.id, outbox.c.type, outbox.c.last_error)
            .where(outbox.c.status == FAILED)
            .order_by(outbox.c.id.desc())
            .limit(_FAILURES_LISTED)
        )
        by_status: dict[str, tuple[int, datetime | None]] = {
            row.status: (int(row.events), row.oldest) for row in await self.db.fetch(counts)
        }
        pending, oldest = by_status.get(PENDING, (0, None))
        return OutboxStatus(
            pending=pending,
            failed=by_status.get(FAILED, (0, None))[0],
            oldest_pending_at=oldest,
            failures=tuple(
                (row.id, row.type, row.last_error or "") for row in await self.db.fetch(failures)
            ),
        )
