"""The SQLAlchemy inbox (contract in :class:`airline_core.ports.InboxStore`): which messages
each consumer finished with, and what became of each notice."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from attrs import define
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.notifications import Channel, NoticeRecord, NoticeStatus
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


@define
class SQLAlchemyInboxStore:
    db: Database

    async def processed(self, consumer: str, message_id: str) -> bool:
        query = select(inbox.c.message_id).where(
            inbox.c.consumer == consumer, inbox.c.message_id == message_id
        )
        return bool(await self.db.fetch(query))

    async def finish(self, consumer: str, message_id: str, now: datetime) -> None:
        row = {"consumer": consumer, "message_id": message_id, "processed_at": now}
        with contextlib.suppress(IntegrityError):  # finished before: a redelivery raced it
            await self.db.execute(insert(inbox), [row])

    async def sent(self, message_id: str) -> set[str]:
        query = select(notifications.c.key).where(
            notifications.c.message_id == message_id,
            notifications.c.status == NoticeStatus.SENT.value,
        )
        return {row.key for row in await self.db.fetch(query)}

    async def record(self, record: NoticeRecord) -> None:
        values = _values(record)

        async def work(connection: AsyncConnection) -> None:
            replaced = await connection.execute(
                update(notifications).where(notifications.c.key == record.key).values(values)
            )
            if not replaced.rowcount:
                await connection.execute(insert(notifications), [values])

        try:
            await self.db.write(work)
        except IntegrityError:  # a concurrent first record of the key: replace it
            await self.db.execute(
                update(notifications).where(notifications.c.key == record.key).values(values)
            )

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
