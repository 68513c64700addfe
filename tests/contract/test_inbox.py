"""The inbox contract, on every backend: a finished message is remembered once per consumer;
notices are recorded by key, a later record of a key replacing the earlier; old entries go."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airline_core.ids import new_id
from airline_core.notifications import (
    Channel,
    InboxProgress,
    NoticeRecord,
    NoticeStatus,
    Settlement,
    notice_key,
)
from tests.conftest import TEST_NOW, Stores

pytestmark = pytest.mark.anyio


def record(message_id: str, to: str, status: NoticeStatus, **changes: object) -> NoticeRecord:
    channel = Channel.SMS if to.startswith("+") else Channel.EMAIL
    fields: dict[str, object] = {
        "key": notice_key(message_id, channel, to),
        "message_id": message_id,
        "event_type": "booking.confirmed",
        "channel": channel,
        "to": to,
        "template": "booking_confirmed",
        "status": status,
        "at": TEST_NOW,
        "provider_id": None if status is NoticeStatus.FAILED else "provider-1",
        "error": "550 mailbox unknown" if status is NoticeStatus.FAILED else None,
    }
    return NoticeRecord(**(fields | changes))  # type: ignore[arg-type]


async def progress(stores: Stores, message: str, consumer: str = "n") -> InboxProgress:
    return (await stores.inbox.progress(consumer, [message]))[message]


async def settle(stores: Stores, *settled: Settlement, at: datetime = TEST_NOW) -> None:
    await stores.inbox.settle("n", settled, at)


async def test_a_finished_message_is_remembered_per_consumer(stores: Stores) -> None:
    message = new_id()
    assert await progress(stores, message) == InboxProgress()
    await settle(stores, Settlement(message, finished=True))
    await settle(stores, Settlement(message, finished=True), at=TEST_NOW + timedelta(seconds=1))
    assert (await progress(stores, message)).finished
    assert not (await progress(stores, message, "audit")).finished
    assert not (await progress(stores, new_id())).finished
    assert await stores.inbox.progress("n", []) == {}


async def test_notices_are_recorded_by_key_and_only_sent_ones_count(stores: Stores) -> None:
    inbox, message, other = stores.inbox, new_id(), new_id()
    email = record(message, "ann@example.org", NoticeStatus.SENT)
    sms = record(message, "+447700900123", NoticeStatus.FAILED)
    bob = record(other, "bob@example.org", NoticeStatus.SENT)
    await settle(stores, Settlement(message, (email, sms)), Settlement(other, (bob,), True))
    both = await inbox.progress("n", [message, other, "01JAAAAAAAAAAAAAAAAAAAAA99"])
    assert both == {
        message: InboxProgress(finished=False, sent=frozenset({email.key})),
        other: InboxProgress(finished=True, sent=frozenset({bob.key})),
        "01JAAAAAAAAAAAAAAAAAAAAA99": InboxProgress(),
    }
    later = TEST_NOW + timedelta(minutes=1, microseconds=5)
    resent = record(message, "+447700900123", NoticeStatus.SENT, at=later)
    await settle(stores, Settlement(message, (resent,), True), at=later)
    assert await progress(stores, message) == InboxProgress(
        finished=True, sent=frozenset({email.key, sms.key})
    )
    mine = await inbox.records(message)
    assert mine[0] == resent  # newest first, every field kept, the instant to the microsecond
    assert {r.key for r in mine} == {email.key, sms.key}
    assert len(await inbox.records()) == 3
    assert len(await inbox.records(limit=1)) == 1


async def test_settling_again_after_finishing_changes_nothing_finished(stores: Stores) -> None:
    message, fresh = new_id(), new_id()
    email = record(message, "ann@example.org", NoticeStatus.SENT)
    await settle(stores, Settlement(message, (email,), True))
    # A redelivery that raced the first (it had not seen the inbox's row yet), settled in one
    # batch with a message new to the inbox.
    await settle(stores, Settlement(message, (email,), True), Settlement(fresh, (), True))
    assert await progress(stores, message) == InboxProgress(True, frozenset({email.key}))
    assert (await progress(stores, fresh)).finished
    assert len(await stores.inbox.records(message)) == 1


async def test_old_entries_are_forgotten(stores: Stores) -> None:
    old, new = new_id(), new_id()
    sent = record(old, "ann@example.org", NoticeStatus.SENT)
    await settle(stores, Settlement(old, (sent,), True))
    await settle(stores, Settlement(new, (), True), at=TEST_NOW + timedelta(days=3))
    assert await stores.inbox.forget(TEST_NOW + timedelta(days=1)) == 1
    assert not (await progress(stores, old)).finished
    assert (await progress(stores, new)).finished
    assert await stores.inbox.records(old) == []
