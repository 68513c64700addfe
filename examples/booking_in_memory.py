"""Search, price, hold and cancel a booking from Python, with no database and no server.

Requires: the core only (`pip install airline-booking`, or `pip install -e .` in a checkout).
To run: `python examples/booking_in_memory.py`
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio

from airline_core import (
    Airline,
    Cabin,
    CabinLayout,
    Money,
    Principal,
    Role,
    SearchQuery,
    SeatLayout,
)
from airline_core.booking import Passenger, SeatChoice, SeatState
from airline_core.errors import SeatUnavailable


async def main() -> None:
    async with Airline.in_memory() as airline:
        await airline.cities.create(code="LON", name="London", country="GB")
        await airline.cities.create(code="NYC", name="New York", country="US")
        for code, city, country, zone in (
            ("LHR", "LON", "GB", "Europe/London"),
            ("JFK", "NYC", "US", "America/New_York"),
        ):
            await airline.airports.create(
                code=code,
                name=f"{code} Airport",
                city=city,
                country=country,
                time_zone=zone,
                latitude=0.0,
                longitude=0.0,
            )
        plane = await airline.airplanes.create(
            model="Airbus A321neo",
            layout=SeatLayout(
                cabins=[
                    CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=14, seats="ABC-DEF")
                ]
            ),
        )
        departs_at = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        departs_at += timedelta(days=12)
        flight = await airline.flights.create(
            number="BA117",
            airline="BA",
            airplane_id=plane.id,
            origin="LHR",
            destination="JFK",
            departs_at=departs_at,
            arrives_at=departs_at + timedelta(hours=8),
            fares={Cabin.ECONOMY: Money.parse("450.00", "GBP")},
        )
        user = await airline.accounts.register(
            email="ann@example.org",
            password="a long enough passphrase",  # noqa: S106 - a demo account
            name="Ann",
        )
        ann = Principal(user_id=user.id, role=Role.CUSTOMER)

        query = SearchQuery(origin="LON", destination="NYC", date=flight.departs_on, passengers=2)
        [found] = (await airline.search(query)).items
        print(f"search: {found.id} for 2 at {found.price} (12 days out: the late window)")

        offer = await airline.offer(user.id, found.flight_ids, "economy", 2)
        travellers = [
            Passenger(
                given_name="Ann",
                family_name="Traveller",
                born_on=date(1990, 5, 17),
                email="ann@example.org",
                phone="+447700900123",
            ),
            Passenger(
                given_name="Bob",
                family_name="Traveller",
                born_on=date(1988, 2, 1),
                email="bob@example.org",
            ),
        ]
        booking = await airline.hold(
            ann, offer.id, travellers, [SeatChoice(flight_id=flight.id, passenger=0, seat="12A")]
        )
        seats = ", ".join(f"{s.seat} for passenger {s.passenger}" for s in booking.seats)
        print(f"held {booking.reference}: {booking.total}, seats {seats}")
        print(f"  price kept until {booking.price_guarantee_expires_at:%H:%M %Z}")
        print(f"  pay by {booking.payment_required_by:%H:%M %Z}")

        seat_map = await airline.seat_map(flight.id, "economy")
        print(f"seat map: {seat_map.count(SeatState.HELD)} held of {len(seat_map.seats)}")

        # Someone else wants 12A: a chosen seat that is taken is an answer, not a substitute.
        other = await airline.offer(user.id, [flight.id], "economy", 1)
        try:
            await airline.hold(
                ann,
                other.id,
                travellers[:1],
                [SeatChoice(flight_id=flight.id, passenger=0, seat="12A")],
            )
        except SeatUnavailable as error:
            print("refused:", error)

        cancelled = await airline.cancel(booking.reference, ann)
        after = await airline.seat_map(flight.id, "economy")
        print(f"{cancelled.reference} {cancelled.status}: {after.count(SeatState.HELD)} seats held")


if __name__ == "__main__":
    anyio.run(main)
