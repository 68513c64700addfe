"""The SQLAlchemy inbox (contract in :class:`airline_core.ports.InboxStore`): which messages
each consumer finished with, and what became of each notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from attrs import define
from sqlalchemy import delete, insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.notifications import (
    Channel,
    InboxProgress,
    NoticeRecord,
    NoticeStatus,
    Settlement,
)
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

    async def progress(self, consumer: str, message_ids: Sequence[str]) -> dict[str, InboxProgress]:
        if not message_ids:
            return {}
        ids = list(message_ids)
        # One round trip: the messages' inbox rows and their sent notices.
        query = union_all(
            select(literal("finished").label("kind"), inbox.c.message_id, inbox.c.message_id).where(
                inbox.c.consumer == consumer, inbox.c.message_id.in_(ids)
            ),
            select(literal("sent"), notifications.c.message_id, notifications.c.key).where(
                notifications.c.message_id.in_(ids),
                notifications.c.status == NoticeStatus.SENT.value,
            ),
        )
        finished: set[str] = set()
        sent: dict[str, set[str]] = {}
        for row in await self.db.fetch(query):
            kind, message, value = cast("tuple[str, str, str]", tuple(row))
            if kind == "finished":
                finished.add(message)
            else:
                sent.setdefault(message, set()).add(value)
        return {
            message_id: InboxProgress(
                finished=message_id in finished, sent=frozenset(sent.get(message_id, ()))
            )
            for message_id in ids
        }

    async def settle(self, consumer: str, settled: Sequence[Settlement], now: datetime) -> None:
        # One row per key and per message, the last word winning (a batch may hold a message
        # twice).
        rows = list(
            {
                record.key: _values(record)
                for settlement in settled
                for record in settlement.records
            }.values()
        )
        done = list(
            {
                settlement.message_id: {
                    "consumer": consumer,
                    "message_id": settlement.message_id,
                    "processed_at": now,
                }
                for settlement in settled
                if settlement.finished
            }.values()
        )
        if not rows and not done:
            return

        async def first_time(connection: AsyncConnection) -> None:
            # The common case: new records, messages not finished before; two statements.
            if rows:
                await connection.execute(insert(notifications), rows)
            if done:
                await connection.execute(insert(inbox), done)

        async def again(connection: AsyncConnection) -> None:
            for values in rows:
                replaced = await connection.execute(
                    update(notifications).where(notifications.c.key == values["key"]).values(values)
                )
                if not replaced.rowcount:
                    await connection.execute(insert(notifications), [values])
            if done:
                seen = await connection.execute(
                    select(inbox.c.message_id).where(
                        inbox.c.consumer == consumer,
                        inbox.c.message_id.in_([row["message_id"] for row in done]),
                    )
                )
                known = {row.message_id for row in seen}
                fresh = [row for row in done if row["message_id"] not in known]
                if fresh:
                    await connection.execute(insert(inbox), fresh)

        try:
            await self.db.write(first_time)
        except IntegrityError:  # a record of a key, or a message, was there before
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
