"""Seat maps, offers, bookings and payments under ``/api/v1``: the booking flow of API.md.

Seat maps are public like the rest of the catalog; offers and bookings belong to the signed-in
user who made them (anyone else gets 404; admins see every booking). Creating a booking and
paying take an ``Idempotency-Key`` (:mod:`airline_core.idempotency`): the first answer is kept
and replayed, with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta, Struct

from airline_core import Airline, AirlineError, InvalidRequest, Money, PageRequest, Principal
from airline_core.booking import Booking, Offer, Passenger, SeatChoice, SeatMap
from airline_core.booking.model import Payment, check_born_on
from airline_core.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    KeyedRequest,
    StoredAnswer,
    fingerprint,
)
from airline_core.reminders import Reminder
from airline_core.validation import Rules
from airline_runtime.http.catalog import After, AirlineDependency, Before, Limit
from airline_runtime.http.guards import principal_of, signed_in
from airline_runtime.http.problems import PROBLEM_JSON, core_error_response, problem_responses
from airline_runtime.http.schemas import (
    FlightOut,
    MoneyBody,
    MoneyOut,
    PageMeta,
    flight_out,
    local_instant,
    meta_of,
    money_out,
)
from airline_runtime.http.schemas import Request as Body

__all__ = ["BookingController", "OfferController", "SeatMapController"]

Instant = Annotated[
    str,
    Meta(
        examples=["2030-03-01T12:20:00+00:00"],
        description="an instant, ISO 8601 in UTC",
        extra_json_schema={"format": "date-time"},
    ),
]


def _instant(value: datetime) -> str:
    return value.isoformat()


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = principal_of(request)
    assert principal is not None  # noqa: S101 - the signed_in guard ran
    return principal


# Seat maps ------------------------------------------------------------------------------------


class SeatOut(Struct):
    seat: Annotated[str, Meta(examples=["12A"])]
    state: Annotated[str, Meta(description="available, held or sold")]
    kind: Annotated[str, Meta(description="window, middle or aisle")]
    row: int
    exit_row: bool


class SeatMapOut(Struct):
    flight_id: str
    cabin: str
    #: The cabin's seat letters with "-" for each aisle, left to right: how to draw a row.
    layout: Annotated[str, Meta(examples=["ABC-DEF"])]
    seats: list[SeatOut]


class SeatMapResponse(Struct):
    data: SeatMapOut


def seat_map_out(seat_map: SeatMap) -> SeatMapOut:
    return SeatMapOut(
        flight_id=seat_map.flight_id,
        cabin=seat_map.cabin.value,
        layout=seat_map.layout.seats,
        seats=[
            SeatOut(
                seat=entry.seat,
                state=entry.state.value,
                kind=entry.kind.value,
                row=entry.row,
                exit_row=entry.exit_row,
            )
            for entry in seat_map.seats
        ],
    )


class SeatMapController(Controller):
    path = "/api/v1/flights"
    tags = ("booking",)

    @get(
        "/{flight_id:str}/seatmap",
        summary="The seat map of a flight's cabin",
        description="Each seat of the cabin, front to back, with its state and kind.",
        responses=problem_responses(404, 422),
    )
    async def seat_map(
        self,
        airline: AirlineDependency,
        flight_id: FromPath[str],
        cabin: FromQuery[str] = "economy",
    ) -> SeatMapResponse:
        return SeatMapResponse(data=seat_map_out(await airline.seat_map(flight_id, cabin)))


# Offers ---------------------------------------------------------------------------------------


class OfferCreate(Body):
    flight_ids: Annotated[
        list[str], Meta(description="the flights of one itinerary, in order (a search result)")
    ]
    cabin: str = "economy"
    passengers: int = 1


class OfferOut(Struct):
    id: str
    flight_ids: list[str]
    cabin: str
    passengers: int
    total: Annotated[MoneyOut, Meta(description="for every passenger on every flight")]
    unit_prices: Annotated[list[MoneyOut], Meta(description="one passenger's price per flight")]
    expires_at: Instant


class OfferResponse(Struct):
    data: OfferOut


def offer_out(offer: Offer) -> OfferOut:
    return OfferOut(
        id=offer.id,
        flight_ids=list(offer.flight_ids),
        cabin=offer.cabin.value,
        passengers=offer.passengers,
        total=money_out(offer.total),
        unit_prices=[money_out(price) for price in offer.unit_prices],
        expires_at=_instant(offer.expires_at),
    )


class OfferController(Controller):
    path = "/api/v1/offers"
    tags = ("booking",)
    guards = [signed_in]  # noqa: RUF012 - Litestar's declaration style

    @post(
        summary="Price an itinerary",
        description="The price holds until `expires_at`; book it with `POST /api/v1/bookings`.",
        responses=problem_responses(401, 400, 404, 409, 413, 422),
    )
    async def create_offer(
        self,
        airline: AirlineDependency,
        request: Request[Any, Any, Any],
        data: JSONBody[OfferCreate],
    ) -> OfferResponse:
        principal = _principal(request)
        offer = await airline.offer(principal.user_id, data.flight_ids, data.cabin, data.passengers)
        return OfferResponse(data=offer_out(offer))

    @get("/{offer_id:str}", summary="Get an offer", responses=problem_responses(401, 404))
    async def get_offer(
        self, airline: AirlineDependency, request: Request[Any, Any, Any], offer_id: FromPath[str]
    ) -> OfferResponse:
        return OfferResponse(
            data=offer_out(await airline.offers.get(offer_id, _principal(request)))
        )


# Bookings -------------------------------------------------------------------------------------


class PassengerBody(Body):
    given_name: str
    family_name: str
    born_on: date
    email: str
    phone: Annotated[str | None, Meta(description="E.164, such as +447700900123")] = None


class SeatChoiceBody(Body):
    flight_id: str
    passenger: Annotated[int, Meta(description="index into passengers")]
    seat: Annotated[str, Meta(examples=["12A"])]


class BookingCreate(Body):
    offer_id: str
    passengers: list[PassengerBody]
    seats: list[SeatChoiceBody] = msgspec.field(default_factory=list)


class PassengerOut(Struct):
    given_name: str
    family_name: str
    born_on: date
    email: str
    phone: str | None


class SeatAssignmentOut(Struct):
    flight_id: str
    passenger: int
    seat: str


class BookingOut(Struct):
    reference: Annotated[str, Meta(examples=["K7QX2M"], description="the record locator")]
    status: Annotated[str, Meta(description="held, confirmed, cancelled or expired")]
    flight_ids: list[str]
    cabin: str
    total: MoneyOut
    price_guarantee_expires_at: Instant
    payment_required_by: Instant
    passengers: list[PassengerOut]
    seats: list[SeatAssignmentOut]
    created_at: Instant


class BookingResponse(Struct):
    data: BookingOut


class BookingList(Struct):
    data: list[BookingOut]
    meta: PageMeta


def booking_out(booking: Booking, now: datetime) -> BookingOut:
    return BookingOut(
        reference=booking.reference,
        status=booking.status_at(now).value,
        flight_ids=list(booking.flight_ids),
        cabin=booking.cabin.value,
        total=money_out(booking.total),
        price_guarantee_expires_at=_instant(booking.price_guarantee_expires_at),
        payment_required_by=_instant(booking.payment_required_by),
        passengers=[
            PassengerOut(
                given_name=p.given_name,
                family_name=p.family_name,
                born_on=p.born_on,
                email=p.email,
                phone=p.phone,
            )
            for p in booking.passengers
        ],
        seats=[
            SeatAssignmentOut(flight_id=s.flight_id, passenger=s.passenger, seat=s.seat)
            for s in booking.seats
        ],
        created_at=_instant(booking.created_at),
    )


def _money_in(body: MoneyBody) -> Money:
    try:
        return Money.parse(body.amount, body.currency)
    except InvalidRequest as error:
        rules = Rules("payment")
        rules.absorb(error, "amount")
        rules.fail()


def _created(schema: type[Struct]) -> ResponseSpec:
    return ResponseSpec(data_container=schema, description="Created")


def passengers_in(bodies: list[PassengerBody], today: date) -> list[Passenger]:
    """Each passenger, every broken rule named under ``passengers.<index>``."""
    rules = Rules("booking")
    passengers = []
    for index, body in enumerate(bodies):
        check_born_on(body.born_on, today, rules, f"passengers.{index}")
        try:
            passengers.append(
                Passenger(
                    given_name=body.given_name,
                    family_name=body.family_name,
                    born_on=body.born_on,
                    email=body.email,
                    phone=body.phone,
                )
            )
        except InvalidRequest as error:
            rules.absorb(error, f"passengers.{index}")
    if not bodies:
        rules.add("passengers", "must name at least one passenger")
    rules.check()
    return passengers


class PaymentCreate(Body):
    amount: Annotated[MoneyBody, Meta(description="the booking's total")]
    payment_method: Annotated[
        str,
        Meta(
            examples=["pm_card_visa"],
            description="a payment-method token from the provider (never a card number)",
        ),
    ]
    accept_new_total: Annotated[
        bool,
        Meta(description="after the price guarantee: pay the new total if the price moved"),
    ] = False


class PaymentOut(Struct):
    id: str
    amount: MoneyOut
    status: Annotated[str, Meta(description="pending, captured, failed or refunded")]


class PaidBookingOut(BookingOut):
    payment: PaymentOut


class PaidBookingResponse(Struct):
    data: PaidBookingOut


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(id=payment.id, amount=money_out(payment.amount), status=payment.status.value)


_JSON = "application/json"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _refusal(
    request: Request[Any, Any, Any], error: AirlineError
) -> tuple[Response[bytes], StoredAnswer]:
    """The problem answer to ``error``, and the same as an answer to keep for a key."""
    answer = core_error_response(request, error)
    body = msgspec.json.encode(answer.content)
    status_code = answer.status_code or 500
    response = Response(
        body, status_code=status_code, media_type=PROBLEM_JSON, headers=dict(answer.headers)
    )
    return response, StoredAnswer(status_code, PROBLEM_JSON, body)


T = TypeVar("T")


async def _keyed(
    request: Request[Any, Any, Any], airline: Airline, render: Callable[[T], StoredAnswer]
) -> KeyedRequest[T]:
    """The request's idempotency key: fingerprinted, kept with the answer ``render`` makes of
    the result, and with the problem answer of a refusal.

    :raises IdempotencyKeyMissing: no ``Idempotency-Key`` header.
    """

    def refusal(error: AirlineError) -> StoredAnswer:
        return _refusal(request, error)[1]

    print_ = fingerprint(request.method, request.url.path, await request.body())
    return airline.idempotency.request(
        _principal(request).user_id,
        request.headers.get(IDEMPOTENCY_HEADER),
        print_,
        render,
        refusal,
    )


def _sent(answer: StoredAnswer, *, replayed: bool) -> Response[bytes]:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers
    )


_IDEMPOTENCY_DOC = (
    " Send an `Idempotency-Key` header (a value of your own, such as a UUID): a retry with the "
    "same key and body gets the first answer again (`Idempotent-Replayed: true`); the same key "
    "with another body is 422, while the first still runs 409, no key 400."
)


class ReminderOut(Struct):
    kind: Annotated[
        str, Meta(description="check_in, boarding_pass, payment_deadline or flight_changed")
    ]
    status: Annotated[str, Meta(description="planned, sent or skipped")]
    due_at: Annotated[
        str, Meta(description="when it goes out, in the departure airport's local time")
    ]
    flight_id: str | None = None
    note: Annotated[str | None, Meta(description="why it was skipped")] = None


def reminder_out(reminder: Reminder, zone: str) -> ReminderOut:
    return ReminderOut(
        kind=reminder.kind.value,
        status=reminder.status.value,
        due_at=local_instant(reminder.due_at, zone),
        flight_id=reminder.flight_id,
        note=reminder.note,
    )


class ItineraryOut(Struct):
    booking: BookingOut
    flights: list[FlightOut]
    payments: list[PaymentOut]
    reminders: list[ReminderOut]


class ItineraryResponse(Struct):
    data: ItineraryOut


class BookingController(Controller):
    path = "/api/v1/bookings"
    tags = ("booking",)
    guards = [signed_in]  # noqa: RUF012 - Litestar's declaration style

    @post(
        summary="Hold an offer's seats",
        description=(
            "A `held` booking: its seats are yours until `payment_required_by`, its total until "
            "`price_guarantee_expires_at`. Seats not chosen are assigned, a party together "
            "where possible." + _IDEMPOTENCY_DOC
        ),
        responses={
            201: _created(BookingResponse),
            **problem_responses(401, 400, 404, 409, 413, 422),
        },
    )
    async def create_booking(
        self,
        airline: AirlineDependency,
        request: Request[Any, Any, Any],
        data: JSONBody[BookingCreate],
    ) -> Response[bytes]:
        # The key's answer is kept in the hold's own transaction (Bookings.hold_once): no
        # booking exists without it, and a retry that meets the first one running waits for it;
        # a refusal's answer is kept by the use case.
        def render(booking: Booking) -> StoredAnswer:
            out = BookingResponse(data=booking_out(booking, airline.clock.now()))
            return StoredAnswer(201, _JSON, msgspec.json.encode(out))

        key = await _keyed(request, airline, render)
        try:
            answer, replayed = await airline.hold_once(
                _principal(request),
                data.offer_id,
                passengers_in(data.passengers, airline.clock.now().date()),
                [
                    SeatChoice(flight_id=s.flight_id, passenger=s.passenger, seat=s.seat)
                    for s in data.seats
                ],
                key,
            )
        except (IdempotencyKeyInUse, IdempotencyKeyReused):
            raise  # about the key, not the request: never its answer
        except AirlineError as error:
            return _refusal(request, error)[0]  # kept for the key by the use case
        return _sent(answer, replayed=replayed)

    @post(
        "/{reference:str}/payments",
        summary="Pay a held booking",
        description=(
            "Charges `amount` (the booking's total) to `payment_method`, a token from the "
            "payment provider, and confirms the booking: its seats are sold. A declined card is "
            "402 and leaves the hold as it was. After the price guarantee the total is priced "
            "again: if it moved, 409 `price-changed` with `old_total` and `new_total`, unless "
            "`accept_new_total` is true and `amount` is the new total." + _IDEMPOTENCY_DOC
        ),
        responses={
            201: _created(PaidBookingResponse),
            **problem_responses(401, 400, 402, 404, 409, 413, 422, 503),
        },
    )
    async def pay_booking(
        self,
        airline: AirlineDependency,
        request: Request[Any, Any, Any],
        reference: FromPath[str],
        data: JSONBody[PaymentCreate],
    ) -> Response[bytes]:
        # The key is stored in the payment's first transaction and its answer in the
        # confirmation's (Payments.pay_once); a refusal's answer is kept by the use case.
        def render(paid: tuple[Booking, Payment]) -> StoredAnswer:
            booking, payment = paid
            out = booking_out(booking, airline.clock.now())
            body = PaidBookingOut(**msgspec.structs.asdict(out), payment=payment_out(payment))
            return StoredAnswer(201, _JSON, msgspec.json.encode(PaidBookingResponse(data=body)))

        key = await _keyed(request, airline, render)
        try:
            answer, replayed = await airline.pay_once(
                _principal(request),
                reference,
                _money_in(data.amount),
                data.payment_method,
                key,
                accept_new_total=data.accept_new_total,
            )
        except (IdempotencyKeyInUse, IdempotencyKeyReused):
            raise  # about the key, not the request: never its answer
        except AirlineError as error:
            return _refusal(request, error)[0]  # kept for the key by the use case
        return _sent(answer, replayed=replayed)

    @get(
        summary="Your bookings",
        description="Oldest first; an admin sees everyone's.",
        responses=problem_responses(401, 422),
    )
    async def list_bookings(
        self,
        airline: AirlineDependency,
        request: Request[Any, Any, Any],
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> BookingList:
        page = await airline.bookings.list(
            _principal(request), PageRequest(limit=limit, after=after, before=before)
        )
        now = airline.clock.now()
        return BookingList(data=[booking_out(b, now) for b in page.items], meta=meta_of(page))

    @get("/{reference:str}", summary="Get a booking", responses=problem_responses(401, 404))
    async def get_booking(
        self, airline: AirlineDependency, request: Request[Any, Any, Any], reference: FromPath[str]
    ) -> BookingResponse:
        booking = await airline.bookings.get(reference, _principal(request))
        return BookingResponse(data=booking_out(booking, airline.clock.now()))

    @get(
        "/{reference:str}/itinerary",
        summary="A booking's itinerary",
        description=(
            "One answer with the booking, its flights as they are now (local times, status), "
            "its payments and its reminders (planned, sent or skipped; times in the local time "
            "of the departure airport of the flight they are about, or of the first flight)."
        ),
        responses=problem_responses(401, 404),
    )
    async def get_itinerary(
        self, airline: AirlineDependency, request: Request[Any, Any, Any], reference: FromPath[str]
    ) -> ItineraryResponse:
        view = await airline.itinerary(reference, _principal(request))
        zones = {flight.id: flight.origin_time_zone for flight in view.flights}
        first = view.flights[0].origin_time_zone if view.flights else "UTC"
        return ItineraryResponse(
            data=ItineraryOut(
                booking=booking_out(view.booking, airline.clock.now()),
                flights=[flight_out(flight) for flight in view.flights],
                payments=[payment_out(payment) for payment in view.payments],
                reminders=[
                    reminder_out(reminder, zones.get(reminder.flight_id or "", first))
                    for reminder in view.reminders
                ],
            )
        )

    @post(
        "/{reference:str}/cancel",
        status_code=200,
        summary="Cancel a booking",
        description="Frees its seats. 409 when it is cancelled or expired already.",
        responses=problem_responses(401, 404, 409),
    )
    async def cancel_booking(
        self, airline: AirlineDependency, request: Request[Any, Any, Any], reference: FromPath[str]
    ) -> BookingResponse:
        booking = await airline.cancel(reference, _principal(request))
        return BookingResponse(data=booking_out(booking, airline.clock.now()))
