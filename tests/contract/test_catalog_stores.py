"""One contract for every catalog store: memory, SQLite and MariaDB run the same tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import attrs
import pytest

from airline_core import (
    AirplaneFilter,
    AirportFilter,
    AlreadyExists,
    CityFilter,
    FlightFilter,
    FlightStatus,
    NotFound,
    Page,
    PageRequest,
    StillReferenced,
)
from airline_core.catalog.model import Cabin, CabinLayout, SeatLayout
from tests.conftest import TEST_NOW, Stores
from tests.contract import samples

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)


async def walk(
    read: Callable[[PageRequest], Awaitable[Page[Any]]], limit: int
) -> tuple[list[Any], list[Any]]:
    """Every item, paging forwards from the start and then backwards from the end."""
    forwards: list[Any] = []
    page = await read(PageRequest(limit=limit))
    forwards.extend(page.items)
    while page.after is not None:
        page = await read(PageRequest(limit=limit, after=page.after))
        forwards.extend(page.items)
    backwards: list[Any] = list(page.items)
    while page.before is not None:
        page = await read(PageRequest(limit=limit, before=page.before))
        backwards[:0] = page.items
    return forwards, backwards


async def add_places(stores: Stores, *codes: str) -> None:
    for code in codes:
        home, country = samples.CITIES[code]
        if await stores.cities.find_by_code(home) is None:
            await stores.cities.add(samples.city(home, f"City {home}", country))
        await stores.airports.add(samples.airport(code))


# Cities ---------------------------------------------------------------------------------------


async def test_city_round_trips(stores: Stores) -> None:
    london = samples.city()
    await stores.cities.add(london)
    assert await stores.cities.get(london.id) == london
    assert await stores.cities.find_by_code("LON") == london
    assert await stores.cities.find_by_code("PAR") is None


async def test_unknown_city_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.cities.get("01JDX0000000000000000000AA")
    with pytest.raises(NotFound):
        await stores.cities.delete("01JDX0000000000000000000AA")
    with pytest.raises(NotFound):
        await stores.cities.update(samples.city())


async def test_city_code_is_unique(stores: Stores) -> None:
    await stores.cities.add(samples.city())
    with pytest.raises(AlreadyExists):
        await stores.cities.add(samples.city(name="Londinium"))


async def test_city_update_replaces_fields(stores: Stores) -> None:
    london = samples.city()
    await stores.cities.add(london)
    renamed = attrs.evolve(london, name="Greater London")
    await stores.cities.update(renamed)
    assert await stores.cities.get(london.id) == renamed


async def test_city_with_airports_cannot_be_deleted(stores: Stores) -> None:
    await add_places(stores, "LHR")
    london = await stores.cities.find_by_code("LON")
    assert london is not None
    with pytest.raises(StillReferenced):
        await stores.cities.delete(london.id)
    await stores.airports.delete("LHR")
    await stores.cities.delete(london.id)
    assert await stores.cities.find_by_code("LON") is None


async def test_city_list_filters(stores: Stores) -> None:
    for code, name, country in [
        ("LON", "London", "GB"),
        ("LAX", "Los Angeles", "US"),
        ("PAR", "Paris", "FR"),
        ("PCT", "100% Town", "US"),
    ]:
        await stores.cities.add(samples.city(code, name, country))
    airline = stores.airline

    async def codes(criteria: CityFilter) -> list[str]:
        return [city.code for city in (await airline.cities.list(criteria)).items]

    assert await codes(CityFilter()) == ["LAX", "LON", "PAR", "PCT"]
    assert await codes(CityFilter(name="lon")) == ["LON"]
    assert await codes(CityFilter(name="o")) == ["LAX", "LON", "PCT"]
    assert await codes(CityFilter(name="%")) == ["PCT"]
    assert await codes(CityFilter(name="_")) == []
    assert await codes(CityFilter(country="US")) == ["LAX", "PCT"]
    assert await codes(CityFilter(code="PAR")) == ["PAR"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
async def test_city_pages_cover_each_city_once_in_order(stores: Stores, limit: int) -> None:
    names = [f"{a}{b}{c}" for a, b, c in zip("ABCDEFG", "HIJKLMN", "OPQRSTU", strict=True)]
    for code in reversed(names):
        await stores.cities.add(samples.city(code, f"City {code}", "GB"))
    forwards, backwards = await walk(
        lambda page: stores.airline.cities.list(CityFilter(), page), limit
    )
    assert [c.code for c in forwards] == sorted(names)
    assert [c.code for c in backwards] == sorted(names)


# Airports -------------------------------------------------------------------------------------


async def test_airport_round_trips(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK")
    heathrow = samples.airport("LHR")
    assert await stores.airports.get("LHR") == heathrow
    assert await stores.airports.get_many(["LHR", "XXX", "JFK"]) == {
        "LHR": heathrow,
        "JFK": samples.airport("JFK"),
    }
    assert await stores.airports.get_many([]) == {}


async def test_airport_code_is_unique(stores: Stores) -> None:
    await add_places(stores, "LHR")
    with pytest.raises(AlreadyExists):
        await stores.airports.add(samples.airport("LHR", name="Heathrow again"))


async def test_airport_needs_its_city(stores: Stores) -> None:
    with pytest.raises(StillReferenced):
        await stores.airports.add(samples.airport("LHR"))
    assert await stores.airports.get_many(["LHR"]) == {}
    await add_places(stores, "LHR")
    with pytest.raises(StillReferenced):
        await stores.airports.update(samples.airport("LHR", city_code="ZZZ"))
    assert (await stores.airports.get("LHR")).city == "LON"


async def test_airport_update_and_missing(stores: Stores) -> None:
    await add_places(stores, "LHR")
    renamed = samples.airport("LHR", name="London Heathrow")
    await stores.airports.update(renamed)
    assert await stores.airports.get("LHR") == renamed
    with pytest.raises(NotFound):
        await stores.airports.update(samples.airport("CDG"))
    with pytest.raises(NotFound):
        await stores.airports.get("CDG")
    with pytest.raises(NotFound):
        await stores.airports.delete("CDG")


async def test_airport_list_filters_and_pages(stores: Stores) -> None:
    await add_places(stores, "LHR", "JFK", "CDG")
    airline = stores.airline

    async def codes(criteria: AirportFilter) -> list[str]:
        return [a.code for a in (await airline.airports.list(criteria)).items]

    assert await codes(AirportFilter()) == ["CDG", "JFK", "LHR"]
    assert await codes(AirportFilter(name="jfk INTER")) == ["JFK"]
    assert await codes(AirportFilter(city="LON")) == ["LHR"]
    assert await codes(AirportFilter(country="FR")) == ["CDG"]
    assert await codes(AirportFilter(code="JFK")) == ["JFK"]
    forwards, backwards = await walk(lambda page: airline.airports.list(AirportFilter(), page), 2)
    assert [a.code for a in forwards] == [a.code for a in backwards] == ["CDG", "JFK", "LHR"]


# Airplanes ------------------------------------------------------------------------------------


async def test_airplane_round_trips_its_layout(stores: Stores) -> None:
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    stored = await stores.airplanes.get(plane.id)
    assert stored == plane
    assert stored.layout.capacity == 4 * 4 + 26 * 6


async def test_airplane_update_delete_and_missing(stores: Stores) -> None:
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    single = SeatLayout(
        cabins=[CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=30, seats="ABC-DEF")]
    )
    changed = attrs.evolve(plane, model="A320neo 180Y", layout=single)
    await stores.airplanes.update(changed)
    assert await stores.airplanes.get(plane.id) == changed
    await stores.airplanes.delete(plane.id)
    for action in (stores.airplanes.get, stores.airplanes.delete):
        with pytest.raises(NotFound):
            await action(plane.id)
    with pytest.raises(NotFound):
        await stores.airplanes.update(changed)


async def test_airplane_list_by_model_in_creation_order(stores: Stores) -> None:
    planes = [samples.airplane(model) for model in ("Airbus A320neo", "Boeing 787-9", "A321")]
    for plane in planes:
        await stores.airplanes.add(plane)
    airline = stores.airline
    found = await airline.airplanes.list(AirplaneFilter(model="a32"))
    assert [p.model for p in found.items] == ["Airbus A320neo", "A321"]
    forwards, backwards = await walk(lambda page: airline.airplanes.list(AirplaneFilter(), page), 2)
    assert [p.id for p in forwards] == [p.id for p in backwards] == sorted(p.id for p in planes)


# Flights --------------------------------------------------------------------------------------


async def scheduled(stores: Stores) -> samples.Airplane:
    await add_places(stores, "LHR", "JFK", "CDG")
    plane = samples.airplane()
    await stores.airplanes.add(plane)
    return plane


async def test_flight_round_trips(stores: Stores) -> None:
    plane = await scheduled(stores)
    ba117 = samples.flight(plane, TEST_NOW + DAY)
    await stores.flights.add(ba117)
    stored = await stores.flights.get(ba117.id)
    assert stored == ba117
    assert stored.departs_at.tzinfo is not None
    assert stored.fares[Cabin.BUSINESS].minor_units == 40_000


async def test_flight_number_is_unique_per_local_date(stores: Stores) -> None:
    plane = await scheduled(stores)
    await stores.flights.add(samples.flight(plane, TEST_NOW + DAY))
    with pytest.raises(AlreadyExists):
        await stores.flights.add(samples.flight(plane, TEST_NOW + DAY + timedelta(hours=2)))
    await stores.flights.add(samples.flight(plane, TEST_NOW + 2 * DAY))


async def test_flight_needs_its_airplane_and_airports(stores: Stores) -> None:
    plane = await scheduled(stores)
    with pytest.raises(StillReferenced):
        await stores.flights.add(samples.flight(samples.airplane(), TEST_NOW + DAY))
    await stores.airports.delete("CDG")
    with pytest.raises(StillReferenced):
        await stores.flights.add(samples.flight(plane, TEST_NOW + DAY, destination="CDG"))
    assert not await stores.flights.uses_airplane(plane.id)


async def test_add_many_is_all_or_nothing(stores: Stores) -> None:
    plane = await scheduled(stores)
    batch = [
        samples.flight(plane, TEST_NOW + day * DAY, number=f"BA{100 + day}") for day in range(1, 6)
    ]
    clash = samples.flight(plane, TEST_NOW + DAY, number="BA101")
    with pytest.raises(AlreadyExists):
        await stores.flights.add_many([*batch, clash])
    assert not (await stores.airline.flights.list()).items
    await stores.flights.add_many(batch)
    assert len((await stores.airline.flights.list()).items) == 5


async def test_flight_update_moves_its_local_date(stores: Stores) -> None:
    plane = await scheduled(stores)
    first = samples.flight(plane, TEST_NOW + DAY)
    second = samples.flight(plane, TEST_NOW + 2 * DAY)
    await stores.flights.add_many([first, second])
    later = attrs.evolve(
        first,
        departs_at=first.departs_at + 3 * DAY,
        arrives_at=first.arrives_at + 3 * DAY,
        status=FlightStatus.DELAYED,
    )
    await stores.flights.update(later)
    assert await stores.flights.get(first.id) == later
    with pytest.raises(AlreadyExists):
        await stores.flights.update(
            attrs.evolve(later, departs_at=second.departs_at, arrives_at=second.arrives_at)
        )
    with pytest.raises(NotFound):
        await stores.flights.update(samples.flight(plane, TEST_NOW + 9 * DAY))


async def test_flights_hold_on_to_airplanes_and_airports(stores: Stores) -> None:
    plane = await scheduled(stores)
    ba117 = samples.flight(plane, TEST_NOW + DAY)
    await stores.flights.add(ba117)
    assert await stores.flights.uses_airplane(plane.id)
    assert await stores.flights.uses_airport("JFK")
    assert not await stores.flights.uses_airport("CDG")
    with pytest.raises(StillReferenced):
        await stores.airplanes.delete(plane.id)
    with pytest.raises(StillReferenced):
        await stores.airports.delete("JFK")
    await stores.flights.delete(ba117.id)
    with pytest.raises(NotFound):
        await stores.flights.delete(ba117.id)
    await stores.airports.delete("JFK")
    await stores.airplanes.delete(plane.id)


async def test_flight_list_filters(stores: Stores) -> None:
    plane = await scheduled(stores)
    # 04:30 UTC on day 2 is 23:30 on day 1 in New York: departs_on is New York's date.
    late = TEST_NOW.replace(hour=4, minute=30) + 2 * DAY
    flights = [
        samples.flight(plane, TEST_NOW + DAY, number="BA117"),
        samples.flight(plane, TEST_NOW + DAY, number="AF22", destination="CDG", hours=1),
        samples.flight(plane, late, number="AA100", origin="JFK", destination="LHR"),
        samples.flight(plane, TEST_NOW + 2 * DAY, number="BA117", status=FlightStatus.CANCELLED),
    ]
    await stores.flights.add_many(flights)
    airline = stores.airline

    async def numbers(**criteria: Any) -> list[tuple[str, date]]:
        page = await airline.flights.list(FlightFilter(**criteria))
        return [(f.number, f.departs_on) for f in page.items]

    day1 = (TEST_NOW + DAY).date()
    assert await numbers(origin="JFK") == [("AA100", day1)]
    assert await numbers(departs_on=day1) == [("BA117", day1), ("AF22", day1), ("AA100", day1)]
    assert await numbers(airline="BA") == [("BA117", day1), ("BA117", day1 + DAY)]
    assert await numbers(status=FlightStatus.CANCELLED) == [("BA117", day1 + DAY)]
    assert await numbers(number="AF22", destination="CDG") == [("AF22", day1)]


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_flight_pages_follow_departure_then_id(stores: Stores, limit: int) -> None:
    plane = await scheduled(stores)
    flights = [
        samples.flight(plane, TEST_NOW + (day % 3) * DAY + DAY, number=f"BA{day}")
        for day in range(9)
    ]
    await stores.flights.add_many(flights)
    expected = sorted(flights, key=lambda f: (f.departs_at, f.id))
    forwards, backwards = await walk(
        lambda page: stores.airline.flights.list(FlightFilter(), page), limit
    )
    assert [f.id for f in forwards] == [f.id for f in expected]
    assert [f.id for f in backwards] == [f.id for f in expected]
