"""The outbox contract, on every backend: claims are leases, oldest first; a sent event is gone;
a failed attempt waits for its next one; giving up keeps the event for an operator; several
relays claiming at once never share an event."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import pytest

from airline_core.events import ClaimedEvent, EncodedEvent
from airline_core.ids import new_id
from tests.conftest import TEST_NOW, Stores

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=30)


async def claim(
    stores: Stores, owner: str, now: datetime = TEST_NOW, limit: int = 10
) -> list[EncodedEvent]:
    """The events ``owner`` claims (the claims' failure counts checked apart)."""
    return [entry.event for entry in await stores.outbox.claim(owner, now, LEASE, limit)]


def events(count: int) -> list[EncodedEvent]:
    return [
        EncodedEvent(
            id=new_id(),
            type="booking.held",
            version=1,
            occurred_at=TEST_NOW + timedelta(microseconds=n),
            payload=f'{{"n":{n}}}',
        )
        for n in range(count)
    ]


async def test_claims_come_oldest_first_in_batches_and_sent_ones_are_gone(stores: Stores) -> None:
    outbox, written = stores.outbox, events(5)
    await outbox.add(written, TEST_NOW)
    first = await claim(stores, "relay-a", TEST_NOW, 3)
    assert first == written[:3]  # every field back as written, the instant to the microsecond
    second = await claim(stores, "relay-b", TEST_NOW, 3)
    assert second == written[3:]
    assert await claim(stores, "relay-c", TEST_NOW, 3) == []

    assert await outbox.sent("relay-a", [event.id for event in first]) == 3
    status = await outbox.status()
    assert (status.pending, status.failed) == (2, 0)
    assert status.oldest_pending_at == written[3].occurred_at


async def test_a_lapsed_lease_frees_the_event_and_the_old_claimant_cannot_drop_it(
    stores: Stores,
) -> None:
    outbox, written = stores.outbox, events(1)
    await outbox.add(written, TEST_NOW)
    assert await claim(stores, "relay-a", TEST_NOW, 10) == written
    assert await claim(stores, "relay-b", TEST_NOW + LEASE / 2, 10) == []
    later = TEST_NOW + LEASE
    assert await claim(stores, "relay-b", later, 10) == written
    assert await outbox.sent("relay-a", [written[0].id]) == 0  # relay-b has it now
    assert (await outbox.status()).pending == 1
    assert await outbox.sent("relay-b", [written[0].id]) == 1
    assert (await outbox.status()).pending == 0


async def test_a_released_claim_is_free_at_once_and_counts_no_failure(stores: Stores) -> None:
    outbox, written = stores.outbox, events(3)
    await outbox.add(written, TEST_NOW)
    assert await claim(stores, "relay-a", TEST_NOW, 10) == written
    ids = [event.id for event in written]
    assert await outbox.release("relay-b", ids) == 0  # not relay-b's to release
    assert await claim(stores, "relay-b", TEST_NOW, 10) == []
    assert await outbox.release("relay-a", ids[1:]) == 2
    again = await outbox.claim("relay-b", TEST_NOW, LEASE, 10)
    assert again == [ClaimedEvent(event=event) for event in written[1:]]  # no failure counted
    assert await outbox.sent("relay-a", ids[1:]) == 0  # relay-b has them now
    assert await outbox.sent("relay-b", ids[1:]) == 2
    assert await outbox.release("relay-a", []) == 0
    assert (await outbox.status()).pending == 1


async def test_a_failed_attempt_waits_for_its_next_attempt(stores: Stores) -> None:
    outbox, written = stores.outbox, events(1)
    await outbox.add(written, TEST_NOW)
    await claim(stores, "relay-a", TEST_NOW, 10)
    retry_at = TEST_NOW + timedelta(seconds=5)
    await outbox.retry("relay-a", written[0].id, "broker unreachable", retry_at)
    assert await claim(stores, "relay-a", TEST_NOW + timedelta(seconds=4), 10) == []
    assert await claim(stores, "relay-b", retry_at, 10) == written


async def test_failures_are_counted_and_a_lapsed_claim_is_none(stores: Stores) -> None:
    outbox, written = stores.outbox, events(1)
    await outbox.add(written, TEST_NOW)
    assert await outbox.claim("relay-a", TEST_NOW, LEASE, 10) == [ClaimedEvent(event=written[0])]
    later = TEST_NOW + LEASE  # relay-a died: its claim lapsed, no failure
    [again] = await outbox.claim("relay-b", later, LEASE, 10)
    assert again.failures == 0
    await outbox.retry("relay-b", written[0].id, "returned: no route", later)
    await outbox.claim("relay-c", later, LEASE, 10)
    await outbox.retry("relay-c", written[0].id, "nacked", later)
    [third] = await outbox.claim("relay-a", later, LEASE, 10)
    assert third == ClaimedEvent(event=written[0], failures=2)
    await outbox.retry("relay-a", written[0].id, "nacked", None)
    assert await outbox.requeue(later) == 1
    [requeued] = await outbox.claim("relay-a", later, LEASE, 10)
    assert requeued.failures == 0


async def test_giving_up_keeps_the_event_for_an_operator_until_requeued(stores: Stores) -> None:
    outbox, written = stores.outbox, events(2)
    await outbox.add(written, TEST_NOW)
    await claim(stores, "relay-a", TEST_NOW, 10)
    await outbox.retry("relay-a", written[0].id, "no queue bound to booking.held", None)
    await outbox.sent("relay-a", [written[1].id])
    later = TEST_NOW + timedelta(days=1)
    assert await claim(stores, "relay-a", later, 10) == []
    status = await outbox.status()
    assert (status.pending, status.failed, status.oldest_pending_at) == (0, 1, None)
    assert status.failures == ((written[0].id, "booking.held", "no queue bound to booking.held"),)

    assert await outbox.requeue(later) == 1
    assert await claim(stores, "relay-b", later, 10) == written[:1]


async def test_retry_by_a_relay_that_lost_the_claim_changes_nothing(stores: Stores) -> None:
    outbox, written = stores.outbox, events(1)
    await outbox.add(written, TEST_NOW)
    await claim(stores, "relay-a", TEST_NOW, 10)
    await outbox.retry("relay-b", written[0].id, "not mine", None)
    assert (await outbox.status()).failed == 0
    assert await outbox.sent("relay-a", [written[0].id]) == 1


async def test_relays_claiming_at_once_never_share_an_event(stores: Stores) -> None:
    outbox, written = stores.outbox, events(200)
    await outbox.add(written, TEST_NOW)
    claimed: dict[str, list[str]] = {}

    async def relay(name: str) -> None:
        mine = claimed.setdefault(name, [])
        while batch := await claim(stores, name, TEST_NOW, 7):
            mine.extend(event.id for event in batch)
            assert await outbox.sent(name, [event.id for event in batch]) == len(batch)

    async with anyio.create_task_group() as group:
        for n in range(6):
            group.start_soon(relay, f"relay-{n}")
    every = [event_id for ids in claimed.values() for event_id in ids]
    assert sorted(every) == sorted(event.id for event in written)  # each exactly once
    assert (await outbox.status()).pending == 0
