"""A traveller's question: from where to where on which day, for whom, and how to rank."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from attrs import field, frozen

from airline_core.catalog.model import Cabin, cabin_named, is_airline_code, is_iata_code
from airline_core.errors import InvalidRequest
from airline_core.validation import Rules, choice

__all__ = ["MAX_PASSENGERS", "MAX_STOPS", "SearchQuery", "SortOrder", "parse_price"]

MAX_PASSENGERS = 9
MAX_STOPS = 2
#: The longest itinerary anyone asks for: three days door to door.
MAX_DURATION_MINUTES = 3 * 24 * 60


class SortOrder(StrEnum):
    """How results are ranked; every order ends with the itinerary id, so none has ties."""

    #: Price, duration, stops and time of day in one score (see :mod:`.ranking`).
    BEST = "best"
    PRICE = "price"
    DEPARTURE = "departure"
    DURATION = "duration"


def _sort(value: SortOrder | str) -> SortOrder:
    return choice(SortOrder, value, "sort")


def _airlines(value: frozenset[str] | tuple[str, ...] | list[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def parse_price(field_name: str, text: str) -> Decimal:
    """A price bound as a client writes it (``"250"``, ``"199.99"``)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidRequest.for_field(field_name, 'must be an amount such as "199.99"') from None
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -4:  # type: ignore[operator] # finite: an int
        raise InvalidRequest.for_field(
            field_name, "must be a non-negative amount with at most 4 decimals"
        )
    return value


@frozen(kw_only=True)
class SearchQuery:
    """What to search for. Every rule that needs no data is checked when one is made.

    ``origin`` and ``destination`` are IATA airport or city codes (a city means each of its
    airports); ``date`` is the local date of departure at the origin; ``depart_after`` and
    ``depart_before`` bound the local time of the first departure (both inclusive);
    ``min_price`` and ``max_price`` bound the total price for every passenger, in the
    itinerary's currency; ``airlines`` limits every segment to those carriers;
    ``max_duration`` (minutes) bounds the time from first departure to last arrival.
    """

    origin: str
    destination: str
    date: date
    passengers: int = 1
    cabin: Cabin = field(default=Cabin.ECONOMY, converter=cabin_named)
    max_stops: int = 1
    sort: SortOrder = field(default=SortOrder.BEST, converter=_sort)
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    depart_after: time | None = None
    depart_before: time | None = None
    airlines: frozenset[str] | None = field(default=None, converter=_airlines)
    max_duration: int | None = None

    def __attrs_post_init__(self) -> None:
        if self._plainly_valid():
            return
        rules = Rules("search")
        rules.require(is_iata_code(self.origin), "origin", "must be an IATA airport or city code")
        rules.require(
            is_iata_code(self.destination), "destination", "must be an IATA airport or city code"
        )
        rules.require(self.origin != self.destination, "destination", "must differ from the origin")
        rules.require(
            _whole(self.passengers) and 1 <= self.passengers <= MAX_PASSENGERS,
            "passengers",
            f"must be between 1 and {MAX_PASSENGERS}",
        )
        rules.require(
            _whole(self.max_stops) and 0 <= self.max_stops <= MAX_STOPS,
            "max_stops",
            f"must be between 0 and {MAX_STOPS}",
        )
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            rules.require(value is None or value >= 0, name, "must not be negative")
        if self.min_price is not None and self.max_price is not None:
            rules.require(
                self.min_price <= self.max_price, "min_price", "must not be above max_price"
            )
        if self.depart_after is not None and self.depart_before is not None:
            rules.require(
                self.depart_after <= self.depart_before,
                "depart_after",
                "must not be later than depart_before",
            )
        if self.airlines is not None:
            rules.require(bool(self.airlines), "airlines", "must name at least one airline")
            rules.require(
                all(is_airline_code(code) for code in self.airlines),
                "airlines",
                "must be two-character IATA airline designators, such as BA",
            )
        if self.max_duration is not None:
            rules.require(
                _whole(self.max_duration) and 1 <= self.max_duration <= MAX_DURATION_MINUTES,
                "max_duration",
                f"must be between 1 and {MAX_DURATION_MINUTES} minutes",
            )
        rules.check()

    def _plainly_valid(self) -> bool:
        """The usual query (two codes, a party and a number of stops, no filter) passes the
        rules below: checked in one expression, since a search makes one on every request and
        the rules' full walk costs several times this."""
        passengers, max_stops = self.passengers, self.max_stops
        return (
            type(passengers) is int
            and 1 <= passengers <= MAX_PASSENGERS
            and type(max_stops) is int
            and 0 <= max_stops <= MAX_STOPS
            and self.origin != self.destination
            and self.min_price is None
            and self.max_price is None
            and self.depart_after is None
            and self.depart_before is None
            and self.airlines is None
            and self.max_duration is None
            and is_iata_code(self.origin)
            and is_iata_code(self.destination)
        )

    #: Read a cabin or a sort order by name; :class:`InvalidRequest` naming the field if none.
    parse_cabin = staticmethod(cabin_named)
    parse_sort = staticmethod(_sort)

    def fingerprint(self) -> str:
        """The query in one line, for cursors: a cursor only continues the query it came from."""
        airlines = ",".join(sorted(self.airlines)) if self.airlines is not None else ""
        parts = (
            self.origin,
            self.destination,
            self.date.isoformat(),
            self.passengers,
            self.cabin.value,
            self.max_stops,
            self.sort.value,
            self.min_price,
            self.max_price,
            self.depart_after,
            self.depart_before,
            airlines,
            self.max_duration,
        )
        return "search:" + "|".join("" if part is None else str(part) for part in parts)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
