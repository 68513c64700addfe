"""``GET /api/v1/search/flights``: itineraries for a day, ranked and keyset-paginated."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from typing import Annotated, Any, TypeVar

from litestar import Controller, get
from litestar.params import QueryParameter

from airline_core import Cabin, FieldError, InvalidRequest, PageRequest, SearchQuery, SortOrder
from airline_core.search import parse_price
from airline_runtime.http.catalog import After, AirlineDependency, Before, Limit
from airline_runtime.http.problems import problem_responses
from airline_runtime.http.schemas import ItineraryList, itinerary_out, meta_of

__all__ = ["SearchController", "local_time", "search_query"]

T = TypeVar("T")

_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def local_time(field_name: str, text: str | None) -> time | None:
    """``HH:MM`` (24-hour), or ``None``."""
    if text is None:
        return None
    match = _HH_MM.fullmatch(text)
    if match is None:
        raise InvalidRequest.for_field(field_name, f"{text!r} is not a local time such as 07:30")
    return time(int(match.group(1)), int(match.group(2)))


def search_query(
    *,
    origin: str,
    destination: str,
    day: date,
    passengers: int = 1,
    cabin: str = "economy",
    max_stops: int = 1,
    sort: str = "best",
    min_price: str | None = None,
    max_price: str | None = None,
    depart_after: str | None = None,
    depart_before: str | None = None,
    airlines: str | None = None,
    max_duration: int | None = None,
) -> SearchQuery:
    """A :class:`SearchQuery` from the API's text parameters (the CLI uses it too), every bad
    parameter named in one error."""
    errors: list[FieldError] = []
    # Parsed here rather than by SearchQuery, so that a bad cabin or sort does not hide the
    # other fields' errors. Parameters left out (most of them, on most searches) cost nothing.
    lowest = None if min_price is None else _parsed(errors, parse_price, "min_price", min_price)
    highest = None if max_price is None else _parsed(errors, parse_price, "max_price", max_price)
    after = (
        None if depart_after is None else _parsed(errors, local_time, "depart_after", depart_after)
    )
    before = (
        None
        if depart_before is None
        else _parsed(errors, local_time, "depart_before", depart_before)
    )
    cabin_choice = _parsed(errors, SearchQuery.parse_cabin, cabin)
    order = _parsed(errors, SearchQuery.parse_sort, sort)
    carriers = None
    if airlines is not None:
        carriers = frozenset(code.strip() for code in airlines.split(",") if code.strip())
    try:
        query = SearchQuery(
            origin=origin,
            destination=destination,
            date=day,
            passengers=passengers,
            cabin=cabin_choice or Cabin.ECONOMY,
            max_stops=max_stops,
            sort=order or SortOrder.BEST,
            min_price=lowest,
            max_price=highest,
            depart_after=after,
            depart_before=before,
            airlines=carriers,
            max_duration=max_duration,
        )
    except InvalidRequest as error:
        errors.extend(error.errors)
    if errors:
        raise InvalidRequest("invalid search", errors=errors)
    return query


def _parsed(errors: list[FieldError], parse: Callable[..., T], *arguments: Any) -> T | None:
    """``parse(*arguments)``, or ``None`` with its errors added to ``errors``."""
    try:
        return parse(*arguments)
    except InvalidRequest as error:
        errors.extend(error.errors)
        return None


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ("search",)

    @get(
        "/flights",
        summary="Search flights",
        description=(
            "Direct and connecting itineraries (up to `max_stops`) leaving on `date` (the "
            "origin's local date), with enough seats left in `cabin` for `passengers`. "
            "`origin` and `destination` take an airport or a city code (all its airports). "
            "Ranked by `sort`: `best` (price, duration, stops and time of day in one score, "
            "documented in the search guide), `price`, `departure` or `duration`; every order "
            "ends with the itinerary id, so pages never overlap. `price` is for all passengers."
        ),
        responses=problem_responses(404, 422),
    )
    async def search_flights(
        self,
        airline: AirlineDependency,
        origin: Annotated[str, QueryParameter(description="IATA airport or city code")],
        destination: Annotated[str, QueryParameter(description="IATA airport or city code")],
        date: Annotated[date, QueryParameter(description="local date of departure at the origin")],
        passengers: Annotated[int, QueryParameter(description="1..9")] = 1,
        cabin: Annotated[
            str, QueryParameter(description="first, business, premium_economy or economy")
        ] = "economy",
        max_stops: Annotated[int, QueryParameter(description="0..2")] = 1,
        sort: Annotated[
            str, QueryParameter(description="best, price, departure or duration")
        ] = "best",
        min_price: Annotated[
            str | None, QueryParameter(description="lowest total price, such as 100")
        ] = None,
        max_price: Annotated[
            str | None, QueryParameter(description="highest total price, such as 900.50")
        ] = None,
        depart_after: Annotated[
            str | None, QueryParameter(description="earliest local departure, HH:MM")
        ] = None,
        depart_before: Annotated[
            str | None, QueryParameter(description="latest local departure, HH:MM")
        ] = None,
        airlines: Annotated[
            str | None, QueryParameter(description="comma-separated airline codes: BA,AA")
        ] = None,
        max_duration: Annotated[
            int | None, QueryParameter(description="longest trip, in minutes")
        ] = None,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> ItineraryList:
        query = search_query(
            origin=origin,
            destination=destination,
            day=date,
            passengers=passengers,
            cabin=cabin,
            max_stops=max_stops,
            sort=sort,
            min_price=min_price,
            max_price=max_price,
            depart_after=depart_after,
            depart_before=depart_before,
            airlines=airlines,
            max_duration=max_duration,
        )
        page = await airline.search(query, PageRequest(limit=limit, after=after, before=before))
        weights = airline.flight_search.weights
        return ItineraryList(
            data=[itinerary_out(itinerary, weights) for itinerary in page.items],
            meta=meta_of(page),
        )
