"""The inbox contract, on every backend: a finished message is remembered once per consumer;
notices are recorded by key, a later record of a key replacing the earlier; old entries go."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airline_core.ids import new_id
from airline_core.notifications import (
    Channel,
    InboxProgress,
    NoticeRecord,
    NoticeStatus,
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


async def test_a_finished_message_is_remembered_per_consumer(stores: Stores) -> None:
    inbox, message = stores.inbox, new_id()
    assert await inbox.progress("notifications", message) == InboxProgress()
    await inbox.settle("notifications", message, [], finished=True, now=TEST_NOW)
    later = TEST_NOW + timedelta(seconds=1)
    await inbox.settle("notifications", message, [], finished=True, now=later)  # no error
    assert (await inbox.progress("notifications", message)).finished
    assert not (await inbox.progress("audit", message)).finished
    assert not (await inbox.progress("notifications", new_id())).finished


async def test_notices_are_recorded_by_key_and_only_sent_ones_count(stores: Stores) -> None:
    inbox, message, other = stores.inbox, new_id(), new_id()
    email = record(message, "ann@example.org", NoticeStatus.SENT)
    sms = record(message, "+447700900123", NoticeStatus.FAILED)
    await inbox.settle("notifications", message, [email, sms], finished=False, now=TEST_NOW)
    bob = record(other, "bob@example.org", NoticeStatus.SENT)
    await inbox.settle("notifications", other, [bob], finished=True, now=TEST_NOW)
    assert await inbox.progress("notifications", message) == InboxProgress(
        finished=False, sent=frozenset({email.key})
    )
    later = TEST_NOW + timedelta(minutes=1, microseconds=5)
    resent = record(message, "+447700900123", NoticeStatus.SENT, at=later)
    await inbox.settle("notifications", message, [resent], finished=True, now=later)
    assert await inbox.progress("notifications", message) == InboxProgress(
        finished=True, sent=frozenset({email.key, sms.key})
    )
    mine = await inbox.records(message)
    assert mine[0] == resent  # newest first, every field kept, the instant to the microsecond
    assert {r.key for r in mine} == {email.key, sms.key}
    assert len(await inbox.records()) == 3
    assert len(await inbox.records(limit=1)) == 1


async def test_settling_again_after_finishing_changes_nothing_finished(stores: Stores) -> None:
    inbox, message = stores.inbox, new_id()
    email = record(message, "ann@example.org", NoticeStatus.SENT)
    await inbox.settle("notifications", message, [email], finished=True, now=TEST_NOW)
    # A redelivery that raced the first (it had not seen the inbox's row yet).
    await inbox.settle("notifications", message, [email], finished=True, now=TEST_NOW)
    progress = await inbox.progress("notifications", message)
    assert progress == InboxProgress(finished=True, sent=frozenset({email.key}))
    assert len(await inbox.records(message)) == 1


async def test_old_entries_are_forgotten(stores: Stores) -> None:
    inbox, old, new = stores.inbox, new_id(), new_id()
    sent = record(old, "ann@example.org", NoticeStatus.SENT)
    await inbox.settle("notifications", old, [sent], finished=True, now=TEST_NOW)
    await inbox.settle("notifications", new, [], finished=True, now=TEST_NOW + timedelta(days=3))
    assert await inbox.forget(TEST_NOW + timedelta(days=1)) == 1
    assert not (await inbox.progress("notifications", old)).finished
    assert (await inbox.progress("notifications", new)).finished
    assert await inbox.records(old) == []
