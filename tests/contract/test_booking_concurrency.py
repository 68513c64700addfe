"""Many buyers at once never get one seat twice, on SQLite and on MariaDB.

Each round starts every buyer at the same moment on its own database connection (the pool
holds up to 20 on MariaDB; SQLite queues writers with ``BEGIN IMMEDIATE``). CI runs each test
``AIRLINE_STRESS_ROUNDS`` times (default 2); the stress run sets it to 20 or more::

    AIRLINE_STRESS_ROUNDS=20 python -m pytest tests/contract/test_booking_concurrency.py
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta

import anyio
import pytest

from airline_core import Airline, Cabin, CabinLayout, Principal, Role, SeatLayout
from airline_core.booking import Booking, SeatChoice, SeatState
from airline_core.errors import SeatUnavailable
from airline_core.identity.model import User
from airline_core.ids import new_id
from tests.conftest import TEST_NOW, Stores
from tests.contract import samples
from tests.contract.test_booking import party
from tests.contract.test_catalog_stores import add_places

pytestmark = pytest.mark.anyio

ROUNDS = int(os.environ.get("AIRLINE_STRESS_ROUNDS", "2"))
DEPARTURE = (TEST_NOW + timedelta(days=20)).replace(hour=7, minute=0)
# Ten seats in all, so every round sells the last ten seats of a flight.
TEN_SEATS = SeatLayout(
    cabins=(CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=14, seats="A-B"),)
)


SQL_BACKENDS = pytest.mark.parametrize(
    "stores", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)], indirect=True
)


async def buyers(stores: Stores, count: int) -> list[Principal]:
    """``count`` customers, stored directly (hashing passwords would only slow the test)."""
    made = []
    for n in range(count):
        user = User(
            id=new_id(),
            email=f"buyer{n}-{new_id().lower()}@example.org",
            name=f"Buyer {n}",
            role=Role.CUSTOMER,
            password_hash="-",
            created_at=TEST_NOW,
        )
        await stores.users.add(user)
        made.append(Principal(user_id=user.id, role=Role.CUSTOMER))
    return made


async def race(
    airline: Airline, people: list[Principal], flight_id: str, seat: str | None
) -> tuple[list[Booking], list[Exception]]:
    """Every buyer asks for an offer, then all hold at once; who won and why the rest lost."""
    offers = [await airline.offer(p.user_id, [flight_id], "economy", 1) for p in people]
    won: list[Booking] = []
    lost: list[Exception] = []
    start = anyio.Event()
    choice = [] if seat is None else [SeatChoice(flight_id=flight_id, passenger=0, seat=seat)]

    async def buy(person: Principal, offer_id: str) -> None:
        await start.wait()
        try:
            won.append(await airline.hold(person, offer_id, party(1), choice))
        except SeatUnavailable as error:
            lost.append(error)

    async with anyio.create_task_group() as group:
        for person, offer in zip(people, offers, strict=True):
            group.start_soon(buy, person, offer.id)
        start.set()
    return won, lost


async def check_sold(stores: Stores, airline: Airline, flight_id: str, won: list[Booking]) -> None:
    seats = Counter(seat.seat for booking in won for seat in booking.seats)
    assert all(count == 1 for count in seats.values()), f"oversold: {seats}"
    seat_map = await airline.seat_map(flight_id, "economy")
    held = {entry.seat for entry in seat_map.seats if entry.state is SeatState.HELD}
    assert held == set(seats)
    _, cabins = await stores.inventory.seats(flight_id)
    assert cabins[Cabin.ECONOMY].left == 10 - len(won)


async def release(airline: Airline, people: list[Principal], won: list[Booking]) -> None:
    """Cancel the winners' holds, so the next round starts with no one near the hold limit."""
    by_id = {person.user_id: person for person in people}
    for booking in won:
        await airline.cancel(booking.reference, by_id[booking.user_id])


async def new_flight(stores: Stores, round_number: int) -> str:
    plane = samples.airplane(layout=TEN_SEATS)
    await stores.airplanes.add(plane)
    flight = samples.flight(
        plane, DEPARTURE + timedelta(days=round_number), number=f"BA{100 + round_number}"
    )
    await stores.flights.add(flight)
    return flight.id


@SQL_BACKENDS
async def test_two_hundred_buyers_for_the_last_ten_seats(stores: Stores) -> None:
    airline = stores.airline
    await add_places(stores, "LHR", "JFK")
    people = await buyers(stores, 200)
    for round_number in range(ROUNDS):
        flight_id = await new_flight(stores, round_number)
        won, lost = await race(airline, people, flight_id, seat=None)
        assert len(won) == 10
        assert len(lost) == 190
        await check_sold(stores, airline, flight_id, won)
        await release(airline, people, won)


@SQL_BACKENDS
async def test_a_hundred_buyers_of_one_named_seat(stores: Stores) -> None:
    airline = stores.airline
    await add_places(stores, "LHR", "JFK")
    people = await buyers(stores, 100)
    for round_number in range(ROUNDS):
        flight_id = await new_flight(stores, round_number)
        won, lost = await race(airline, people, flight_id, seat="12B")
        assert len(won) == 1
        assert len(lost) == 99
        assert all(error.errors and error.errors[0].field == "seats.0" for error in lost)
        await check_sold(stores, airline, flight_id, won)
        await release(airline, people, won)
