"""The catalog: cities, airports, airplanes with their seat layouts, and scheduled flights.

Every value here checks its own rules when it is made (``attrs`` post-init), so an invalid object
never exists; rules that need other records (an airplane that must exist, a code that must be
unique) are checked by the use cases in :mod:`airline_core.catalog.service` and by the stores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen

from airline_core.errors import InvalidRequest
from airline_core.money import Money
from airline_core.validation import Rules, choice

__all__ = [
    "MAX_FLIGHT_DURATION",
    "Airplane",
    "Airport",
    "Cabin",
    "CabinLayout",
    "City",
    "Fares",
    "Flight",
    "FlightStatus",
    "Seat",
    "SeatKind",
    "SeatLayout",
    "flight_status",
    "is_airline_code",
    "is_iata_code",
    "time_zone",
    "utc_instant",
]

_IATA_CODE = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
# A two-character IATA airline designator: two letters, or a letter and a digit in either order.
_AIRLINE = re.compile(r"(?:[A-Z]{2}|[A-Z][0-9]|[0-9][A-Z])")
_FLIGHT_NUMBER_DIGITS = re.compile(r"[0-9]{1,4}[A-Z]?")
_SEAT_LETTERS = re.compile(r"[A-Z](?:-?[A-Z])*")

#: The longest flight the catalog accepts, a little above the longest scheduled flight today.
MAX_FLIGHT_DURATION = timedelta(hours=22)
MAX_NAME_LENGTH = 120
MAX_ROWS = 99


def is_iata_code(code: str) -> bool:
    """Three upper-case letters, as IATA airport and city codes are."""
    return _IATA_CODE.fullmatch(code) is not None


def is_airline_code(code: str) -> bool:
    return _AIRLINE.fullmatch(code) is not None


@cache
def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; :class:`InvalidRequest` when there is none."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise InvalidRequest.for_field("time_zone", f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    # A region such as "Europe" is a folder of the database: opening it fails with an OSError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidRequest.for_field("time_zone", f"{name!r} is not an IANA time zone") from None


def utc_instant(value: datetime, field_name: str = "time") -> datetime:
    """An aware instant in UTC, to the second (schedules have no use for microseconds)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest.for_field(field_name, "needs a UTC offset or a time zone")
    return value.astimezone(UTC).replace(microsecond=0)


def _departure(value: datetime) -> datetime:
    return utc_instant(value, "departs_at")


def _arrival(value: datetime) -> datetime:
    return utc_instant(value, "arrives_at")


def _name_rules(rules: Rules, field_name: str, value: str) -> None:
    rules.require(
        bool(value.strip()) and value == value.strip(),
        field_name,
        "must not be empty or start or end with spaces",
    )
    rules.require(
        len(value) <= MAX_NAME_LENGTH, field_name, f"must be at most {MAX_NAME_LENGTH} characters"
    )


class Cabin(StrEnum):
    """Cabins from the front of the airplane to the back."""

    FIRST = "first"
    BUSINESS = "business"
    PREMIUM_ECONOMY = "premium_economy"
    ECONOMY = "economy"

    @property
    def rank(self) -> int:
        return list(Cabin).index(self)


class SeatKind(StrEnum):
    WINDOW = "window"
    MIDDLE = "middle"
    AISLE = "aisle"


class FlightStatus(StrEnum):
    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    CANCELLED = "cancelled"


@frozen(kw_only=True)
class City:
    """A city as airlines name it: an IATA city code (``LON``) that may group several airports."""

    id: str
    code: str
    name: str
    country: str

    def __attrs_post_init__(self) -> None:
        rules = Rules("city")
        rules.require(is_iata_code(self.code), "code", "must be three upper-case letters")
        _name_rules(rules, "name", self.name)
        rules.require(
            _COUNTRY.fullmatch(self.country) is not None,
            "country",
            "must be an ISO 3166-1 alpha-2 code such as GB",
        )
        rules.check()


@frozen(kw_only=True)
class Airport:
    """An airport: its IATA code, the city it serves, and where and in which time zone it is."""

    code: str
    name: str
    city: str
    country: str
    time_zone: str
    latitude: float
    longitude: float

    def __attrs_post_init__(self) -> None:
        rules = Rules("airport")
        rules.require(is_iata_code(self.code), "code", "must be three upper-case letters")
        _name_rules(rules, "name", self.name)
        rules.require(is_iata_code(self.city), "city", "must be an IATA city code")
        rules.require(
            _COUNTRY.fullmatch(self.country) is not None,
            "country",
            "must be an ISO 3166-1 alpha-2 code such as GB",
        )
        try:
            time_zone(self.time_zone)
        except InvalidRequest as error:
            rules.add("time_zone", error.errors[0].message)
        rules.require(
            math.isfinite(self.latitude) and -90 <= self.latitude <= 90,
            "latitude",
            "must be between -90 and 90",
        )
        rules.require(
            math.isfinite(self.longitude) and -180 <= self.longitude <= 180,
            "longitude",
            "must be between -180 and 180",
        )
        rules.check()

    @property
    def zone(self) -> ZoneInfo:
        return time_zone(self.time_zone)


@frozen(kw_only=True)
class Seat:
    """One seat of a layout, such as 12A."""

    row: int
    letter: str
    cabin: Cabin
    kind: SeatKind
    exit_row: bool

    @property
    def label(self) -> str:
        return f"{self.row}{self.letter}"


def cabin_named(value: Cabin | str) -> Cabin:
    """The cabin named ``value``; :class:`InvalidRequest` naming ``cabin`` otherwise."""
    return choice(Cabin, value, "cabin")


def flight_status(value: FlightStatus | str) -> FlightStatus:
    """The status named ``value``; :class:`InvalidRequest` naming ``status`` otherwise."""
    return choice(FlightStatus, value, "status")


def _sorted_rows(rows: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(rows))


@frozen(kw_only=True)
class CabinLayout:
    """The seats of one cabin: rows ``first_row..last_row``, each laid out as ``seats``.

    ``seats`` lists the seat letters from left to right with ``-`` for an aisle: ``"ABC-DEF"`` is a
    single-aisle 3-3 row, ``"AC-DEG-HK"`` a twin-aisle 2-3-2 row. The outermost seats are
    windows, seats beside an aisle are aisles, the rest are middles.
    """

    cabin: Cabin = field(converter=cabin_named)
    first_row: int
    last_row: int
    seats: str
    exit_rows: tuple[int, ...] = field(default=(), converter=_sorted_rows)

    def __attrs_post_init__(self) -> None:
        rules = Rules("cabin layout")
        rules.require(1 <= self.first_row <= MAX_ROWS, "first_row", f"must be 1..{MAX_ROWS}")
        rules.require(
            self.first_row <= self.last_row <= MAX_ROWS,
            "last_row",
            f"must be between first_row and {MAX_ROWS}",
        )
        letters = self.letters
        if rules.require(
            _SEAT_LETTERS.fullmatch(self.seats) is not None,
            "seats",
            'must be seat letters with "-" for each aisle, such as "ABC-DEF"',
        ):
            rules.require(
                len(set(letters)) == len(letters), "seats", "must not repeat a seat letter"
            )
            rules.require(
                list(letters) == sorted(letters),
                "seats",
                "must list seat letters from left to right in alphabetical order",
            )
        rules.require(
            len(set(self.exit_rows)) == len(self.exit_rows)
            and all(self.first_row <= row <= self.last_row for row in self.exit_rows),
            "exit_rows",
            "must be distinct rows of this cabin",
        )
        rules.check()

    @property
    def letters(self) -> str:
        return self.seats.replace("-", "")

    @property
    def rows(self) -> range:
        return range(self.first_row, self.last_row + 1)

    @property
    def seat_count(self) -> int:
        return len(self.rows) * len(self.letters)

    def kind_of(self, letter: str) -> SeatKind:
        position = self.seats.index(letter)
        if position in (0, len(self.seats) - 1):
            return SeatKind.WINDOW
        if self.seats[position - 1] == "-" or self.seats[position + 1] == "-":
            return SeatKind.AISLE
        return SeatKind.MIDDLE

    @property
    def labels(self) -> tuple[str, ...]:
        """Every seat's label, front to back and left to right (worked out once per layout:
        booking reads them on every hold)."""
        return _labels(self)

    @property
    def label_set(self) -> frozenset[str]:
        return _label_set(self)

    @property
    def window_and_aisle_labels(self) -> tuple[str, ...]:
        """The labels of every seat that is not a middle one, in :attr:`labels` order."""
        return _not_middle(self)

    def iter_seats(self) -> Iterator[Seat]:
        exits = set(self.exit_rows)
        for row in self.rows:
            for letter in self.letters:
                yield Seat(
                    row=row,
                    letter=letter,
                    cabin=self.cabin,
                    kind=self.kind_of(letter),
                    exit_row=row in exits,
                )


@lru_cache(maxsize=1024)
def _labels(layout: CabinLayout) -> tuple[str, ...]:
    letters = layout.letters
    return tuple(f"{row}{letter}" for row in layout.rows for letter in letters)


@lru_cache(maxsize=1024)
def _label_set(layout: CabinLayout) -> frozenset[str]:
    return frozenset(_labels(layout))


@lru_cache(maxsize=1024)
def _not_middle(layout: CabinLayout) -> tuple[str, ...]:
    kinds = _kinds(layout)
    return tuple(label for label in _labels(layout) if kinds[label[-1]] is not SeatKind.MIDDLE)


@lru_cache(maxsize=1024)
def _kinds(layout: CabinLayout) -> dict[str, SeatKind]:
    return {letter: layout.kind_of(letter) for letter in layout.letters}


def _cabin_tuple(cabins: Iterable[CabinLayout]) -> tuple[CabinLayout, ...]:
    return tuple(cabins)


@frozen(kw_only=True)
class SeatLayout:
    """The cabins of an airplane from front to back; rows never overlap and cabins never repeat."""

    cabins: tuple[CabinLayout, ...] = field(converter=_cabin_tuple)

    def __attrs_post_init__(self) -> None:
        rules = Rules("seat layout")
        if not rules.require(bool(self.cabins), "cabins", "must list at least one cabin"):
            rules.check()
        kinds = [cabin.cabin for cabin in self.cabins]
        rules.require(len(set(kinds)) == len(kinds), "cabins", "must not repeat a cabin")
        rules.require(
            kinds == sorted(kinds, key=lambda cabin: cabin.rank),
            "cabins",
            "must run from the front (first) to the back (economy)",
        )
        for index, (front, back) in enumerate(zip(self.cabins, self.cabins[1:], strict=False)):
            rules.require(
                back.first_row > front.last_row,
                f"cabins.{index + 1}.first_row",
                "must come after the rows of the cabin in front",
            )
        rules.check()

    @property
    def capacity(self) -> int:
        return sum(cabin.seat_count for cabin in self.cabins)

    def cabin(self, cabin: Cabin) -> CabinLayout | None:
        return next((layout for layout in self.cabins if layout.cabin == cabin), None)

    @property
    def cabin_classes(self) -> frozenset[Cabin]:
        return frozenset(layout.cabin for layout in self.cabins)

    def iter_seats(self) -> Iterator[Seat]:
        for cabin in self.cabins:
            yield from cabin.iter_seats()


@frozen(kw_only=True)
class Airplane:
    """An airplane model in one seat configuration (an A320neo with 180 economy seats, say)."""

    id: str
    model: str
    layout: SeatLayout

    def __attrs_post_init__(self) -> None:
        rules = Rules("airplane")
        _name_rules(rules, "model", self.model)
        rules.check()


#: Base fares per cabin, keyed by :class:`Cabin` or its value (``"economy"``).
Fares = Mapping[Cabin, Money] | Mapping[str, Money]


def _sorted_fares(fares: Fares) -> dict[Cabin, Money]:
    try:
        cabins = {Cabin(cabin): money for cabin, money in fares.items()}
    except ValueError as error:
        raise InvalidRequest.for_field("fares", str(error)) from None
    return dict(sorted(cabins.items(), key=lambda item: item[0].rank))


@frozen(kw_only=True)
class Flight:
    """One departure of a flight number: from ``origin`` at ``departs_at`` to ``destination``.

    Instants are UTC; ``origin_time_zone`` and ``destination_time_zone`` (the airports' zones) turn
    them into local times. ``departs_on`` is the local date of departure at the origin, the date a
    traveller searches for.
    """

    id: str
    number: str
    airline: str
    airplane_id: str
    origin: str
    destination: str
    departs_at: datetime = field(converter=_departure)
    arrives_at: datetime = field(converter=_arrival)
    origin_time_zone: str
    destination_time_zone: str
    fares: dict[Cabin, Money] = field(converter=_sorted_fares)
    status: FlightStatus = field(default=FlightStatus.SCHEDULED, converter=flight_status)

    def __attrs_post_init__(self) -> None:
        rules = Rules("flight")
        airline_ok = rules.require(
            is_airline_code(self.airline), "airline", "must be a two-character IATA designator"
        )
        if airline_ok:
            digits = self.number.removeprefix(self.airline)
            rules.require(
                self.number.startswith(self.airline)
                and _FLIGHT_NUMBER_DIGITS.fullmatch(digits) is not None,
                "number",
                f"must be the airline code and 1-4 digits, such as {self.airline}123",
            )
        rules.require(is_iata_code(self.origin), "origin", "must be an IATA airport code")
        rules.require(is_iata_code(self.destination), "destination", "must be an IATA airport code")
        rules.require(self.origin != self.destination, "destination", "must differ from the origin")
        if rules.require(
            self.arrives_at > self.departs_at, "arrives_at", "must be after departs_at"
        ):
            rules.require(
                self.duration <= MAX_FLIGHT_DURATION,
                "arrives_at",
                f"a flight lasts at most {MAX_FLIGHT_DURATION.total_seconds() // 3600:.0f} hours",
            )
        rules.require(bool(self.fares), "fares", "must price at least one cabin")
        currencies = {money.currency for money in self.fares.values()}
        rules.require(len(currencies) <= 1, "fares", "must all be in one currency")
        for cabin, money in self.fares.items():
            rules.require(money.minor_units >= 0, f"fares.{cabin}", "must not be negative")
        for name in ("origin_time_zone", "destination_time_zone"):
            try:
                time_zone(getattr(self, name))
            except InvalidRequest as error:
                rules.add(name, error.errors[0].message)
        rules.check()

    @property
    def duration(self) -> timedelta:
        return self.arrives_at - self.departs_at

    @property
    def departs_at_local(self) -> datetime:
        return self.departs_at.astimezone(time_zone(self.origin_time_zone))

    @property
    def arrives_at_local(self) -> datetime:
        return self.arrives_at.astimezone(time_zone(self.destination_time_zone))

    @property
    def departs_on(self) -> date:
        return self.departs_at_local.date()

    @property
    def currency(self) -> str:
        return next(iter(self.fares.values())).currency
