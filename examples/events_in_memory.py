"""Follow a booking's events from Python: the outbox, the relay and an in-process subscriber.

Every change to a booking writes its event to the outbox with the change; a relay hands the
events to the subscribers of a bus (here the in-process one; RabbitMQ in production) and drops
them from the outbox once they were handled.

Requires: the runtime (`pip install 'airline-booking[server]'`, or `pip install -e '.[server]'`).
To run: `python examples/events_in_memory.py`
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio

from airline_core import Airline, Cabin, CabinLayout, Money, Principal, Role, SeatLayout
from airline_core.booking import Passenger
from airline_core.events import BookingCancelled, EncodedEvent, decode
from airline_runtime.messaging import InProcessBus, Relay, Subscription


async def print_event(encoded: EncodedEvent) -> None:
    event = decode(encoded)
    booking = getattr(event, "booking", None)
    extra = f", refund {event.refund}" if isinstance(event, BookingCancelled) else ""
    print(f"{encoded.type:<18} {booking.reference if booking else ''} {booking.status}{extra}")


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
        layout = SeatLayout(
            cabins=[CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=4, seats="AC-DF")]
        )
        plane = await airline.airplanes.create(model="Airbus A321neo", layout=layout)
        departs_at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        departs_at += timedelta(days=20)
        flight = await airline.flights.create(
            number="BA117",
            airline="BA",
            airplane_id=plane.id,
            origin="LHR",
            destination="JFK",
            departs_at=departs_at,
            arrives_at=departs_at + timedelta(hours=8),
            fares={Cabin.BUSINESS: Money.parse("2400.00", "GBP")},
        )
        user = await airline.accounts.register(
            email="ann@example.org",
            password="a long enough passphrase",  # noqa: S106 - a demo account
            name="Ann",
        )
        ann = Principal(user_id=user.id, role=Role.CUSTOMER)
        traveller = Passenger(
            given_name="Ann",
            family_name="Traveller",
            born_on=date(1990, 5, 17),
            email="ann@example.org",
            phone="+447700900123",
        )

        bus = InProcessBus()
        bus.subscribe(Subscription("printer", ("booking.*", "flight.*"), print_event))
        relay = Relay(airline.outbox, bus, airline.clock)

        offer = await airline.offer(user.id, [flight.id], "business", 1)
        booking = await airline.hold(ann, offer.id, [traveller])
        await airline.pay(ann, booking.reference, booking.total, "pm_card_visa")
        await airline.cancel(booking.reference, ann)
        print(f"outbox before the relay: {(await airline.outbox.status()).pending} events")
        await relay.run_once()  # airline worker / airline outbox relay repeat this for ever
        print(f"outbox after the relay:  {(await airline.outbox.status()).pending} events")


if __name__ == "__main__":
    anyio.run(main)
