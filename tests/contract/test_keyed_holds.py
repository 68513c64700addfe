"""Holds with an idempotency key, on each backend: the key's answer is written in the booking's
own transaction (Bookings.hold_once), so a booking never exists without it and a retry, even
one racing the first request, replays it instead of holding again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import anyio
import pytest

from airline_core import Airline, Cabin, PageRequest, Principal
from airline_core.booking import Booking, SeatState
from airline_core.errors import OfferExpired
from airline_core.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    KeyedRequest,
    StoredAnswer,
)
from tests.conftest import Stores
from tests.contract.test_booking import customer, party, scheduled

pytestmark = pytest.mark.anyio


def answer_of(booking: Booking) -> StoredAnswer:
    return StoredAnswer(201, "application/json", f'{{"reference":"{booking.reference}"}}'.encode())


def keyed(
    airline: Airline,
    who: Principal,
    key: str,
    print_: str = "a" * 64,
    render: Callable[[Booking], StoredAnswer] = answer_of,
) -> KeyedRequest[Booking]:
    return airline.idempotency.request(who.user_id, key, print_, render)


async def bookings_of(airline: Airline, who: Principal) -> list[Booking]:
    return list((await airline.bookings.list(who, PageRequest(limit=200))).items)


async def test_a_retry_replays_the_hold_and_holds_nothing_more(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 2)
    first, replayed = await airline.hold_once(ann, offer.id, party(2), (), keyed(airline, ann, "k"))
    assert not replayed
    (booking,) = await bookings_of(airline, ann)
    assert first == answer_of(booking)
    again, replayed = await airline.hold_once(ann, offer.id, party(2), (), keyed(airline, ann, "k"))
    assert replayed
    assert again == first
    assert len(await bookings_of(airline, ann)) == 1
    seat_map = await airline.seat_map(flight.id, "economy")
    assert seat_map.count(SeatState.HELD) == 2
    # The answer outlives the offer: the sweep purges expired offers, not kept answers.
    await stores.offers.delete_expired(offer.expires_at + timedelta(days=1))
    late, replayed = await airline.hold_once(ann, offer.id, party(2), (), keyed(airline, ann, "k"))
    assert replayed
    assert late == first


async def test_the_same_key_for_another_request_is_refused(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "k"))
    with pytest.raises(IdempotencyKeyReused):
        await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "k", "b" * 64))
    # A key that another request claimed before running (as a payment does) is busy.
    now = stores.clock.now()
    await stores.idempotency_keys.claim(
        ann.user_id, "busy", "c" * 64, now, now + timedelta(hours=24), now + timedelta(minutes=2)
    )
    with pytest.raises(IdempotencyKeyInUse):
        await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "busy", "c" * 64))
    assert len(await bookings_of(airline, ann)) == 1


async def test_concurrent_retries_make_one_booking_and_share_its_answer(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    answers: list[tuple[StoredAnswer, bool]] = []

    async def attempt() -> None:
        answers.append(
            await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "same"))
        )

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(attempt)
    (booking,) = await bookings_of(airline, ann)
    assert {answer for answer, _ in answers} == {answer_of(booking)}
    assert [replayed for _, replayed in answers].count(False) == 1
    seat_map = await airline.seat_map(flight.id, "economy")
    assert seat_map.count(SeatState.HELD) == 1


async def test_a_hold_whose_answer_cannot_be_made_holds_nothing(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)

    def broken(booking: Booking) -> StoredAnswer:
        raise RuntimeError("the answer could not be made")

    with pytest.raises(RuntimeError):
        await airline.hold_once(
            ann, offer.id, party(1), (), keyed(airline, ann, "k", render=broken)
        )
    assert await bookings_of(airline, ann) == []
    seat_map = await airline.seat_map(flight.id, "economy")
    assert seat_map.count(SeatState.HELD) == 0
    # Nothing was kept for the key either: the retry runs the hold.
    _, replayed = await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "k"))
    assert not replayed
    assert len(await bookings_of(airline, ann)) == 1


async def test_a_refusal_kept_for_a_key_is_replayed(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    stores.clock.advance(minutes=21)
    key = keyed(airline, ann, "late")
    with pytest.raises(OfferExpired):
        await airline.hold_once(ann, offer.id, party(1), (), key)
    refusal = StoredAnswer(409, "application/problem+json", b'{"type":"offer-expired"}')
    await airline.idempotency.keep(key, refusal)
    again, replayed = await airline.hold_once(ann, offer.id, party(1), (), key)
    assert (again, replayed) == (refusal, True)
    # A live answer is never overwritten by a later refusal for the same key.
    await airline.idempotency.keep(key, StoredAnswer(422, "application/problem+json", b"{}"))
    assert (await airline.hold_once(ann, offer.id, party(1), (), key))[0] == refusal


async def test_a_key_past_its_retention_starts_afresh(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    first, _ = await airline.hold_once(ann, offer.id, party(1), (), keyed(airline, ann, "old"))
    stores.clock.advance(hours=25)
    fresh = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    second, replayed = await airline.hold_once(
        ann, fresh.id, party(1), (), keyed(airline, ann, "old", "d" * 64)
    )
    assert not replayed
    assert second != first
    assert len(await bookings_of(airline, ann)) == 2
    # The replaced record is the key's now.
    again, replayed = await airline.hold_once(
        ann, fresh.id, party(1), (), keyed(airline, ann, "old", "d" * 64)
    )
    assert (again, replayed) == (second, True)
