"""A booking's reminders from Python, on a fake clock: planned when it is held and paid,
re-planned when the flight moves, sent by the sweep when they fall due.

Requires: only the core (`pip install airline-booking`, or `pip install -e .`).
To run: `python examples/reminders_in_memory.py`
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio

from airline_core import Airline, Cabin, CabinLayout, FakeClock, Money, Principal, Role, SeatLayout
from airline_core.booking import Passenger
from airline_core.events import ReminderDue, decode

LONDON = ZoneInfo("Europe/London")


def show(title: str, reminders: object) -> None:
    print(title)
    for reminder in reminders:  # type: ignore[attr-defined]
        local = reminder.due_at.astimezone(LONDON).strftime("%a %d %b %H:%M %Z")
        print(f"  {reminder.kind.value:<16} {reminder.status.value:<9} due {local}")


async def main() -> None:
    # Sunday 31 March 2030 is when the UK's clocks go forward: 48 hours before an 08:00 BST
    # departure is 07:00 GMT on the Friday.
    departs_at = datetime(2030, 3, 31, 8, 0, tzinfo=LONDON).astimezone(UTC)
    clock = FakeClock(datetime(2030, 3, 20, 9, 0, tzinfo=UTC))
    async with Airline.in_memory(clock=clock) as airline:
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
            cabins=[CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=20, seats="ABC-DEF")]
        )
        plane = await airline.airplanes.create(model="Airbus A320neo", layout=layout)
        flight = await airline.flights.create(
            number="BA117",
            airline="BA",
            airplane_id=plane.id,
            origin="LHR",
            destination="JFK",
            departs_at=departs_at,
            arrives_at=departs_at + timedelta(hours=8),
            fares={Cabin.ECONOMY: Money.parse("420.00", "GBP")},
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
        offer = await airline.offer(user.id, [flight.id], Cabin.ECONOMY, 1)
        held = await airline.hold(ann, offer.id, [traveller])
        show("held:", await airline.reminders.of(held))
        await airline.pay(ann, held.reference, held.total, "pm_card_visa")
        show("paid:", (await airline.itinerary(held.reference, ann)).reminders)

        # The airline moves the flight an hour later: new times, and a notice at once.
        later = departs_at + timedelta(hours=1)
        await airline.flights.update(
            flight.id, departs_at=later, arrives_at=later + timedelta(hours=8)
        )
        show("retimed:", (await airline.itinerary(held.reference, ann)).reminders)

        # The sweep (`airline scheduler` runs it every minute) sends what is due.
        for moment in (clock.now(), later - timedelta(hours=47), later - timedelta(hours=2)):
            clock.set(moment)
            report = await airline.reminders.sweep()
            print(
                f"sweep at {moment:%d %b %H:%M} UTC: {report.sent} sent, {report.skipped} skipped"
            )
        claimed = await airline.outbox.claim("example", clock.now(), timedelta(minutes=1), 100)
        for entry in claimed:
            event = decode(entry.event)
            if isinstance(event, ReminderDue):
                print(f"  reminder.due {event.kind} for {event.booking.reference}")


if __name__ == "__main__":
    anyio.run(main)
