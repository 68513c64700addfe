"""The SQLAlchemy idempotency-key store (contract in :class:`airline_core.ports.IdempotencyStore`).

A claim inserts the key; the primary key (user, key) makes exactly one of several concurrent
first requests win. A loser reads the row and decides; taking over an expired key or a lapsed
lease is a compare-and-set on the value it read, so again only one claimant wins.

A use case that keeps its key in its own transaction (a hold, a payment) reads the record with
its first row (:data:`KEY_COLUMNS`, :func:`kept_key`) and writes it with :func:`store_key`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import define
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.idempotency import KeptKey, KeyClaim, KeyedRequest, KeyState, StoredAnswer
from airline_runtime.db.engine import Database, integrity_error_kind, integrity_errors
from airline_runtime.db.tables import idempotency_keys as keys

__all__ = ["KEY_COLUMNS", "SQLAlchemyIdempotencyStore", "kept_key", "store_key"]


def _the(user_id: str, key: str) -> Any:
    return (keys.c.user_id == user_id) & (keys.c.key == key)


# Built once: every booking and payment request claims and completes a key.
_INSERT = insert(keys)
_KEY = select(keys).where(keys.c.user_id == bindparam("user"), keys.c.key == bindparam("key"))
_COMPLETE = (
    update(keys)
    .where(keys.c.user_id == bindparam("user"), keys.c.key == bindparam("key_"))
    .values(status=bindparam("status"), media_type=bindparam("media_type"), body=bindparam("body"))
)


_REPLACE = (
    update(keys)
    .where(keys.c.user_id == bindparam("user"), keys.c.key == bindparam("key_"))
    .values(
        fingerprint=bindparam("fingerprint"),
        expires_at=bindparam("expires_at"),
        lease_until=bindparam("lease_until"),
        status=bindparam("status"),
        media_type=bindparam("media_type"),
        body=bindparam("body"),
    )
)

# A key's record, for a use case that reads it joined to its own first row (a hold, a
# payment): see kept_key.
KEY_COLUMNS = tuple(
    keys.c[name].label(f"key_{name}")
    for name in ("fingerprint", "expires_at", "lease_until", "status", "media_type", "body")
)


def kept_key(row: Any) -> KeptKey | None:
    """The key's record from a row with the :data:`KEY_COLUMNS`, or ``None``."""
    if row.key_fingerprint is None:
        return None
    answer = (
        None
        if row.key_status is None
        else StoredAnswer(row.key_status, row.key_media_type, row.key_body.encode())
    )
    return KeptKey(row.key_fingerprint, row.key_expires_at, row.key_lease_until, answer)


async def store_key(
    connection: AsyncConnection,
    key: KeyedRequest[Any],
    now: datetime,
    answer: StoredAnswer | None,
    *,
    replace: bool,
) -> None:
    """Store ``key`` in a use case's transaction: with its ``answer``, or running until
    ``key.lease_until``; ``replace`` overwrites the record the use case read and ran past."""
    values: dict[str, Any] = {
        "fingerprint": key.fingerprint,
        "expires_at": key.expires_at,
        "lease_until": key.lease_until if answer is None else now,
        "status": None if answer is None else answer.status,
        "media_type": None if answer is None else answer.media_type,
        "body": None if answer is None else answer.body.decode(),
    }
    if replace:
        await connection.execute(_REPLACE, {**values, "user": key.user_id, "key_": key.key})
        return
    with integrity_errors(duplicate="the idempotency key was stored meanwhile"):
        await connection.execute(_INSERT, {**values, "user_id": key.user_id, "key": key.key})


@define
class SQLAlchemyIdempotencyStore:
    db: Database

    async def claim(  # noqa: PLR0911 - one return per case of the contract
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
        lease_until: datetime,
    ) -> KeyClaim:
        row = {
            "user_id": user_id,
            "key": key,
            "fingerprint": fingerprint,
            "expires_at": expires_at,
            "lease_until": lease_until,
        }
        for _ in range(3):
            try:
                await self.db.execute(_INSERT, [row])
            except IntegrityError as error:
                if integrity_error_kind(error) != "duplicate":
                    raise
            else:
                return KeyClaim(KeyState.NEW)
            found = await self.db.fetch(_KEY, {"user": user_id, "key": key})
            if not found:
                continue  # released meanwhile: insert again
            current = found[0]
            if current.expires_at <= now:
                # An old key: it starts afresh for this request, if no one else got there.
                taken = await self.db.execute(
                    update(keys)
                    .where(_the(user_id, key), keys.c.expires_at == current.expires_at)
                    .values(**row, status=None, media_type=None, body=None)
                )
                if taken:
                    return KeyClaim(KeyState.NEW)
                continue
            if current.fingerprint != fingerprint:
                return KeyClaim(KeyState.OTHER_REQUEST)
            if current.status is not None:
                answer = StoredAnswer(current.status, current.media_type, current.body.encode())
                return KeyClaim(KeyState.DONE, answer)
            if current.lease_until > now:
                return KeyClaim(KeyState.RUNNING)
            moved = await self.db.execute(
                update(keys)
                .where(
                    _the(user_id, key),
                    keys.c.lease_until == current.lease_until,
                    keys.c.status.is_(None),
                )
                .values(lease_until=lease_until)
            )
            return KeyClaim(KeyState.NEW if moved else KeyState.RUNNING)
        return KeyClaim(KeyState.RUNNING)

    async def complete(self, user_id: str, key: str, answer: StoredAnswer) -> None:
        values = {
            "user": user_id,
            "key_": key,
            "status": answer.status,
            "media_type": answer.media_type,
            "body": answer.body.decode(),
        }
        await self.db.execute(_COMPLETE, [values])

    async def keep(
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        answer: StoredAnswer,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        values = {
            "user_id": user_id,
            "key": key,
            "fingerprint": fingerprint,
            "expires_at": expires_at,
            "lease_until": now,
            "status": answer.status,
            "media_type": answer.media_type,
            "body": answer.body.decode(),
        }
        try:
            await self.db.execute(_INSERT, [values])
        except IntegrityError as error:
            if integrity_error_kind(error) != "duplicate":
                raise
            # Replace only a record that is no longer live; a live one's answer stands.
            stale = keys.c.expires_at <= now
            stale |= keys.c.status.is_(None) & (keys.c.lease_until <= now)
            await self.db.execute(
                update(keys)
                .where(_the(user_id, key), stale)
                .values({k: v for k, v in values.items() if k not in ("user_id", "key")})
            )

    async def release(self, user_id: str, key: str) -> None:
        await self.db.execute(delete(keys).where(_the(user_id, key)))

    async def purge(self, now: datetime) -> int:
        return await self.db.execute(delete(keys).where(keys.c.expires_at <= now))
