"""Request and response bodies of the catalog API, as msgspec structs.

Request structs forbid unknown fields, so a client can never slip in a field the API does not
take (an id, say). Responses are built from domain objects by the ``*_out`` functions; money is
``{"amount": "123.45", "currency": "EUR"}`` and flight times are local to each airport with the
IANA zone beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from airline_core import (
    Airplane,
    Airport,
    Cabin,
    CabinLayout,
    City,
    Flight,
    FlightStatus,
    InvalidRequest,
    Money,
    Role,
    SeatLayout,
    TokenPair,
)
from airline_core.catalog.model import time_zone
from airline_core.pagination import Page
from airline_core.search import BestWeights, Itinerary, best_score
from airline_core.search.ranking import SCORE_SCALE
from airline_core.validation import Rules

T = TypeVar("T")

Code = Annotated[str, Meta(examples=["LHR"], description="IATA code: three upper-case letters")]
Country = Annotated[str, Meta(examples=["GB"], description="ISO 3166-1 alpha-2 country code")]


class Request(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A request body: unknown fields are refused."""


# Money ---------------------------------------------------------------------------------------


class MoneyBody(Request):
    amount: Annotated[str, Meta(examples=["129.00"], description="decimal string")]
    currency: Annotated[str, Meta(examples=["EUR"], description="ISO 4217 code")]


class MoneyOut(Struct):
    amount: str
    currency: str


def money_out(money: Money) -> MoneyOut:
    return MoneyOut(amount=money.amount, currency=money.currency)


def fares_in(fares: Mapping[Cabin, MoneyBody]) -> dict[Cabin, Money]:
    """Parse each fare, reporting every bad one under ``fares.<cabin>.<field>``."""
    rules = Rules("fares")
    parsed = {}
    for cabin, body in fares.items():
        try:
            parsed[cabin] = Money.parse(body.amount, body.currency)
        except InvalidRequest as error:
            rules.absorb(error, f"fares.{cabin.value}")
    rules.check()
    return parsed


# Problems ------------------------------------------------------------------------------------


class FieldProblem(Struct):
    field: Annotated[str, Meta(examples=["layout.cabins.0.seats"], description="dotted path")]
    message: str


class Problem(Struct, omit_defaults=True):
    """An RFC 9457 problem detail, as every error is answered (``application/problem+json``)."""

    type: Annotated[str, Meta(examples=["urn:airline:problem:validation"])]
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] = msgspec.field(default_factory=list)


# Pages ---------------------------------------------------------------------------------------


class PageMeta(Struct):
    limit: int
    after: str | None
    before: str | None


def meta_of(page: Page[Any]) -> PageMeta:
    return PageMeta(limit=page.limit, after=page.after, before=page.before)


# Cities --------------------------------------------------------------------------------------


class CityCreate(Request):
    code: Code
    name: str
    country: Country


class CityPatch(Request):
    name: str | UnsetType = UNSET
    country: Country | UnsetType = UNSET


class CityOut(Struct):
    id: str
    code: str
    name: str
    country: str


class CityResponse(Struct):
    data: CityOut


class CityList(Struct):
    data: list[CityOut]
    meta: PageMeta


def city_out(city: City) -> CityOut:
    return CityOut(id=city.id, code=city.code, name=city.name, country=city.country)


# Airports ------------------------------------------------------------------------------------


class AirportCreate(Request):
    code: Code
    name: str
    city: Annotated[str, Meta(examples=["LON"], description="IATA city code of its city")]
    country: Country
    time_zone: Annotated[str, Meta(examples=["Europe/London"], description="IANA time zone")]
    latitude: float
    longitude: float


class AirportPatch(Request):
    name: str | UnsetType = UNSET
    city: str | UnsetType = UNSET
    country: Country | UnsetType = UNSET
    time_zone: str | UnsetType = UNSET
    latitude: float | UnsetType = UNSET
    longitude: float | UnsetType = UNSET


class AirportOut(Struct):
    code: str
    name: str
    city: str
    country: str
    time_zone: str
    latitude: float
    longitude: float


class AirportResponse(Struct):
    data: AirportOut


class AirportList(Struct):
    data: list[AirportOut]
    meta: PageMeta


def airport_out(airport: Airport) -> AirportOut:
    return AirportOut(
        code=airport.code,
        name=airport.name,
        city=airport.city,
        country=airport.country,
        time_zone=airport.time_zone,
        latitude=airport.latitude,
        longitude=airport.longitude,
    )


# Airplanes -----------------------------------------------------------------------------------


class CabinBody(Request):
    cabin: Cabin
    first_row: int
    last_row: int
    seats: Annotated[
        str, Meta(examples=["ABC-DEF"], description='seat letters left to right, "-" per aisle')
    ]
    exit_rows: list[int] = msgspec.field(default_factory=list)


class LayoutBody(Request):
    cabins: list[CabinBody]


class CabinOut(Struct):
    cabin: Cabin
    first_row: int
    last_row: int
    seats: str
    exit_rows: list[int]
    seat_count: int


class LayoutOut(Struct):
    cabins: list[CabinOut]


class AirplaneCreate(Request):
    model: Annotated[str, Meta(examples=["Airbus A320neo"])]
    layout: LayoutBody


class AirplanePatch(Request):
    model: str | UnsetType = UNSET
    layout: LayoutBody | UnsetType = UNSET


class AirplaneOut(Struct):
    id: str
    model: str
    seat_count: int
    layout: LayoutOut


class AirplaneResponse(Struct):
    data: AirplaneOut


class AirplaneList(Struct):
    data: list[AirplaneOut]
    meta: PageMeta


def layout_in(body: LayoutBody) -> SeatLayout:
    """Build the core layout, reporting every broken rule under ``layout.``."""
    rules = Rules("layout")
    cabins = []
    for index, cabin in enumerate(body.cabins):
        try:
            cabins.append(
                CabinLayout(
                    cabin=cabin.cabin,
                    first_row=cabin.first_row,
                    last_row=cabin.last_row,
                    seats=cabin.seats,
                    exit_rows=cabin.exit_rows,
                )
            )
        except InvalidRequest as error:
            rules.absorb(error, f"layout.cabins.{index}")
    rules.check()
    try:
        return SeatLayout(cabins=cabins)
    except InvalidRequest as error:
        rules.absorb(error, "layout")
        rules.fail()


def airplane_out(airplane: Airplane) -> AirplaneOut:
    return AirplaneOut(
        id=airplane.id,
        model=airplane.model,
        seat_count=airplane.layout.capacity,
        layout=LayoutOut(
            cabins=[
                CabinOut(
                    cabin=cabin.cabin,
                    first_row=cabin.first_row,
                    last_row=cabin.last_row,
                    seats=cabin.seats,
                    exit_rows=list(cabin.exit_rows),
                    seat_count=cabin.seat_count,
                )
                for cabin in airplane.layout.cabins
            ]
        ),
    )


# Flights -------------------------------------------------------------------------------------

Instant = Annotated[
    datetime,
    Meta(examples=["2026-12-01T18:30:00+00:00"], description="ISO 8601 with a UTC offset"),
]


class FlightCreate(Request):
    number: Annotated[str, Meta(examples=["BA117"], description="airline code and 1-4 digits")]
    airline: Annotated[str, Meta(examples=["BA"], description="IATA airline designator")]
    airplane_id: str
    origin: Code
    destination: Code
    departs_at: Instant
    arrives_at: Instant
    fares: dict[Cabin, MoneyBody]


class FlightPatch(Request):
    airplane_id: str | UnsetType = UNSET
    departs_at: Instant | UnsetType = UNSET
    arrives_at: Instant | UnsetType = UNSET
    fares: dict[Cabin, MoneyBody] | UnsetType = UNSET
    status: FlightStatus | UnsetType = UNSET


# A local time keeps its numeric offset even when it is zero (London in winter is "+00:00", not
# "Z"), so that no client mistakes a local time for a UTC one.
LocalTime = Annotated[
    str,
    Meta(
        examples=["2030-03-04T12:00:00+00:00"],
        description="local time at the airport, ISO 8601 with its UTC offset",
        extra_json_schema={"format": "date-time"},
    ),
]


class FlightOut(Struct):
    id: str
    number: str
    airline: str
    airplane_id: str
    origin: str
    destination: str
    departs_at: LocalTime
    origin_time_zone: str
    arrives_at: LocalTime
    destination_time_zone: str
    departs_on: date
    duration_minutes: int
    fares: dict[Cabin, MoneyOut]
    status: FlightStatus


class FlightResponse(Struct):
    data: FlightOut


class FlightList(Struct):
    data: list[FlightOut]
    meta: PageMeta


def flight_out(flight: Flight) -> FlightOut:
    return FlightOut(
        id=flight.id,
        number=flight.number,
        airline=flight.airline,
        airplane_id=flight.airplane_id,
        origin=flight.origin,
        destination=flight.destination,
        departs_at=flight.departs_at_local.isoformat(),
        origin_time_zone=flight.origin_time_zone,
        arrives_at=flight.arrives_at_local.isoformat(),
        destination_time_zone=flight.destination_time_zone,
        departs_on=flight.departs_on,
        duration_minutes=int(flight.duration.total_seconds() // 60),
        fares={cabin: money_out(money) for cabin, money in flight.fares.items()},
        status=flight.status,
    )


def given(value: T | UnsetType) -> T | None:
    """``None`` for a field the PATCH body left out (no PATCH field may be set to null)."""
    return None if isinstance(value, UnsetType) else value


# Identity ------------------------------------------------------------------------------------

Email = Annotated[str, Meta(max_length=254, examples=["ann@example.org"])]
Password = Annotated[str, Meta(max_length=256, description="at least 10 characters")]


class RegisterBody(Request):
    email: Email
    password: Password
    name: Annotated[str, Meta(max_length=120, examples=["Ann Smith"])]


class LoginBody(Request):
    email: Email
    password: Password


class RefreshBody(Request):
    refresh_token: Annotated[str, Meta(max_length=512)]


class UserOut(Struct):
    id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class UserResponse(Struct):
    data: UserOut


class UserList(Struct):
    data: list[UserOut]
    meta: PageMeta


class TokenOut(Struct):
    access_token: str
    token_type: str
    expires_in: Annotated[int, Meta(description="seconds until the access token expires")]
    refresh_token: str


class TokenResponse(Struct):
    data: TokenOut

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            data=TokenOut(
                access_token=pair.access_token,
                token_type=pair.token_type,
                expires_in=pair.expires_in,
                refresh_token=pair.refresh_token,
            )
        )


# Search --------------------------------------------------------------------------------------


class SegmentOut(Struct):
    flight_id: str
    number: str
    airline: str
    origin: Code
    destination: Code
    departs_at: LocalTime
    origin_time_zone: str
    arrives_at: LocalTime
    destination_time_zone: str


class ItineraryOut(Struct):
    #: The flight ids joined by ".": what an offer is made for.
    id: str
    segments: list[SegmentOut]
    stops: int
    duration_minutes: int
    price: Annotated[MoneyOut, Meta(description="for every passenger")]
    seats_available: int
    best_score: Annotated[
        str,
        Meta(
            description="the `best` ranking's score for the party (lower ranks first), in the "
            "currency's major units; see the search documentation"
        ),
    ]


class ItineraryList(Struct):
    data: list[ItineraryOut]
    meta: PageMeta


#: From this year on every time zone's offset is a whole number of minutes (the last offsets in
#: seconds, local mean times, ended in 1972), which is all RFC 3339 can write.
_WHOLE_MINUTE_OFFSETS_SINCE = 1973
_encode = msgspec.json.encode


def local_instant(instant: datetime, zone: str) -> str:
    """The instant in ``zone``, in ISO 8601 with its offset (``2030-03-04T12:00:00+00:00``,
    as :meth:`datetime.isoformat` writes it).

    Written by msgspec, whose RFC 3339 writer in C costs a fifth of ``isoformat`` (a search
    writes two of these per flight it shows), with its ``Z`` for a zero offset written as
    ``+00:00``: a local time keeps its offset. Instants with microseconds, or from before
    every offset was a whole number of minutes, are left to ``isoformat``.
    """
    local = instant.astimezone(time_zone(zone))
    if local.microsecond or local.year < _WHOLE_MINUTE_OFFSETS_SINCE:
        return local.isoformat()
    text = _encode(local)[1:-1].decode()
    return text[:-1] + "+00:00" if text[-1] == "Z" else text


_SCORE_UNIT = 10**SCORE_SCALE
_SCORE_FORMAT = f"%d.%0{SCORE_SCALE}d"


def _score_text(score: int) -> str:
    """A score (in 1/10,000 of a major unit) as a decimal: 4125000 -> "412.5000"."""
    whole, fraction = divmod(score, _SCORE_UNIT)
    return _SCORE_FORMAT % (whole, fraction)


def itinerary_out(itinerary: Itinerary, weights: BestWeights) -> ItineraryOut:
    # Positional: a search writes several per request, and msgspec matches keywords to fields
    # one by one (the order is the classes' own, above).
    price = itinerary.price
    return ItineraryOut(
        itinerary.id,
        [
            SegmentOut(
                leg.flight_id,
                leg.number,
                leg.airline,
                leg.origin,
                leg.destination,
                local_instant(leg.departs_at, leg.origin_time_zone),
                leg.origin_time_zone,
                local_instant(leg.arrives_at, leg.destination_time_zone),
                leg.destination_time_zone,
            )
            for leg in itinerary.segments
        ],
        itinerary.stops,
        itinerary.duration_minutes,
        MoneyOut(price.amount, price.currency),
        itinerary.seats_available,
        _score_text(best_score(itinerary, weights)),
    )
