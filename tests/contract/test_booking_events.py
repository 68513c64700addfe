"""Every booking change writes its event to the outbox in the change's own transaction, on each
backend: one event per change, the booking in it as stored after the change, and none for a
request that changed nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airline_core import Money, Principal
from airline_core.booking import SeatChoice
from airline_core.errors import (
    InvalidRequest,
    PaymentDeclined,
    PaymentGatewayUnavailable,
    SeatUnavailable,
)
from airline_core.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingHeld,
    Event,
    FlightChanged,
    HoldExpired,
    PaymentFailed,
    decode,
)
from tests.conftest import Stores
from tests.contract.test_booking import customer, party, scheduled

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=30)


async def published(stores: Stores) -> list[Event]:
    """The events the outbox holds, oldest first, taken out of it (as a relay would)."""
    claimed = [e.event for e in await stores.outbox.claim("test", stores.clock.now(), LEASE, 1000)]
    assert await stores.outbox.sent("test", [event.id for event in claimed]) == len(claimed)
    return [decode(event) for event in claimed]


async def hold(stores: Stores, who: Principal, cabin: str = "economy") -> str:
    airline = stores.airline
    flight = (await airline.flights.list()).items[0]
    offer = await airline.offer(who.user_id, [flight.id], cabin, 2)
    return (await airline.hold(who, offer.id, party(2))).reference


async def test_hold_pay_and_cancel_each_write_one_event(stores: Stores) -> None:
    airline = stores.airline
    await scheduled(stores)
    ann = await customer(airline)
    reference = await hold(stores, ann, "business")
    held = await stores.bookings.get(reference)
    [event] = await published(stores)
    assert isinstance(event, BookingHeld)
    assert event.booking == held
    assert event.occurred_at == stores.clock.now()

    stores.clock.advance(minutes=1)
    confirmed, payment = await airline.pay(ann, reference, held.total, "pm_card_visa")
    [event] = await published(stores)
    assert isinstance(event, BookingConfirmed)
    assert (event.booking, event.payment_id) == (confirmed, payment.id)
    assert event.booking == await stores.bookings.get(reference)

    stores.clock.advance(minutes=1)
    cancelled = await airline.cancel(reference, ann)
    [event] = await published(stores)
    assert isinstance(event, BookingCancelled)
    assert event.booking == cancelled == await stores.bookings.get(reference)
    assert event.refund == held.total  # business fares refund in full


async def test_a_cancelled_hold_refunds_nothing_and_a_non_refundable_fare_zero(
    stores: Stores,
) -> None:
    airline = stores.airline
    await scheduled(stores)
    ann = await customer(airline)
    held = await hold(stores, ann)
    await airline.cancel(held, ann)
    paid = await hold(stores, ann)
    booking = await stores.bookings.get(paid)
    await airline.pay(ann, paid, booking.total, "pm_card_visa")
    await airline.cancel(paid, ann)
    kinds = [
        (type(event).__name__, getattr(event, "refund", "-")) for event in await published(stores)
    ]
    assert kinds == [
        ("BookingHeld", "-"),
        ("BookingCancelled", None),
        ("BookingHeld", "-"),
        ("BookingConfirmed", "-"),
        ("BookingCancelled", Money(0, booking.total.currency)),
    ]


async def test_a_failed_payment_writes_its_event_and_a_refused_request_none(
    stores: Stores,
) -> None:
    airline = stores.airline
    await scheduled(stores)
    ann = await customer(airline)
    reference = await hold(stores, ann)
    booking = await stores.bookings.get(reference)
    await published(stores)
    with pytest.raises(PaymentDeclined):
        await airline.pay(ann, reference, booking.total, "pm_card_chargeDeclined")
    with pytest.raises(PaymentGatewayUnavailable):
        await airline.pay(ann, reference, booking.total, "pm_card_networkError")
    with pytest.raises(InvalidRequest):  # the provider knows no such method
        await airline.pay(ann, reference, booking.total, "pm_unknown")
    with pytest.raises(InvalidRequest, match="amount"):  # refused before any payment began
        await airline.pay(ann, reference, Money(1, booking.total.currency), "pm_card_visa")
    events = await published(stores)
    failures = [(event.code, event.booking) for event in events if isinstance(event, PaymentFailed)]
    assert failures == [
        ("card_declined", booking),
        ("PaymentGatewayUnavailable", booking),
        ("InvalidRequest", booking),
    ]
    assert len(events) == len(failures)


async def test_the_sweep_writes_one_expiry_per_hold(stores: Stores) -> None:
    airline = stores.airline
    await scheduled(stores)
    ann, bob = await customer(airline), await customer(airline, "bob")
    references = [await hold(stores, ann), await hold(stores, bob)]
    await published(stores)
    stores.clock.advance(minutes=30)
    assert await airline.bookings.expire_due() == 2
    assert await airline.bookings.expire_due() == 0
    events = await published(stores)
    assert all(isinstance(event, HoldExpired) for event in events)
    assert sorted(event.booking.reference for event in events) == sorted(references)  # type: ignore[attr-defined]
    for event in events:
        assert event.booking == await stores.bookings.get(event.booking.reference)  # type: ignore[attr-defined]


async def test_a_hold_that_fails_leaves_no_event(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann, bob = await customer(airline), await customer(airline, "bob")
    seat = [SeatChoice(flight_id=flight.id, passenger=0, seat="12F")]
    first = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    await airline.hold(ann, first.id, party(1), seat)
    second = await airline.offer(bob.user_id, [flight.id], "economy", 1)
    with pytest.raises(SeatUnavailable):
        await airline.hold(bob, second.id, party(1), seat)
    [event] = await published(stores)
    assert isinstance(event, BookingHeld)
    assert event.booking.user_id == ann.user_id


async def test_a_new_time_or_status_writes_flight_changed_and_a_new_fare_nothing(
    stores: Stores,
) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    later = flight.departs_at + timedelta(hours=2)
    retimed = await airline.flights.update(
        flight.id, departs_at=later, arrives_at=flight.arrives_at + timedelta(hours=2)
    )
    [event] = await published(stores)
    assert isinstance(event, FlightChanged)
    assert (event.flight, event.previous) == (retimed, flight)
    assert event.flight == await stores.flights.get(flight.id)

    fares = {
        cabin: Money(fare.minor_units + 100, fare.currency) for cabin, fare in retimed.fares.items()
    }
    await airline.flights.update(flight.id, fares=fares)
    assert await published(stores) == []
    await airline.flights.update(flight.id, status="delayed")
    [delayed] = await published(stores)
    assert isinstance(delayed, FlightChanged)
    assert delayed.flight.status.value == "delayed"


def test_the_worker_binds_every_event_type() -> None:
    from airline_core.events import EVENT_TYPES
    from airline_runtime.messaging.base import topic_matches
    from airline_runtime.notify.worker import NOTIFIED_EVENTS

    for kind in EVENT_TYPES:
        assert any(topic_matches(pattern, kind) for pattern in NOTIFIED_EVENTS), kind
