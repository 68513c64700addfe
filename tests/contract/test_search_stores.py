"""The search side of the catalog stores (``FlightStore.legs``, ``AirportStore.serving``), and
the whole search on each backend: memory, SQLite and MariaDB answer alike."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from airline_core import Cabin, CabinLayout, FlightStatus, PageRequest, SearchQuery, SeatLayout
from airline_core.search import LegQuery
from tests.conftest import TEST_NOW, Stores
from tests.contract import samples
from tests.contract.test_catalog_stores import add_places

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)
H = timedelta(hours=1)
DEPARTURE = (TEST_NOW + 3 * DAY).replace(hour=9, minute=0, second=0, microsecond=0)


def question(**changes: object) -> LegQuery:
    values: dict[str, object] = {"cabin": Cabin.ECONOMY, "seats": 1, "departs_after": TEST_NOW}
    return LegQuery(**{**values, **changes})  # type: ignore[arg-type]


async def numbers(stores: Stores, query: LegQuery) -> list[str]:
    return sorted(leg.number for leg in await stores.flights.legs(query))


async def test_airports_serving_a_code(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK")
    await stores.airports.add(samples.airport("LGW", city_code="LON"))
    assert [a.code for a in await stores.airports.serving("LON")] == ["LGW", "LHR"]
    assert [a.code for a in await stores.airports.serving("LHR")] == ["LHR"]
    assert [a.code for a in await stores.airports.serving("NYC")] == ["JFK"]
    assert list(await stores.airports.serving("XYZ")) == []


async def test_a_leg_carries_the_cabins_fare_seats_and_zones(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK")
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    flight = samples.flight(plane, DEPARTURE)
    await stores.flights.add(flight)
    [economy] = await stores.flights.legs(question())
    assert economy.flight_id == flight.id
    assert (economy.number, economy.airline, economy.origin, economy.destination) == (
        "BA117",
        "BA",
        "LHR",
        "JFK",
    )
    assert (economy.departs_at, economy.arrives_at) == (flight.departs_at, flight.arrives_at)
    assert (economy.origin_time_zone, economy.destination_time_zone) == (
        "Europe/London",
        "America/New_York",
    )
    assert (economy.fare_minor_units, economy.currency) == (20_000, "GBP")
    assert economy.seats_left == 26 * 6
    [business] = await stores.flights.legs(question(cabin=Cabin.BUSINESS))
    assert (business.fare_minor_units, business.seats_left) == (40_000, 4 * 4)
    assert await stores.flights.legs(question(cabin=Cabin.FIRST)) == []


async def test_legs_answer_each_condition(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK", "CDG")
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    await stores.flights.add_many(
        [
            samples.flight(plane, DEPARTURE, number="BA1"),
            samples.flight(plane, DEPARTURE + H, number="AF2", origin="CDG"),
            samples.flight(plane, DEPARTURE + DAY, number="BA3", destination="CDG", hours=1),
            samples.flight(plane, DEPARTURE + 2 * H, number="BA4", status=FlightStatus.CANCELLED),
            samples.flight(plane, TEST_NOW + H, number="BA5"),
        ]
    )
    assert await numbers(stores, question()) == ["AF2", "BA1", "BA3", "BA5"]
    assert await numbers(stores, question(origins=frozenset({"CDG"}))) == ["AF2"]
    assert await numbers(stores, question(destinations=frozenset({"CDG"}))) == ["BA3"]
    assert await numbers(stores, question(airlines=frozenset({"AF"}))) == ["AF2"]
    on_day = question(departs_on=DEPARTURE.date())
    assert await numbers(stores, on_day) == ["AF2", "BA1"]
    # Both time bounds include their instant; departs_after excludes its own.
    window = question(departs_from=DEPARTURE, departs_until=DEPARTURE + H)
    assert await numbers(stores, window) == ["AF2", "BA1"]
    assert await numbers(stores, question(departs_after=TEST_NOW + H)) == ["AF2", "BA1", "BA3"]
    # Of the two lower bounds the later one holds, whichever it is.
    later_after = question(
        departs_after=DEPARTURE, departs_from=TEST_NOW, departs_until=DEPARTURE + H
    )
    assert await numbers(stores, later_after) == ["AF2"]
    assert await numbers(stores, question(seats=156)) == ["AF2", "BA1", "BA3", "BA5"]
    assert await numbers(stores, question(seats=157)) == []


async def test_a_new_airplane_brings_its_seats(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK")
    small = samples.airplane(
        "Embraer E190",
        SeatLayout(
            cabins=(
                CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=2, seats="A-CD"),
                CabinLayout(cabin=Cabin.ECONOMY, first_row=5, last_row=20, seats="AC-DF"),
            )
        ),
    )
    big = samples.airplane()
    await stores.airplanes.add(small)
    await stores.airplanes.add(big)
    flight = samples.flight(small, DEPARTURE)
    await stores.flights.add(flight)
    assert [leg.seats_left for leg in await stores.flights.legs(question())] == [64]
    await stores.flights.update(attrs.evolve(flight, airplane_id=big.id))
    assert [leg.seats_left for leg in await stores.flights.legs(question())] == [156]


async def test_the_same_search_on_every_backend(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK", "CDG")
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    await stores.flights.add_many(
        [
            samples.flight(plane, DEPARTURE, number="BA117"),
            samples.flight(plane, DEPARTURE, number="BA304", destination="CDG", hours=1),
            samples.flight(plane, DEPARTURE + 2 * H, number="AF22", origin="CDG"),
            samples.flight(plane, DEPARTURE + 3 * H, number="AF24", origin="CDG"),
            samples.flight(plane, DEPARTURE + 8 * H, number="AF26", origin="CDG"),
        ]
    )
    airline = stores.airline
    query = SearchQuery(origin="LON", destination="NYC", date=DEPARTURE.date())
    page = await airline.search(query, PageRequest(limit=2))
    assert [[leg.number for leg in it.segments] for it in page.items] == [
        ["BA117"],
        ["BA304", "AF22"],
    ]
    rest = await airline.search(query, PageRequest(limit=2, after=page.after))
    assert [[leg.number for leg in it.segments] for it in rest.items] == [["BA304", "AF24"]]
    assert rest.after is None
