"""Valid catalog values and a small world of places for core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airline_core import (
    Airline,
    Airplane,
    Airport,
    Cabin,
    CabinLayout,
    City,
    Flight,
    InvalidRequest,
    Money,
    NotFound,
    SeatLayout,
)
from airline_core.ids import new_id

#: Every core test starts at this instant (before the US switch to daylight time on 2030-03-10).
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)

#: Airport code -> (city code, city name, country, time zone).
PLACES = {
    "LHR": ("LON", "London", "GB", "Europe/London"),
    "LGW": ("LON", "London", "GB", "Europe/London"),
    "JFK": ("NYC", "New York", "US", "America/New_York"),
    "CDG": ("PAR", "Paris", "FR", "Europe/Paris"),
    "NRT": ("TYO", "Tokyo", "JP", "Asia/Tokyo"),
}

ECONOMY_ONLY = SeatLayout(
    cabins=(CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=30, seats="ABC-DEF"),)
)
TWO_CABINS = SeatLayout(
    cabins=(
        CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=4, seats="AC-DF"),
        CabinLayout(
            cabin=Cabin.ECONOMY, first_row=10, last_row=35, seats="ABC-DEF", exit_rows=(12, 13)
        ),
    )
)


def broken_fields(error: InvalidRequest | Any) -> list[str]:
    """The fields an error names, in the order it names them."""
    return [item.field for item in error.errors]


def city(**changes: Any) -> City:
    values: dict[str, Any] = {"id": new_id(), "code": "LON", "name": "London", "country": "GB"}
    return City(**{**values, **changes})


def airport(**changes: Any) -> Airport:
    values: dict[str, Any] = {
        "code": "LHR",
        "name": "Heathrow",
        "city": "LON",
        "country": "GB",
        "time_zone": "Europe/London",
        "latitude": 51.47,
        "longitude": -0.45,
    }
    return Airport(**{**values, **changes})


def fares_for(layout: SeatLayout, currency: str = "GBP") -> dict[Cabin, Money]:
    return {cabin: Money(10_000 * (5 - cabin.rank), currency) for cabin in layout.cabin_classes}


def flight(**changes: Any) -> Flight:
    departs_at = changes.pop("departs_at", NOW + timedelta(days=7))
    values: dict[str, Any] = {
        "id": new_id(),
        "number": "BA117",
        "airline": "BA",
        "airplane_id": new_id(),
        "origin": "LHR",
        "destination": "JFK",
        "departs_at": departs_at,
        "arrives_at": departs_at + timedelta(hours=8),
        "origin_time_zone": "Europe/London",
        "destination_time_zone": "America/New_York",
        "fares": {Cabin.ECONOMY: Money(45_000, "GBP")},
    }
    return Flight(**{**values, **changes})


async def add_airports(airline: Airline, *codes: str) -> list[Airport]:
    """Create each airport, and its city when that does not exist yet."""
    made = []
    for code in codes:
        city_code, city_name, country, zone = PLACES[code]
        try:
            await airline.cities.get_by_code(city_code)
        except NotFound:
            await airline.cities.create(code=city_code, name=city_name, country=country)
        made.append(
            await airline.airports.create(
                code=code,
                name=f"{code} Airport",
                city=city_code,
                country=country,
                time_zone=zone,
                latitude=10.0,
                longitude=20.0,
            )
        )
    return made


async def add_airplane(airline: Airline, layout: SeatLayout = TWO_CABINS) -> Airplane:
    return await airline.airplanes.create(model="Airbus A321neo", layout=layout)


async def schedule(
    airline: Airline,
    plane: Airplane,
    departs_at: datetime,
    /,
    *,
    number: str = "BA117",
    origin: str = "LHR",
    destination: str = "JFK",
    hours: float = 8,
    **changes: Any,
) -> Flight:
    """Schedule a flight with fares for exactly the airplane's cabins."""
    values: dict[str, Any] = {
        "number": number,
        "airline": number[:2],
        "airplane_id": plane.id,
        "origin": origin,
        "destination": destination,
        "departs_at": departs_at,
        "arrives_at": departs_at + timedelta(hours=hours),
        "fares": fares_for(plane.layout),
    }
    return await airline.flights.create(**{**values, **changes})
