"""Offers, bookings and their states.

An :class:`Offer` is a priced quote for one itinerary, a cabin and a party, valid for a while. A
:class:`Booking` made from it holds seats until ``payment_required_by`` and keeps the offer's
total until ``price_guarantee_expires_at``. Its :class:`BookingStatus` moves only as
:data:`TRANSITIONS` allows; a hold whose payment deadline passed *is* expired from that instant
(:meth:`Booking.status_at`), whether or not a sweep has written it down yet.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from attrs import evolve, field, frozen

from airline_core.catalog.model import Cabin, cabin_named
from airline_core.errors import InvalidRequest, InvalidTransition
from airline_core.identity.model import is_email, normalize_email
from airline_core.money import Money
from airline_core.validation import Rules

if TYPE_CHECKING:
    from airline_core.catalog.model import Airplane, Flight
    from airline_core.events import Event
    from airline_core.idempotency import KeptKey, StoredAnswer
    from airline_core.reminders.model import Reminder

__all__ = [
    "LOCATOR_ALPHABET",
    "MAX_PASSENGERS",
    "TRANSITIONS",
    "Booking",
    "BookingStatus",
    "HoldContext",
    "HoldPlan",
    "Offer",
    "Passenger",
    "Payment",
    "PaymentContext",
    "PaymentPlan",
    "PaymentStatus",
    "SeatAssignment",
    "SeatChoice",
    "SeatState",
    "new_locator",
]

#: The most passengers one booking (and one search) may carry.
MAX_PASSENGERS = 9
MAX_PASSENGER_NAME = 60
#: No 0/O or 1/I: a locator is read out over the phone.
LOCATOR_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_LOCATOR = re.compile(f"[{LOCATOR_ALPHABET}]{{6}}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def new_locator() -> str:
    """A random 6-character record locator (32**6, about a billion, possible values)."""
    bits = int.from_bytes(secrets.token_bytes(4), "big") >> 2  # 30 random bits: 6 x 5
    return "".join(LOCATOR_ALPHABET[(bits >> (5 * place)) & 31] for place in range(6))


def is_locator(text: str) -> bool:
    return _LOCATOR.fullmatch(text) is not None


class SeatState(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    SOLD = "sold"


class BookingStatus(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: Every move a booking may make; anything else is an :class:`InvalidTransition`.
TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.HELD: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.EXPIRED}
    ),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
}


def check_transition(current: BookingStatus, target: BookingStatus) -> None:
    """:raises InvalidTransition: ``current`` cannot move to ``target``."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} booking cannot become {target}")


def _name_ok(value: str) -> bool:
    return bool(value.strip()) and value == value.strip() and len(value) <= MAX_PASSENGER_NAME


def _optional_phone(value: str | None) -> str | None:
    if value is None:
        return None
    return value.replace(" ", "")


@frozen(kw_only=True)
class Passenger:
    """A traveller as the booking names them. ``phone`` is optional, in E.164 (+447700900123);
    without one the traveller gets email only."""

    given_name: str
    family_name: str
    born_on: date
    email: str = field(converter=normalize_email)
    phone: str | None = field(default=None, converter=_optional_phone)

    def __attrs_post_init__(self) -> None:
        rules = Rules("passenger")
        for name in ("given_name", "family_name"):
            rules.require(
                _name_ok(getattr(self, name)),
                name,
                f"must not be empty, start or end with spaces, or pass {MAX_PASSENGER_NAME}"
                " characters",
            )
        rules.require(is_email(self.email), "email", "must be an email address")
        rules.require(
            self.phone is None or _E164.fullmatch(self.phone) is not None,
            "phone",
            "must be in E.164 form, such as +447700900123",
        )
        rules.check()

    def check_born_on(self, today: date, rules: Rules, prefix: str) -> None:
        check_born_on(self.born_on, today, rules, prefix)


def check_born_on(born_on: date, today: date, rules: Rules, prefix: str) -> None:
    """A date of birth must be today or before, and less than 120 years ago."""
    rules.require(
        today - timedelta(days=366 * 120) < born_on <= today,
        f"{prefix}.born_on",
        "must be a real date of birth, not in the future",
    )


@frozen(kw_only=True)
class SeatChoice:
    """A seat a traveller asked for: passenger ``passenger`` (index into the booking's
    passengers) sits in ``seat`` (such as ``12A``) on ``flight_id``."""

    flight_id: str
    passenger: int
    seat: str


#: Where each passenger of a booking sits, flight by flight (chosen or auto-assigned).
SeatAssignment = SeatChoice


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _prices(values: Iterable[Money]) -> tuple[Money, ...]:
    return tuple(values)


def _passengers(values: Iterable[Passenger]) -> tuple[Passenger, ...]:
    return tuple(values)


def _assignments(values: Iterable[SeatChoice]) -> tuple[SeatChoice, ...]:
    return tuple(values)


def _check_party(passengers: int, field_name: str = "passengers") -> None:
    if type(passengers) is not int or not 1 <= passengers <= MAX_PASSENGERS:
        raise InvalidRequest.for_field(field_name, f"must be 1..{MAX_PASSENGERS}")


@frozen(kw_only=True)
class Offer:
    """A priced quote: ``passengers`` seats in ``cabin`` on each of ``flight_ids`` for ``total``
    until ``expires_at``. ``unit_prices`` are one passenger's price per flight."""

    id: str
    user_id: str
    flight_ids: tuple[str, ...] = field(converter=_strings)
    cabin: Cabin = field(converter=cabin_named)
    passengers: int
    unit_prices: tuple[Money, ...] = field(converter=_prices)
    created_at: datetime
    expires_at: datetime

    def __attrs_post_init__(self) -> None:
        _check_party(self.passengers)
        if len(self.unit_prices) != len(self.flight_ids):
            raise InvalidRequest.for_field("unit_prices", "needs one price per flight")

    @property
    def total(self) -> Money:
        total = self.unit_prices[0] * self.passengers
        for price in self.unit_prices[1:]:
            total = total + price * self.passengers
        return total

    def expired_at(self, now: datetime) -> bool:
        return now >= self.expires_at


@frozen(kw_only=True)
class Booking:
    """A held, confirmed, cancelled or expired booking of one itinerary.

    ``seats`` has one assignment per passenger per flight. ``status`` is what was last stored;
    ask :meth:`status_at` for the state at an instant.
    """

    id: str
    reference: str
    user_id: str
    offer_id: str
    status: BookingStatus = field(converter=BookingStatus)
    flight_ids: tuple[str, ...] = field(converter=_strings)
    cabin: Cabin = field(converter=cabin_named)
    passengers: tuple[Passenger, ...] = field(converter=_passengers)
    seats: tuple[SeatAssignment, ...] = field(converter=_assignments)
    total: Money
    created_at: datetime
    price_guarantee_expires_at: datetime
    payment_required_by: datetime
    updated_at: datetime
    #: While a payment runs: until when it has the booking to itself (see Payments.pay).
    paying_until: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if not is_locator(self.reference):
            raise InvalidRequest.for_field("reference", "must be a 6-character record locator")
        _check_party(len(self.passengers))

    def status_at(self, now: datetime) -> BookingStatus:
        """The state at ``now``: a hold past its payment deadline is expired."""
        if self.status is BookingStatus.HELD and now >= self.payment_required_by:
            return BookingStatus.EXPIRED
        return self.status

    @property
    def seat_count(self) -> int:
        """Seats the booking takes: one per passenger per flight."""
        return len(self.seats)

    def seats_on(self, flight_id: str) -> list[SeatAssignment]:
        return [seat for seat in self.seats if seat.flight_id == flight_id]

    def confirmed_by(self, amount: Money, now: datetime) -> Booking:
        """The booking as a payment of ``amount`` confirms it at ``now``
        (:meth:`~airline_core.ports.PaymentStore.confirm` stores exactly this)."""
        return evolve(
            self, status=BookingStatus.CONFIRMED, total=amount, paying_until=None, updated_at=now
        )


@frozen(kw_only=True)
class HoldContext:
    """Everything a hold decides on, read in the hold's own transaction
    (:meth:`~airline_core.ports.BookingStore.hold`)."""

    #: The offer, or ``None`` when there is none with that id.
    offer: Offer | None
    #: The offer's flights that exist, in the offer's order.
    flights: Sequence[Flight]
    #: Their airplanes, by id.
    airplanes: Mapping[str, Airplane]
    #: Per flight id: the labels of its seats that are not free at the hold's instant (sold,
    #: or held by a hold whose deadline has not passed).
    taken: Mapping[str, AbstractSet[str]]
    #: Seats the user's unexpired holds take; no other hold of the user is stored before this
    #: one is written or dropped.
    held_seats: int
    #: The request's idempotency key as stored, if it is.
    kept: KeptKey | None = None


@frozen(kw_only=True)
class PaymentContext:
    """What starting a payment decides on, read in its first transaction
    (:meth:`~airline_core.ports.PaymentStore.begin`)."""

    #: The booking, or ``None`` when none has the reference.
    booking: Booking | None
    #: The request's idempotency key as stored, if it is.
    kept: KeptKey | None = None
    #: The booking's payments, oldest first, when a lease was left on it (a payment that never
    #: finished); empty otherwise.
    payments: Sequence[Payment] = ()


@frozen(kw_only=True)
class PaymentPlan:
    """What starting a payment decided: lease ``booking`` to ``payment`` until
    ``lease_until`` (a new pending payment, or with ``resume`` one already stored and
    captured), or, with no payment, send the key's kept ``answer`` again."""

    booking: Booking | None = None
    payment: Payment | None = None
    lease_until: datetime | None = None
    resume: bool = False
    answer: StoredAnswer | None = None


@frozen(kw_only=True)
class HoldPlan:
    """What a hold decided: a new booking to store (with the key's answer, for a keyed
    request), or, with no booking, the key's kept answer to send again. ``events`` go to the
    outbox and ``reminders`` are planned in the hold's transaction."""

    booking: Booking | None = None
    answer: StoredAnswer | None = None
    events: tuple[Event, ...] = ()
    reminders: tuple[Reminder, ...] = ()


class PaymentStatus(StrEnum):
    #: Recorded before the provider is called; a payment stuck here past its lease had its
    #: process die mid-call and is for reconciliation with the provider.
    PENDING = "pending"
    CAPTURED = "captured"
    FAILED = "failed"
    REFUNDED = "refunded"
    #: Captured, then owed back (the booking could not be confirmed) but the refund failed:
    #: the sweep retries it.
    REFUND_PENDING = "refund_pending"


@frozen(kw_only=True)
class Payment:
    """One attempt to pay a booking: ``method`` is the provider's payment-method token (never a
    card number); ``reference`` the provider's id of the charge, once it has one."""

    id: str
    booking_id: str
    amount: Money
    method: str
    status: PaymentStatus = field(converter=PaymentStatus)
    created_at: datetime
    updated_at: datetime
    reference: str | None = None
    failure_code: str | None = None
    refunded: Money | None = None
