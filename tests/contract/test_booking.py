"""Offers, holds, seat maps, cancellation and expiry, end to end on each backend: memory, SQLite
and MariaDB behave alike (the use cases of airline_core.booking over each store)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from airline_core import (
    Airline,
    Cabin,
    CabinLayout,
    Flight,
    FlightStatus,
    InvalidRequest,
    NotFound,
    PageRequest,
    Principal,
    Role,
    SearchQuery,
    SeatLayout,
    StillReferenced,
)
from airline_core.booking import BookingStatus, Passenger, SeatChoice, SeatState
from airline_core.errors import HoldLimitReached, InvalidTransition, OfferExpired, SeatUnavailable
from airline_core.pricing import DynamicPricing
from tests.conftest import TEST_NOW, Stores
from tests.contract import samples
from tests.contract.test_catalog_stores import add_places

pytestmark = pytest.mark.anyio

DEPARTURE = (TEST_NOW + timedelta(days=30)).replace(hour=9, minute=0)
SMALL = SeatLayout(
    cabins=(
        CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=1, seats="AC-DF"),
        CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=12, seats="ABC-DEF"),
    )
)


def passenger(n: int = 0) -> Passenger:
    return Passenger(
        given_name=f"Ann{chr(65 + n)}",
        family_name="Traveller",
        born_on=date(1990, 5, 17),
        email=f"ann{n}@example.org",
        phone="+447700900123" if n % 2 == 0 else None,
    )


def party(size: int) -> list[Passenger]:
    return [passenger(n) for n in range(size)]


async def customer(airline: Airline, name: str = "ann") -> Principal:
    user = await airline.accounts.register(
        email=f"{name}@example.org", password="a long enough passphrase", name=name
    )
    return Principal(user_id=user.id, role=Role.CUSTOMER)


async def scheduled(stores: Stores, layout: SeatLayout = SMALL, **changes: object) -> Flight:
    await add_places(stores, "LHR", "JFK")
    plane = samples.airplane(layout=layout)
    await stores.airplanes.add(plane)
    flight = samples.flight(plane, DEPARTURE, **changes)  # type: ignore[arg-type]
    await stores.flights.add(flight)
    return flight


async def test_an_offer_prices_the_itinerary_and_expires_in_twenty_minutes(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 2)
    assert offer.total == flight.fares[Cabin.ECONOMY] * 2
    assert offer.expires_at == TEST_NOW + timedelta(minutes=20)
    assert await airline.offers.get(offer.id, ann) == offer
    bob = await customer(airline, "bob")
    with pytest.raises(NotFound):
        await airline.offers.get(offer.id, bob)


async def test_a_hold_keeps_seats_and_the_offers_total_until_its_deadlines(
    stores: Stores,
) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 3)
    booking = await airline.hold(ann, offer.id, party(3))
    assert booking.status is BookingStatus.HELD
    assert len(booking.reference) == 6
    assert booking.total == offer.total
    assert booking.price_guarantee_expires_at == TEST_NOW + timedelta(minutes=15)
    assert booking.payment_required_by == TEST_NOW + timedelta(minutes=30)
    seats = [seat.seat for seat in booking.seats]
    assert len(set(seats)) == 3
    # Three travellers on an empty 3-3 cabin sit side by side in one section of one row.
    rows = {seat[:-1] for seat in seats}
    assert len(rows) == 1
    assert {seat[-1] for seat in seats} in ({"A", "B", "C"}, {"D", "E", "F"})
    assert await airline.bookings.get(booking.reference, ann) == booking

    seat_map = await airline.seat_map(flight.id, "economy")
    states = {entry.seat: entry.state for entry in seat_map.seats}
    assert {label for label, state in states.items() if state is SeatState.HELD} == set(seats)
    assert seat_map.count(SeatState.AVAILABLE) == 18 - 3

    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY] == (15, 18)
    assert cabins[Cabin.BUSINESS] == (4, 4)
    found = await airline.search(
        SearchQuery(origin="LHR", destination="JFK", date=flight.departs_on, max_stops=0)
    )
    assert [it.seats_available for it in found.items] == [15]


async def test_chosen_seats_are_kept_and_the_rest_are_assigned(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 2)
    choice = SeatChoice(flight_id=flight.id, passenger=1, seat="11C")
    booking = await airline.hold(ann, offer.id, party(2), [choice])
    by_passenger = {seat.passenger: seat.seat for seat in booking.seats}
    assert by_passenger[1] == "11C"
    assert by_passenger[0] != "11C"


async def test_a_taken_seat_is_named_and_nothing_stays_held(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann, bob = await customer(airline), await customer(airline, "bob")
    first = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    await airline.hold(
        ann, first.id, party(1), [SeatChoice(flight_id=flight.id, passenger=0, seat="10A")]
    )
    second = await airline.offer(bob.user_id, [flight.id], "economy", 2)
    choices = [
        SeatChoice(flight_id=flight.id, passenger=0, seat="10B"),
        SeatChoice(flight_id=flight.id, passenger=1, seat="10A"),
    ]
    with pytest.raises(SeatUnavailable) as raised:
        await airline.hold(bob, second.id, party(2), choices)
    assert [e.field for e in raised.value.errors] == ["seats.1"]
    seat_map = await airline.seat_map(flight.id, "economy")
    assert seat_map.count(SeatState.HELD) == 1
    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY].left == 17


async def test_bad_requests_name_each_field(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 2)
    choices = [
        SeatChoice(flight_id="nope", passenger=0, seat="10A"),
        SeatChoice(flight_id=flight.id, passenger=5, seat="10A"),
        SeatChoice(flight_id=flight.id, passenger=0, seat="1A"),  # a business seat
        SeatChoice(flight_id=flight.id, passenger=0, seat="10A"),
        SeatChoice(flight_id=flight.id, passenger=1, seat="10A"),
    ]
    with pytest.raises(InvalidRequest) as raised:
        await airline.hold(ann, offer.id, party(1), choices)
    assert [e.field for e in raised.value.errors] == [
        "passengers",
        "seats.0.flight_id",
        "seats.1.passenger",
        "seats.2.seat",
        "seats.4",
    ]
    with pytest.raises(NotFound):
        await airline.hold(ann, "no-such-offer", party(2))
    bob = await customer(airline, "bob")
    with pytest.raises(NotFound):
        await airline.hold(bob, offer.id, party(2))


async def test_offers_refuse_what_is_no_itinerary(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    with pytest.raises(InvalidRequest, match="passengers"):
        await airline.offer(ann.user_id, [flight.id], "economy", 10)
    with pytest.raises(InvalidRequest, match="flight_ids"):
        await airline.offer(ann.user_id, [flight.id, flight.id], "economy", 1)
    with pytest.raises(InvalidRequest, match="first"):
        await airline.offer(ann.user_id, [flight.id], "first", 1)
    with pytest.raises(NotFound):
        await airline.offer(ann.user_id, ["01ARZ3NDEKTSV4RRFFQ69G5FAV"], "economy", 1)
    with pytest.raises(SeatUnavailable):
        await airline.offer(ann.user_id, [flight.id], "business", 5)
    back = samples.flight(
        await stores.airplanes.get(flight.airplane_id),
        flight.arrives_at + timedelta(minutes=20),  # under the 45-minute minimum connection
        number="BA118",
        origin="JFK",
        destination="LHR",
    )
    await stores.flights.add(back)
    with pytest.raises(InvalidRequest, match="connection"):
        await airline.offer(ann.user_id, [flight.id, back.id], "economy", 1)
    await airline.flights.update(flight.id, status=FlightStatus.CANCELLED)
    with pytest.raises(InvalidTransition, match="cancelled"):
        await airline.offer(ann.user_id, [flight.id], "economy", 1)


async def test_sales_close_half_an_hour_before_departure(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    stores.clock.set(flight.departs_at - timedelta(minutes=40))
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    booking = await airline.hold(ann, offer.id, party(1))
    # The hold must be paid before sales close, not 30 minutes from now.
    assert booking.payment_required_by == flight.departs_at - timedelta(minutes=30)
    assert booking.price_guarantee_expires_at == booking.payment_required_by
    stores.clock.set(flight.departs_at - timedelta(minutes=30))
    with pytest.raises(InvalidTransition, match="closed"):
        await airline.offer(ann.user_id, [flight.id], "economy", 1)


async def test_an_expired_offer_cannot_be_held(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    stores.clock.advance(minutes=20)
    with pytest.raises(OfferExpired):
        await airline.hold(ann, offer.id, party(1))


async def test_one_user_holds_at_most_nine_seats(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    for size in (5, 4):
        offer = await airline.offer(ann.user_id, [flight.id], "economy", size)
        await airline.hold(ann, offer.id, party(size))
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    with pytest.raises(HoldLimitReached):
        await airline.hold(ann, offer.id, party(1))
    # Holds past their deadline no longer count.
    stores.clock.advance(minutes=19)
    later = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    stores.clock.advance(minutes=11)
    await airline.hold(ann, later.id, party(1))


async def test_cancelling_a_hold_frees_its_seats_once(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 2)
    booking = await airline.hold(ann, offer.id, party(2))
    cancelled = await airline.cancel(booking.reference, ann)
    assert cancelled.status is BookingStatus.CANCELLED
    assert (await airline.seat_map(flight.id, "economy")).count(SeatState.AVAILABLE) == 18
    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY].left == 18
    with pytest.raises(InvalidTransition):
        await airline.cancel(booking.reference, ann)
    bob = await customer(airline, "bob")
    with pytest.raises(NotFound):
        await airline.cancel(booking.reference, bob)


async def test_a_hold_expires_at_its_deadline_and_its_seats_are_free_at_once(
    stores: Stores,
) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann, bob = await customer(airline), await customer(airline, "bob")
    seat = [SeatChoice(flight_id=flight.id, passenger=0, seat="12F")]
    held = await airline.hold(
        ann, (await airline.offer(ann.user_id, [flight.id], "economy", 1)).id, party(1), seat
    )
    stores.clock.advance(minutes=25)
    offer = await airline.offer(bob.user_id, [flight.id], "economy", 1)
    stores.clock.advance(minutes=5)
    # Past the deadline: expired on read, before any sweep ran.
    assert (await airline.bookings.get(held.reference, ann)).status_at(
        stores.clock.now()
    ) is BookingStatus.EXPIRED
    assert (await airline.seat_map(flight.id, "economy")).count(SeatState.HELD) == 0
    with pytest.raises(InvalidTransition):
        await airline.cancel(held.reference, ann)
    # The seat of the lapsed hold can be taken at once; it was never given back to the count.
    taken = await airline.hold(bob, offer.id, party(1), seat)
    assert [s.seat for s in taken.seats] == ["12F"]
    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY].left == 17
    # The sweep marks the lapsed hold expired and frees nothing of bob's.
    assert await airline.bookings.expire_due() == 1
    assert await airline.bookings.expire_due() == 0
    stored = await stores.bookings.get(held.reference)
    assert stored.status is BookingStatus.EXPIRED
    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY].left == 17
    assert (await airline.seat_map(flight.id, "economy")).count(SeatState.HELD) == 1


async def test_the_sweep_gives_expired_seats_back_to_search(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 4)
    await airline.hold(ann, offer.id, party(4))
    stores.clock.advance(minutes=31)
    assert await airline.bookings.expire_due() == 1
    _, cabins = await stores.inventory.seats(flight.id)
    assert cabins[Cabin.ECONOMY].left == 18


async def test_bookings_are_listed_for_their_owner(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann, bob = await customer(airline), await customer(airline, "bob")
    made = []
    for who in (ann, bob, ann):
        offer = await airline.offer(who.user_id, [flight.id], "economy", 1)
        made.append(await airline.hold(who, offer.id, party(1)))
    page = await airline.bookings.list(ann, PageRequest(limit=1))
    assert [b.reference for b in page.items] == [made[0].reference]
    rest = await airline.bookings.list(ann, PageRequest(limit=5, after=page.after))
    assert [b.reference for b in rest.items] == [made[2].reference]
    admin = Principal(user_id="operator", role=Role.ADMIN)
    everyone = await airline.bookings.list(admin)
    assert [b.reference for b in everyone.items] == [b.reference for b in made]


async def test_a_connection_is_booked_on_both_flights(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    await add_places(stores, "CDG")
    onward = samples.flight(
        await stores.airplanes.get(flight.airplane_id),
        flight.arrives_at + timedelta(hours=2),
        number="AF23",
        origin="JFK",
        destination="CDG",
    )
    await stores.flights.add(onward)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id, onward.id], "business", 2)
    assert offer.total == (flight.fares[Cabin.BUSINESS] + onward.fares[Cabin.BUSINESS]) * 2
    booking = await airline.hold(ann, offer.id, party(2))
    assert sorted((s.flight_id, s.passenger) for s in booking.seats) == sorted(
        (f, p) for f in (flight.id, onward.id) for p in (0, 1)
    )
    for flight_id in (flight.id, onward.id):
        _, cabins = await stores.inventory.seats(flight_id)
        assert cabins[Cabin.BUSINESS].left == 2


async def test_a_flight_with_held_seats_keeps_its_airplane_and_cannot_be_deleted(
    stores: Stores,
) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    booking = await airline.hold(ann, offer.id, party(1))
    other = samples.airplane(layout=SMALL)
    await stores.airplanes.add(other)
    with pytest.raises(StillReferenced):
        await airline.flights.update(flight.id, airplane_id=other.id)
    with pytest.raises(StillReferenced):
        await airline.flights.delete(flight.id)
    await airline.cancel(booking.reference, ann)
    # Nothing held: the new airplane brings fresh seats.
    await airline.flights.update(flight.id, airplane_id=other.id)
    prepared, cabins = await stores.inventory.seats(flight.id)
    assert not prepared
    assert cabins[Cabin.ECONOMY] == (18, 18)
    await airline.offer(ann.user_id, [flight.id], "economy", 1)
    await airline.flights.delete(flight.id)


async def test_a_cancelled_flight_cannot_be_held(stores: Stores) -> None:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    await airline.flights.update(flight.id, status=FlightStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        await airline.hold(ann, offer.id, party(1))
    assert (await airline.seat_map(flight.id, "economy")).count(SeatState.HELD) == 0


async def test_search_and_offers_show_the_dynamic_price(stores: Stores) -> None:
    airline = stores.priced_by(DynamicPricing())
    flight = await scheduled(stores)
    ann = await customer(airline)
    query = SearchQuery(origin="LHR", destination="JFK", date=flight.departs_on, max_stops=0)
    base = flight.fares[Cabin.ECONOMY].minor_units
    # 30 days out is the standard window; an empty cabin is in the saver bucket.
    [quoted] = (await airline.search(query)).items
    assert quoted.price.minor_units == base
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 8)
    assert offer.total == quoted.price * 8
    await airline.hold(ann, offer.id, party(8))
    # 8 of 18 taken (44%): the classic bucket, 115%.
    [dearer] = (await airline.search(query)).items
    assert dearer.price.minor_units == base * 115 // 100
    # Ten days before departure: the late window on top, 115% * 115%.
    stores.clock.set(flight.departs_at - timedelta(days=10))
    [late] = (await airline.search(query)).items
    assert late.price.minor_units == (base * 115 * 115 + 5_000) // 10_000


async def test_every_taken_seat_of_a_full_cabin_is_seen(stores: Stores) -> None:
    # 990 economy seats, all sold but one: the hold reads every taken seat (as one list per
    # flight on the SQL stores, which MySQL would cut at 1 KiB unless told otherwise) and so
    # picks the last free one at the first try.
    big = SeatLayout(
        cabins=(CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=99, seats="ABC-DEFG-HJK"),)
    )
    airline = stores.airline
    flight = await scheduled(stores, big)
    ann = await customer(airline)
    await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)  # makes the seat rows
    last = "57G"
    if stores.database is None:
        catalog = stores.bookings.catalog  # type: ignore[attr-defined]
        for label, row in catalog.seat_rows[flight.id].items():
            row.state = SeatState.AVAILABLE if label == last else SeatState.SOLD
        catalog.seats_left[(flight.id, Cabin.ECONOMY)] = 1
    else:
        async with stores.database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE seats SET state = 'sold' WHERE flight_id = :f AND seat <> :s"),
                {"f": flight.id, "s": last},
            )
            await connection.execute(
                text("UPDATE flights SET seats_economy = 1 WHERE id = :f"), {"f": flight.id}
            )
    offer = await airline.offer(ann.user_id, [flight.id], Cabin.ECONOMY, 1)
    booking = await airline.hold(ann, offer.id, party(1))
    assert [seat.seat for seat in booking.seats] == [last]
