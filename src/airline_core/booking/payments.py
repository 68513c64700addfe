"""Paying a hold, and refunding a cancelled confirmed booking.

:meth:`Payments.pay` never calls the provider inside a database transaction:

1. one transaction (:meth:`~airline_core.ports.PaymentStore.begin`): read the booking (and the
   idempotency key), check it is held and the amount is its total (repriced, once the price
   guarantee has ended, and then only if the client accepts a new total), store the payment
   as ``pending`` and lease the booking to it (and the key as running): a second payment of
   the same booking meanwhile answers 409, and the expiry sweep waits;
2. authorize and capture with the provider, keyed by the payment's id so that a retry never
   charges twice, and write the capture down before anything else; a decline or an
   unreachable provider ends the payment ``failed`` and leaves the booking held, its seats
   untouched;
3. confirm (one transaction): the booking ``confirmed``, its seats ``sold``, the payment
   ``captured``, the key's answer kept. If the hold lapsed meanwhile and a seat went to
   someone else, the capture is refunded and the answer says so.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import NoReturn

import anyio
from attrs import define, field, frozen

from airline_core.booking.model import (
    Booking,
    BookingStatus,
    Payment,
    PaymentContext,
    PaymentPlan,
    PaymentStatus,
)
from airline_core.booking.rules import BookingRules
from airline_core.errors import (
    AirlineError,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    PaymentDeclined,
    PriceChanged,
)
from airline_core.events import BookingConfirmed, PaymentFailed
from airline_core.idempotency import Idempotency, KeyedRequest, StoredAnswer
from airline_core.identity.model import Principal, reveal_to
from airline_core.ids import new_id
from airline_core.money import Money
from airline_core.ports import (
    BookingStore,
    Clock,
    FlightStore,
    InventoryStore,
    PaymentGateway,
    PaymentStore,
)
from airline_core.pricing import Pricing
from airline_core.reminders.service import Reminders
from airline_core.search.legs import Leg

__all__ = ["Payments"]


class _PriceNeeded(Exception):
    """The price guarantee ended: the plan needs the current total, read outside."""

    def __init__(self, booking: Booking) -> None:
        super().__init__(booking.reference)
        self.booking = booking


@frozen(kw_only=True)
class _Paid:
    booking: Booking | None = None
    payment: Payment | None = None
    answer: StoredAnswer | None = None


@define
class Payments:
    """Paying held bookings, and refunds."""

    bookings: BookingStore
    payments: PaymentStore
    gateway: PaymentGateway
    flights: FlightStore
    inventory: InventoryStore
    pricing: Pricing
    clock: Clock
    rules: BookingRules = field(factory=BookingRules)
    #: Keeps the answers of keyed payments' refusals and failures (set by the facade).
    idempotency: Idempotency | None = None
    #: Plans a confirmed booking's check-in and boarding-pass reminders (set by the facade).
    reminders: Reminders | None = None

    async def pay(
        self,
        principal: Principal,
        reference: str,
        amount: Money,
        method: str,
        *,
        accept_new_total: bool = False,
    ) -> tuple[Booking, Payment]:
        """Pay a held booking with the provider's payment-method token ``method``.

        :raises NotFound: no such booking, or another user's.
        :raises InvalidTransition: the booking is not held (confirmed, cancelled, expired).
        :raises PriceChanged: the price guarantee ended and the total moved; pay again with
            ``accept_new_total`` and the new amount.
        :raises InvalidRequest: ``amount`` is not the total; the method is unknown.
        :raises PaymentInProgress: another payment of the booking is running.
        :raises PaymentDeclined: the provider declined; the booking stays held.
        :raises PaymentGatewayUnavailable: the provider failed; nothing was charged.
        """
        paid = await self._pay(principal, reference, amount, method, accept_new_total, None)
        assert paid.booking is not None  # noqa: S101 - an unkeyed payment never replays
        assert paid.payment is not None  # noqa: S101
        return paid.booking, paid.payment

    async def pay_once(
        self,
        principal: Principal,
        reference: str,
        amount: Money,
        method: str,
        key: KeyedRequest[tuple[Booking, Payment]],
        *,
        accept_new_total: bool = False,
    ) -> tuple[StoredAnswer, bool]:
        """:meth:`pay` once per idempotency key: the key's answer and whether it is a replay.

        The key is stored as running in the payment's first transaction (a retry meanwhile
        is :class:`~airline_core.idempotency.IdempotencyKeyInUse`) and its answer in the
        confirmation's; a refusal's answer (``key.refusal``) is kept too, unless trying again
        may succeed.

        :raises IdempotencyKeyReused: the key was used for another request.
        """
        paid = await self._pay(principal, reference, amount, method, accept_new_total, key)
        assert paid.answer is not None  # noqa: S101 - a keyed payment always answers
        return paid.answer, paid.payment is None

    async def _pay(
        self,
        principal: Principal,
        reference: str,
        amount: Money,
        method: str,
        accept_new_total: bool,
        key: KeyedRequest[tuple[Booking, Payment]] | None,
    ) -> _Paid:
        now = self.clock.now()
        repriced: list[Money] = []

        def plan(context: PaymentContext) -> PaymentPlan:
            current = repriced[0] if repriced else None
            return self._plan(
                context, principal, amount, method, accept_new_total, key, now, current
            )

        try:
            try:
                planned = await self.payments.begin(reference, now, plan, key)
            except _PriceNeeded as needed:
                # Past the guarantee: the current total is read outside the transaction.
                repriced.append(await self.current_total(needed.booking))
                planned = await self.payments.begin(reference, now, plan, key)
        except AirlineError as error:
            if key is not None and self.idempotency is not None:
                await self.idempotency.refused(key, error)
            raise
        if planned.payment is None:
            return _Paid(answer=planned.answer)
        booking, payment = planned.booking, planned.payment
        assert booking is not None  # noqa: S101 - a plan with a payment has its booking
        try:
            captured = payment if planned.resume else await self._charge(payment, booking)
            confirmed_at = self.clock.now()
            confirmed = booking.confirmed_by(captured.amount, confirmed_at)
            answer = None if key is None else key.render((confirmed, captured))
            event = BookingConfirmed(
                occurred_at=confirmed_at, booking=confirmed, payment_id=captured.id
            )
            replan = None if self.reminders is None else self.reminders.on_confirm(confirmed_at)
            if not await self.payments.confirm(
                captured,
                booking,
                confirmed_at,
                key=key,
                answer=answer,
                events=(event,),
                replan=replan,
            ):
                await self._give_back(captured)
        except AirlineError as error:
            if key is not None and self.idempotency is not None:
                await self.idempotency.settle(key, error)
            raise
        except BaseException:
            if key is not None and self.idempotency is not None:
                with anyio.CancelScope(shield=True):
                    await self.idempotency.abandon(key.user_id, key.key)
            raise
        return _Paid(booking=confirmed, payment=captured, answer=answer)

    def _plan(
        self,
        context: PaymentContext,
        principal: Principal,
        amount: Money,
        method: str,
        accept_new_total: bool,
        key: KeyedRequest[tuple[Booking, Payment]] | None,
        now: datetime,
        current: Money | None,
    ) -> PaymentPlan:
        """The payment's start, decided on what its first transaction read (no I/O)."""
        if key is not None:
            kept = Idempotency.replay(context.kept, key.fingerprint, now)
            if kept is not None:
                return PaymentPlan(answer=kept)
        booking = context.booking
        if booking is None:
            raise NotFound("no booking with that reference")
        reveal_to(principal, booking.user_id, "booking")
        status = booking.status_at(now)
        if status is not BookingStatus.HELD:
            raise InvalidTransition(f"a {status} booking cannot be paid")
        total = booking.total
        if now >= booking.price_guarantee_expires_at:
            if current is None:
                raise _PriceNeeded(booking)
            if current != total and not accept_new_total:
                raise PriceChanged(
                    f"the price guarantee ended and the total is now {current} (was {total});"
                    " pay again accepting the new total",
                    extensions={"old_total": total, "new_total": current},
                )
            total = current
        if amount != total:
            raise InvalidRequest.for_field("amount", f"must be the total, {total}")
        lease_until = now + self.rules.payment_lease
        # A lease left on the booking means a payment never finished: it may have taken the
        # money (its process or the database failed after the capture): finish that one,
        # never charge again. A cancelled flight is refused when the lease is taken.
        earlier = [p for p in context.payments if p.status is PaymentStatus.CAPTURED]
        if earlier:
            return PaymentPlan(
                booking=booking, payment=earlier[-1], lease_until=lease_until, resume=True
            )
        payment = Payment(
            id=new_id(),
            booking_id=booking.id,
            amount=total,
            method=method,
            status=PaymentStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        return PaymentPlan(booking=booking, payment=payment, lease_until=lease_until)

    async def _give_back(self, captured: Payment) -> NoReturn:
        """Refund a capture whose booking could not be confirmed, and say why."""
        assert captured.reference is not None  # noqa: S101 - a capture has a reference
        try:
            await self.gateway.refund(captured.id, captured.reference, captured.amount)
        except AirlineError:
            await self.payments.finish(
                self._moved(captured, PaymentStatus.REFUND_PENDING, code="not_confirmed")
            )
            raise InvalidTransition(
                "the booking could not be confirmed (its hold lapsed and a seat went to someone "
                "else, or a flight was cancelled); the refund failed and will be retried"
            ) from None
        await self.payments.finish(
            self._moved(
                captured, PaymentStatus.REFUNDED, refunded=captured.amount, code="not_confirmed"
            )
        )
        raise InvalidTransition(
            "the booking could not be confirmed (its hold lapsed and a seat went to someone "
            "else, or a flight was cancelled); the payment was refunded"
        )

    async def retry_refunds(self, limit: int = 100) -> int:
        """Retry the refunds that failed (part of the sweep); how many went through."""
        done = 0
        for payment in await self.payments.refunds_due(limit):
            assert payment.reference is not None  # noqa: S101 - only captures are owed back
            try:
                await self.gateway.refund(payment.id, payment.reference, payment.amount)
            except AirlineError:
                continue
            await self.payments.finish(
                self._moved(payment, PaymentStatus.REFUNDED, refunded=payment.amount)
            )
            done += 1
        return done

    async def _charge(self, payment: Payment, booking: Booking) -> Payment:
        """Authorize and capture, and store the capture before anything else happens (so a
        crash never hides a charge; one between the two calls leaves only an authorization,
        which lapses by itself); the captured payment. On a failure the payment ends
        ``failed`` and the provider's error is raised again (an authorization made is
        voided)."""
        try:
            reference = await self.gateway.authorize(
                payment.id, payment.amount, payment.method, f"booking {booking.reference}"
            )
        except AirlineError as error:
            code = error.code if isinstance(error, PaymentDeclined) else type(error).__name__
            await self._failed(self._moved(payment, PaymentStatus.FAILED, code=code), booking)
            raise
        authorized = self._moved(payment, PaymentStatus.PENDING, reference=reference)
        try:
            await self.gateway.capture(payment.id, reference, payment.amount)
        except AirlineError:
            # The capture's error is the answer; an authorization not voided lapses by itself.
            with contextlib.suppress(AirlineError):
                await self.gateway.void(payment.id, reference)
            await self._failed(
                self._moved(authorized, PaymentStatus.FAILED, code="capture_failed"), booking
            )
            raise
        captured = self._moved(authorized, PaymentStatus.CAPTURED)
        await self.payments.record(captured)
        return captured

    async def _failed(self, failed: Payment, booking: Booking) -> None:
        """Store the failed payment with its event (the booking stays held)."""
        event = PaymentFailed(
            occurred_at=failed.updated_at,
            booking=booking,
            payment_id=failed.id,
            code=failed.failure_code or "failed",
        )
        await self.payments.finish(failed, (event,))

    def _moved(
        self,
        payment: Payment,
        status: PaymentStatus,
        *,
        reference: str | None = None,
        code: str | None = None,
        refunded: Money | None = None,
    ) -> Payment:
        return Payment(
            id=payment.id,
            booking_id=payment.booking_id,
            amount=payment.amount,
            method=payment.method,
            status=status,
            created_at=payment.created_at,
            updated_at=self.clock.now(),
            reference=reference or payment.reference,
            failure_code=code or payment.failure_code,
            refunded=refunded or payment.refunded,
        )

    async def current_total(self, booking: Booking) -> Money:
        """What the booking's seats would cost now, priced as if its own seats were still
        free (the load before this sale, as when it was offered)."""
        now = self.clock.now()
        passengers = len(booking.passengers)
        total: Money | None = None
        for flight_id in booking.flight_ids:
            flight = await self.flights.get(flight_id)
            _, cabins = await self.inventory.seats(flight_id)
            left, capacity = cabins[booking.cabin]
            leg = Leg.of(flight, flight.fares[booking.cabin], left + passengers, capacity)
            price = self.pricing.price(leg, passengers, now)
            total = price if total is None else total + price
        assert total is not None  # noqa: S101 - a booking has at least one flight
        return total

    def refund_for(self, booking: Booking) -> Money:
        """What cancelling the confirmed ``booking`` refunds, by the fare rules of its cabin."""
        percent = self.rules.refund_percent.get(booking.cabin, 0)
        return Money(booking.total.minor_units * percent // 100, booking.total.currency)

    async def refund(self, booking: Booking) -> Payment | None:
        """Refund the confirmed ``booking``'s captured payment by the fare rules (safe to
        repeat: the provider call is keyed by the payment); the refunded payment, or ``None``
        when the fare refunds nothing."""
        amount = self.refund_for(booking)
        captured = [
            p
            for p in await self.payments.for_booking(booking.id)
            if p.status is PaymentStatus.CAPTURED
        ]
        if not captured or amount.minor_units == 0:
            return None
        payment = captured[-1]
        assert payment.reference is not None  # noqa: S101 - a captured payment has one
        await self.gateway.refund(payment.id, payment.reference, amount)
        refunded = self._moved(payment, PaymentStatus.REFUNDED, refunded=amount)
        await self.payments.finish(refunded)
        return refunded

    async def of(self, booking: Booking) -> list[Payment]:
        return list(await self.payments.for_booking(booking.id))
