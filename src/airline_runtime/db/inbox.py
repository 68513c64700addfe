"""The SQLAlchemy inbox (contract in :class:`airline_core.ports.InboxStore`): which messages
each consumer finished with, and what became of each notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from attrs import define
from sqlalchemy import bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.notifications import Channel, InboxProgress, NoticeRecord, NoticeStatus
from airline_runtime.db.engine import Database
from airline_runtime.db.tables import inbox, notifications

__all__ = ["SQLAlchemyInboxStore"]


def _values(record: NoticeRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "message_id": record.message_id,
        "event_type": record.event_type,
        "channel": record.channel.value,
        "recipient": record.to,
        "template": record.template,
        "status": record.status.value,
        "at": record.at,
        "provider_id": record.provider_id,
        "error": record.error,
    }


def _record(row: Any) -> NoticeRecord:
    return NoticeRecord(
        key=row.key,
        message_id=row.message_id,
        event_type=row.event_type,
        channel=Channel(row.channel),
        to=row.recipient,
        template=row.template,
        status=NoticeStatus(row.status),
        at=row.at,
        provider_id=row.provider_id,
        error=row.error,
    )


# One round trip: the inbox row, if any, and the message's sent notices.
_PROGRESS = union_all(
    select(literal("finished").label("kind"), inbox.c.message_id.label("value")).where(
        inbox.c.consumer == bindparam("consumer"), inbox.c.message_id == bindparam("message")
    ),
    select(literal("sent"), notifications.c.key).where(
        notifications.c.message_id == bindparam("message"),
        notifications.c.status == NoticeStatus.SENT.value,
    ),
)


@define
class SQLAlchemyInboxStore:
    db: Database

    async def progress(self, consumer: str, message_id: str) -> InboxProgress:
        rows = await self.db.fetch(_PROGRESS, {"consumer": consumer, "message": message_id})
        return InboxProgress(
            finished=any(row.kind == "finished" for row in rows),
            sent=frozenset(row.value for row in rows if row.kind == "sent"),
        )

    async def settle(
        self,
        consumer: str,
        message_id: str,
        records: Sequence[NoticeRecord],
        *,
        finished: bool,
        now: datetime,
    ) -> None:
        rows = [_values(record) for record in records]
        done = {"consumer": consumer, "message_id": message_id, "processed_at": now}

        async def first_time(connection: AsyncConnection) -> None:
            # The common case: new records, a message not finished before; two statements.
            if rows:
                await connection.execute(insert(notifications), rows)
            if finished:
                await connection.execute(insert(inbox), [done])

        async def again(connection: AsyncConnection) -> None:
            for values in rows:
                replaced = await connection.execute(
                    update(notifications).where(notifications.c.key == values["key"]).values(values)
                )
                if not replaced.rowcount:
                    await connection.execute(insert(notifications), [values])
            if finished:
                seen = await connection.execute(
                    select(inbox.c.message_id).where(
                        inbox.c.consumer == consumer, inbox.c.message_id == message_id
                    )
                )
                if seen.first() is None:
                    await connection.execute(insert(inbox), [done])

        try:
            await self.db.write(first_time)
        except IntegrityError:  # a record of a key, or the message, was there before
            await self.db.write(again)

    async def records(self, message_id: str | None = None, limit: int = 100) -> list[NoticeRecord]:
        query = select(notifications).order_by(notifications.c.at.desc()).limit(limit)
        if message_id is not None:
            query = query.where(notifications.c.message_id == message_id)
        return [_record(row) for row in await self.db.fetch(query)]

    async def forget(self, before: datetime) -> int:
        async def work(connection: AsyncConnection) -> int:
            await connection.execute(delete(notifications).where(notifications.c.at < before))
            gone = await connection.execute(delete(inbox).where(inbox.c.processed_at < before))
            return gone.rowcount

        return await self.db.write(work)
