"""Paying holds, refunds and idempotency keys on each backend: memory, SQLite and MariaDB.

The races run through the HTTP app on each backend's stores: 50 identical payment requests at
once (one idempotency key) and 50 payments of one booking with 50 keys both charge once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import anyio
import attrs
import httpx
import pytest

from airline_core import Airline, Cabin, InvalidRequest, Money, Principal
from airline_core.booking import BookingStatus, SeatState
from airline_core.booking.model import PaymentStatus
from airline_core.errors import (
    InvalidTransition,
    PaymentDeclined,
    PaymentGatewayUnavailable,
    PaymentInProgress,
    PriceChanged,
    Unavailable,
)
from airline_core.idempotency import KeyState, StoredAnswer
from airline_runtime.bootstrap import Runtime
from airline_runtime.http import create_app
from airline_runtime.settings import Settings
from tests.conftest import Stores
from tests.contract.test_booking import customer, party, scheduled

pytestmark = pytest.mark.anyio


async def a_hold(stores: Stores, size: int = 1, cabin: str = "economy") -> tuple[Principal, str]:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], cabin, size)
    return ann, (await airline.hold(ann, offer.id, party(size))).reference


async def test_paying_confirms_and_sells_the_seats(stores: Stores) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores, 2)
    booking = await airline.bookings.get(reference, ann)
    confirmed, payment = await airline.pay(ann, reference, booking.total, "pm_card_visa")
    assert confirmed.status is BookingStatus.CONFIRMED
    assert payment.status is PaymentStatus.CAPTURED
    assert payment.reference in stores.gateway.charges
    seat_map = await airline.seat_map(booking.flight_ids[0], "economy")
    assert seat_map.count(SeatState.SOLD) == 2
    _, cabins = await stores.inventory.seats(booking.flight_ids[0])
    assert cabins[Cabin.ECONOMY].left == 16
    assert [p.status for p in await airline.payments.of(booking)] == [PaymentStatus.CAPTURED]
    # A confirmed booking never expires.
    stores.clock.advance(hours=1)
    assert await airline.bookings.expire_due() == 0
    with pytest.raises(InvalidTransition):
        await airline.pay(ann, reference, booking.total, "pm_card_visa")


async def test_a_decline_or_an_unreachable_provider_leaves_the_hold(stores: Stores) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await airline.bookings.get(reference, ann)
    with pytest.raises(PaymentDeclined) as declined:
        await airline.pay(ann, reference, booking.total, "pm_card_chargeDeclined")
    assert declined.value.code == "card_declined"
    with pytest.raises(PaymentGatewayUnavailable):
        await airline.pay(ann, reference, booking.total, "pm_card_networkError")
    with pytest.raises(InvalidRequest, match="payment_method"):
        await airline.pay(ann, reference, booking.total, "pm_unknown")
    with pytest.raises(InvalidRequest, match="amount"):
        await airline.pay(ann, reference, Money(1, booking.total.currency), "pm_card_visa")
    payments = await airline.payments.of(booking)
    assert [(p.status, p.failure_code) for p in payments] == [
        (PaymentStatus.FAILED, "card_declined"),
        (PaymentStatus.FAILED, "PaymentGatewayUnavailable"),
        (PaymentStatus.FAILED, "InvalidRequest"),
    ]
    assert stores.gateway.captured == []
    stored = await stores.bookings.get(reference)
    assert stored.status is BookingStatus.HELD
    assert stored.paying_until is None
    # The hold is intact: paying now works.
    await airline.pay(ann, reference, booking.total, "pm_card_visa")


async def test_a_running_payment_keeps_others_and_the_sweep_off(stores: Stores) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await stores.bookings.get(reference)
    started = attrs_payment(booking.id, booking.total, stores)
    await stores.payments.start(
        started, booking, stores.clock.now(), stores.clock.now() + timedelta(minutes=2)
    )
    with pytest.raises(PaymentInProgress):
        await airline.pay(ann, reference, booking.total, "pm_card_visa")
    stores.clock.advance(minutes=31)  # past the deadline, but the lease ran out at 2 minutes
    assert await airline.bookings.expire_due() == 1


def attrs_payment(booking_id: str, amount: Money, stores: Stores) -> Any:
    from airline_core.booking.model import Payment
    from airline_core.ids import new_id

    now = stores.clock.now()
    return Payment(
        id=new_id(),
        booking_id=booking_id,
        amount=amount,
        method="pm_card_visa",
        status=PaymentStatus.PENDING,
        created_at=now,
        updated_at=now,
    )


async def test_the_sweep_waits_for_a_payment_in_flight(stores: Stores) -> None:
    airline = stores.airline
    _, reference = await a_hold(stores)
    booking = await stores.bookings.get(reference)
    stores.clock.advance(minutes=29)
    payment = attrs_payment(booking.id, booking.total, stores)
    await stores.payments.start(
        payment, booking, stores.clock.now(), stores.clock.now() + timedelta(minutes=2)
    )
    stores.clock.advance(minutes=1, seconds=30)  # the deadline passed while it ran
    assert await airline.bookings.expire_due() == 0
    captured = attrs.evolve(payment, status=PaymentStatus.CAPTURED, reference="pi_x")
    assert await stores.payments.confirm(captured, booking, stores.clock.now())
    assert (await stores.bookings.get(reference)).status is BookingStatus.CONFIRMED


async def test_after_the_guarantee_a_moved_total_needs_consent(stores: Stores) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await airline.bookings.get(reference, ann)
    flight = await stores.flights.get(booking.flight_ids[0])
    dearer = {cabin: money * 2 for cabin, money in flight.fares.items()}
    await airline.flights.update(flight.id, fares=dearer)
    # Within the guarantee the held total stands, whatever the fare does.
    stores.clock.advance(minutes=14)
    confirmed_early = await airline.bookings.get(reference, ann)
    assert confirmed_early.total == booking.total
    stores.clock.advance(minutes=2)
    with pytest.raises(PriceChanged) as moved:
        await airline.pay(ann, reference, booking.total, "pm_card_visa")
    assert moved.value.extensions["old_total"] == booking.total
    new_total = moved.value.extensions["new_total"]
    assert new_total == booking.total * 2
    confirmed, payment = await airline.pay(
        ann, reference, new_total, "pm_card_visa", accept_new_total=True
    )
    assert confirmed.total == payment.amount == new_total


async def test_cancelling_a_confirmed_booking_refunds_by_cabin(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    for cabin, refunded in (("business", 100), ("economy", 0)):
        offer = await airline.offer(ann.user_id, [flight.id], cabin, 1)
        reference = (await airline.hold(ann, offer.id, party(1))).reference
        booking = await airline.bookings.get(reference, ann)
        _, payment = await airline.pay(ann, reference, booking.total, "pm_card_visa")
        cancelled = await airline.cancel(reference, ann)
        assert cancelled.status is BookingStatus.CANCELLED
        charge = stores.gateway.charges[payment.reference or ""]
        assert charge.refunded == booking.total.minor_units * refunded // 100
        [stored] = await airline.payments.of(booking)
        assert stored.status is (PaymentStatus.REFUNDED if refunded else PaymentStatus.CAPTURED)
        seat_map = await airline.seat_map(booking.flight_ids[0], cabin)
        assert seat_map.count(SeatState.SOLD) == 0
        with pytest.raises(InvalidTransition):
            await airline.cancel(reference, ann)


async def test_idempotency_keys_follow_the_rules(stores: Stores) -> None:
    airline = stores.airline
    ann = await customer(airline)
    keys = airline.idempotency
    assert await keys.begin(ann.user_id, "k", "print-1") is None
    with pytest.raises(Exception, match="still running"):
        await keys.begin(ann.user_id, "k", "print-1")
    with pytest.raises(InvalidRequest, match="another request"):
        await keys.begin(ann.user_id, "k", "print-2")
    answer = StoredAnswer(201, "application/json", b'{"data": 1}')
    await keys.complete(ann.user_id, "k", answer)
    assert await keys.begin(ann.user_id, "k", "print-1") == answer
    # A crashed request's key is run again once its lease lapsed, by one claimant only.
    assert await keys.begin(ann.user_id, "crash", "p") is None
    stores.clock.advance(minutes=3)
    now = stores.clock.now()
    claims = [
        await stores.idempotency_keys.claim(
            ann.user_id, "crash", "p", now, now + timedelta(hours=24), now + timedelta(minutes=2)
        )
        for _ in range(2)
    ]
    assert [c.state for c in claims] == [KeyState.NEW, KeyState.RUNNING]
    # After 24 hours a key starts afresh.
    stores.clock.advance(hours=24)
    assert await keys.begin(ann.user_id, "k", "print-2") is None
    assert await keys.purge() >= 1


@pytest.fixture
async def http(stores: Stores) -> AsyncIterator[httpx.AsyncClient]:
    """The API on these stores, served in this test's event loop (the database pool belongs
    to it; Litestar's test client would run the app in a loop of its own)."""
    runtime = Runtime(settings=Settings(rate_limit=False), airline=stores.airline)
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client,
    ):
        yield client


async def signed_in(airline: Airline, who: Principal) -> dict[str, str]:
    token, _ = airline.accounts.access_tokens.issue(who, airline.clock.now())
    return {"Authorization": f"Bearer {token}"}


async def race(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: list[dict[str, str]]
) -> list[Any]:
    answers: list[Any] = []
    start = anyio.Event()

    async def pay(header: dict[str, str]) -> None:
        await start.wait()
        answers.append(await client.post(path, json=body, headers=header))

    async with anyio.create_task_group() as group:
        for header in headers:
            group.start_soon(pay, header)
        start.set()
    return answers


async def test_fifty_identical_payments_charge_once(
    stores: Stores, http: httpx.AsyncClient
) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await airline.bookings.get(reference, ann)
    auth = await signed_in(airline, ann)
    body = {"amount": {"amount": booking.total.amount, "currency": booking.total.currency},
            "payment_method": "pm_card_visa"}  # fmt: skip
    key = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    answers = await race(http, f"/api/v1/bookings/{reference}/payments", body, [key] * 50)
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    in_use = {a.json()["type"] for a in answers if a.status_code == 409}
    assert in_use <= {"urn:airline:problem:idempotency-key-in-use"}
    bodies = {a.content for a in answers if a.status_code == 201}
    assert len(bodies) == 1  # the replays are the first answer, byte for byte
    assert len(stores.gateway.captured) == 1
    assert len(await airline.payments.of(booking)) == 1
    assert (await stores.bookings.get(reference)).status is BookingStatus.CONFIRMED


async def test_fifty_payments_with_fifty_keys_charge_once(
    stores: Stores, http: httpx.AsyncClient
) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await airline.bookings.get(reference, ann)
    auth = await signed_in(airline, ann)
    body = {"amount": {"amount": booking.total.amount, "currency": booking.total.currency},
            "payment_method": "pm_card_visa"}  # fmt: skip
    headers = [{**auth, "Idempotency-Key": str(uuid.uuid4())} for _ in range(50)]
    answers = await race(http, f"/api/v1/bookings/{reference}/payments", body, headers)
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[201] == 1, statuses
    kinds = {a.json()["type"] for a in answers if a.status_code != 201}
    assert kinds <= {
        "urn:airline:problem:payment-in-progress",
        "urn:airline:problem:invalid-transition",
    }
    assert len(stores.gateway.captured) == 1
    assert (await stores.bookings.get(reference)).status is BookingStatus.CONFIRMED


class _FailingConfirm:
    """A payment store whose ``confirm`` fails (raises, or runs ``before`` first) once."""

    def __init__(self, inner: Any, *, raises: bool = True, before: Any = None) -> None:
        self.inner, self.raises, self.before, self.done = inner, raises, before, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def confirm(self, *args: Any, **keywords: Any) -> bool:
        if not self.done:
            self.done = True
            if self.raises:
                raise Unavailable("the database went away")
            if self.before is not None:
                await self.before()
        return bool(await self.inner.confirm(*args, **keywords))


class _RefundsFail:
    """A gateway whose refunds fail until told otherwise."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.down = inner, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def refund(self, *args: Any) -> None:
        if self.down:
            raise PaymentGatewayUnavailable("refunds are down")
        await self.inner.refund(*args)


def airline_on(stores: Stores, **changes: Any) -> Airline:
    """The airline on ``stores`` with some of them (or the gateway) replaced."""
    return attrs.evolve(stores, **changes).airline


async def test_a_failure_after_the_capture_never_charges_twice(stores: Stores) -> None:
    ann, reference = await a_hold(stores)
    failing = _FailingConfirm(stores.payments)
    airline = airline_on(stores, payments=failing)
    booking = await airline.bookings.get(reference, ann)
    with pytest.raises(Unavailable):
        await airline.pay(ann, reference, booking.total, "pm_card_visa")
    # The capture was written down before the confirmation failed.
    [payment] = await airline.payments.of(booking)
    assert payment.status is PaymentStatus.CAPTURED
    assert payment.reference in stores.gateway.charges
    stores.clock.advance(minutes=3)  # the crashed payment's lease ends
    confirmed, resumed = await airline.pay(ann, reference, booking.total, "pm_card_visa")
    assert confirmed.status is BookingStatus.CONFIRMED
    assert resumed.id == payment.id
    assert len(stores.gateway.captured) == 1
    assert len(await airline.payments.of(booking)) == 1


async def test_a_cancelled_flight_is_not_charged_or_is_refunded(stores: Stores) -> None:
    ann, reference = await a_hold(stores, 2)
    airline = stores.airline
    booking = await airline.bookings.get(reference, ann)
    await airline.flights.update(booking.flight_ids[0], status="cancelled")
    with pytest.raises(InvalidTransition, match="cancelled"):
        await airline.pay(ann, reference, booking.total, "pm_card_visa")
    assert stores.gateway.captured == []


async def test_a_flight_cancelled_while_paying_is_refunded(stores: Stores) -> None:
    ann, reference = await a_hold(stores)
    booking = await stores.bookings.get(reference)

    async def cancel_flight() -> None:
        await stores.airline.flights.update(booking.flight_ids[0], status="cancelled")

    gateway = _RefundsFail(stores.gateway)
    airline = airline_on(
        stores, payments=_FailingConfirm(stores.payments, raises=False, before=cancel_flight),
        gateway=gateway,
    )  # fmt: skip
    with pytest.raises(InvalidTransition, match="retried"):
        await airline.pay(ann, reference, booking.total, "pm_card_visa")
    [owed] = await airline.payments.of(booking)
    assert owed.status is PaymentStatus.REFUND_PENDING
    assert (await stores.bookings.get(reference)).status is BookingStatus.HELD
    gateway.down = False
    assert (await airline.sweep())["refunds"] == 1
    [refunded] = await airline.payments.of(booking)
    assert refunded.status is PaymentStatus.REFUNDED
    assert stores.gateway.charges[refunded.reference or ""].refunded == booking.total.minor_units


async def test_seat_rows_follow_the_airplane_the_flight_has(stores: Stores) -> None:
    from tests.contract import samples

    flight = await scheduled(stores)
    other = samples.airplane()
    await stores.airplanes.add(other)
    # An offer read the flight's airplane, then the flight was re-equipped: making rows from
    # the old airplane's labels does nothing, and the next offer makes the right ones.
    await stores.inventory.prepare(flight.id, other.id, ["1A"])
    prepared, _ = await stores.inventory.seats(flight.id)
    assert not prepared
    await stores.inventory.prepare(flight.id, flight.airplane_id, ["1A", "1C"])
    prepared, _ = await stores.inventory.seats(flight.id)
    assert prepared


async def test_a_payment_in_progress_answer_is_not_kept_for_the_key(
    stores: Stores, http: httpx.AsyncClient
) -> None:
    airline = stores.airline
    ann, reference = await a_hold(stores)
    booking = await stores.bookings.get(reference)
    other = attrs_payment(booking.id, booking.total, stores)
    await stores.payments.start(
        other, booking, stores.clock.now(), stores.clock.now() + timedelta(minutes=2)
    )
    auth = {**await signed_in(airline, ann), "Idempotency-Key": "k-busy"}
    body = {"amount": {"amount": booking.total.amount, "currency": booking.total.currency},
            "payment_method": "pm_card_visa"}  # fmt: skip
    path = f"/api/v1/bookings/{reference}/payments"
    busy = await http.post(path, json=body, headers=auth)
    assert busy.status_code == 409
    assert busy.json()["type"] == "urn:airline:problem:payment-in-progress"
    await stores.payments.finish(attrs.evolve(other, status=PaymentStatus.FAILED))
    again = await http.post(path, json=body, headers=auth)
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
