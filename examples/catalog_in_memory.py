"""Manage an airline's catalog from Python, with no database and no server.

Requires: the core only (`pip install airline-booking`, or `pip install -e .` in a checkout).
To run: `python examples/catalog_in_memory.py`
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio

from airline_core import (
    Airline,
    Cabin,
    CabinLayout,
    FlightFilter,
    InvalidRequest,
    Money,
    PageRequest,
    SeatLayout,
)


async def main() -> None:
    async with Airline.in_memory() as airline:
        await airline.cities.create(code="LON", name="London", country="GB")
        await airline.cities.create(code="NYC", name="New York", country="US")
        await airline.airports.create(
            code="LHR",
            name="London Heathrow Airport",
            city="LON",
            country="GB",
            time_zone="Europe/London",
            latitude=51.4706,
            longitude=-0.46194,
        )
        await airline.airports.create(
            code="JFK",
            name="John F Kennedy International Airport",
            city="NYC",
            country="US",
            time_zone="America/New_York",
            latitude=40.6398,
            longitude=-73.7789,
        )
        dreamliner = await airline.airplanes.create(
            model="Boeing 787-9",
            layout=SeatLayout(
                cabins=[
                    CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=8, seats="A-DG-K"),
                    CabinLayout(
                        cabin=Cabin.ECONOMY,
                        first_row=20,
                        last_row=48,
                        seats="ABC-DEF-HJK",
                        exit_rows=[30],
                    ),
                ]
            ),
        )
        print(f"{dreamliner.model}: {dreamliner.layout.capacity} seats")

        tomorrow = datetime.now(UTC).replace(hour=18, minute=30, second=0, microsecond=0)
        tomorrow += timedelta(days=1)
        for day in range(3):
            departs_at = tomorrow + timedelta(days=day)
            await airline.flights.create(
                number="BA117",
                airline="BA",
                airplane_id=dreamliner.id,
                origin="LHR",
                destination="JFK",
                departs_at=departs_at,
                arrives_at=departs_at + timedelta(hours=8, minutes=5),
                fares={
                    Cabin.ECONOMY: Money.parse("450.00", "GBP"),
                    Cabin.BUSINESS: Money.parse("2450.00", "GBP"),
                },
            )

        page = await airline.flights.list(FlightFilter(origin="LHR"), PageRequest(limit=2))
        while True:
            for flight in page.items:
                print(
                    f"{flight.number} {flight.origin} {flight.departs_at_local:%a %d %b %H:%M %Z}"
                    f" -> {flight.destination} {flight.arrives_at_local:%H:%M %Z}"
                    f"  economy {flight.fares[Cabin.ECONOMY]}"
                )
            if page.after is None:
                break
            page = await airline.flights.list(
                FlightFilter(origin="LHR"), PageRequest(limit=2, after=page.after)
            )

        try:
            await airline.airports.create(
                code="lgw",
                name="",
                city="LON",
                country="GB",
                time_zone="Europe/Londres",
                latitude=51.15,
                longitude=-0.18,
            )
        except InvalidRequest as error:
            print("refused:", error)


if __name__ == "__main__":
    anyio.run(main)
