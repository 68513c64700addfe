"""Valid catalog objects for contract tests, made directly (stores take finished objects)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airline_core import (
    Airplane,
    Airport,
    Cabin,
    CabinLayout,
    City,
    Flight,
    FlightStatus,
    Money,
    SeatLayout,
)
from airline_core.ids import new_id

ZONES = {"LHR": "Europe/London", "JFK": "America/New_York", "CDG": "Europe/Paris"}
CITIES = {"LHR": ("LON", "GB"), "JFK": ("NYC", "US"), "CDG": ("PAR", "FR")}


def city(code: str = "LON", name: str = "London", country: str = "GB") -> City:
    return City(id=new_id(), code=code, name=name, country=country)


def airport(code: str = "LHR", name: str | None = None, city_code: str | None = None) -> Airport:
    home, country = CITIES.get(code, (code, "GB"))
    return Airport(
        code=code,
        name=name or f"{code} International",
        city=city_code or home,
        country=country,
        time_zone=ZONES.get(code, "Europe/London"),
        latitude=51.47,
        longitude=-0.45,
    )


TWO_CABINS = SeatLayout(
    cabins=(
        CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=4, seats="AC-DF"),
        CabinLayout(
            cabin=Cabin.ECONOMY, first_row=10, last_row=35, seats="ABC-DEF", exit_rows=(12, 13)
        ),
    )
)


def airplane(model: str = "Airbus A320neo", layout: SeatLayout = TWO_CABINS) -> Airplane:
    return Airplane(id=new_id(), model=model, layout=layout)


def flight(
    plane: Airplane,
    departs_at: datetime,
    *,
    number: str = "BA117",
    origin: str = "LHR",
    destination: str = "JFK",
    hours: float = 8,
    status: FlightStatus = FlightStatus.SCHEDULED,
) -> Flight:
    return Flight(
        id=new_id(),
        number=number,
        airline=number[:2],
        airplane_id=plane.id,
        origin=origin,
        destination=destination,
        departs_at=departs_at,
        arrives_at=departs_at + timedelta(hours=hours),
        origin_time_zone=ZONES[origin],
        destination_time_zone=ZONES[destination],
        fares={
            cabin: Money(10_000 * (5 - cabin.rank), "GBP") for cabin in plane.layout.cabin_classes
        },
        status=status,
    )
