"""Use cases of cities through the facade on memory stores."""

from __future__ import annotations

import pytest

from airline_core import (
    Airline,
    AlreadyExists,
    CityFilter,
    FakeClock,
    InvalidRequest,
    NotFound,
    PageRequest,
    StillReferenced,
    SystemClock,
)
from airline_core.ids import is_id
from tests.core.samples import add_airports, broken_fields

UNKNOWN_ID = "01JDX0000000000000000000AA"


async def test_in_memory_airline_uses_the_given_clock(clock: FakeClock) -> None:
    async with Airline.in_memory(clock=clock) as airline:
        assert airline.clock is clock
        assert airline.flights.clock is clock


async def test_in_memory_airline_runs_on_the_system_clock_by_default() -> None:
    async with Airline.in_memory() as airline:
        assert isinstance(airline.clock, SystemClock)


async def test_in_memory_airlines_do_not_share_their_stores() -> None:
    async with Airline.in_memory() as first, Airline.in_memory() as second:
        await first.cities.create(code="LON", name="London", country="GB")
        assert (await second.cities.list()).items == ()


async def test_create_city_gives_it_an_id(airline: Airline) -> None:
    london = await airline.cities.create(code="LON", name="London", country="GB")
    assert is_id(london.id)
    assert await airline.cities.get(london.id) == london
    assert await airline.cities.get_by_code("LON") == london


async def test_create_city_rejects_bad_fields(airline: Airline) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await airline.cities.create(code="lon", name=" ", country="GB")
    assert broken_fields(caught.value) == ["code", "name"]
    assert (await airline.cities.list()).items == ()


async def test_city_code_is_taken_once(airline: Airline) -> None:
    await airline.cities.create(code="LON", name="London", country="GB")
    with pytest.raises(AlreadyExists, match="city LON already exists") as caught:
        await airline.cities.create(code="LON", name="Londinium", country="GB")
    assert broken_fields(caught.value) == ["code"]


async def test_unknown_city_is_not_found(airline: Airline) -> None:
    with pytest.raises(NotFound):
        await airline.cities.get(UNKNOWN_ID)
    with pytest.raises(NotFound, match="no city has code PAR"):
        await airline.cities.get_by_code("PAR")
    with pytest.raises(NotFound):
        await airline.cities.update(UNKNOWN_ID, name="Paris")
    with pytest.raises(NotFound):
        await airline.cities.delete(UNKNOWN_ID)


async def test_update_city_renames_it_and_keeps_its_code(airline: Airline) -> None:
    city = await airline.cities.create(code="LON", name="London", country="GB")
    renamed = await airline.cities.update(city.id, name="Greater London", country="GB")
    assert (renamed.id, renamed.code, renamed.name) == (city.id, "LON", "Greater London")
    assert await airline.cities.get(city.id) == renamed


async def test_update_city_without_changes_returns_it_unchanged(airline: Airline) -> None:
    city = await airline.cities.create(code="LON", name="London", country="GB")
    assert await airline.cities.update(city.id) == city
    assert await airline.cities.update(city.id, name="London") == city


async def test_update_city_rejects_bad_fields_and_keeps_it(airline: Airline) -> None:
    city = await airline.cities.create(code="LON", name="London", country="GB")
    with pytest.raises(InvalidRequest) as caught:
        await airline.cities.update(city.id, name="", country="gbr")
    assert broken_fields(caught.value) == ["name", "country"]
    assert await airline.cities.get(city.id) == city


async def test_delete_city_removes_it(airline: Airline) -> None:
    city = await airline.cities.create(code="LON", name="London", country="GB")
    await airline.cities.delete(city.id)
    with pytest.raises(NotFound):
        await airline.cities.get(city.id)


async def test_city_with_airports_cannot_be_deleted(airline: Airline) -> None:
    await add_airports(airline, "LHR")
    london = await airline.cities.get_by_code("LON")
    with pytest.raises(StillReferenced, match="still has airports"):
        await airline.cities.delete(london.id)
    assert await airline.cities.get(london.id) == london


async def test_city_can_be_deleted_once_its_airports_are_gone(airline: Airline) -> None:
    await add_airports(airline, "LHR")
    await airline.airports.delete("LHR")
    await airline.cities.delete((await airline.cities.get_by_code("LON")).id)
    assert (await airline.cities.list()).items == ()


async def test_list_cities_in_code_order(airline: Airline) -> None:
    for code, name in [("PAR", "Paris"), ("LON", "London"), ("NYC", "New York")]:
        await airline.cities.create(code=code, name=name, country="FR")
    page = await airline.cities.list()
    assert [city.code for city in page.items] == ["LON", "NYC", "PAR"]
    assert page.limit == 50
    assert (page.after, page.before) == (None, None)


async def test_list_cities_by_name_part_ignoring_case(airline: Airline) -> None:
    await airline.cities.create(code="LON", name="London", country="GB")
    await airline.cities.create(code="LDY", name="Londonderry", country="GB")
    await airline.cities.create(code="PAR", name="Paris", country="FR")
    page = await airline.cities.list(CityFilter(name="LONDON"))
    assert [city.code for city in page.items] == ["LDY", "LON"]
    page = await airline.cities.list(CityFilter(name="ris"))
    assert [city.code for city in page.items] == ["PAR"]


async def test_list_cities_by_code_and_country(airline: Airline) -> None:
    await airline.cities.create(code="LON", name="London", country="GB")
    await airline.cities.create(code="MAN", name="Manchester", country="GB")
    await airline.cities.create(code="PAR", name="Paris", country="FR")
    assert [c.code for c in (await airline.cities.list(CityFilter(country="GB"))).items] == [
        "LON",
        "MAN",
    ]
    assert [c.code for c in (await airline.cities.list(CityFilter(code="PAR"))).items] == ["PAR"]
    assert (await airline.cities.list(CityFilter(code="PAR", country="GB"))).items == ()


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 26])
async def test_paging_cities_both_ways_yields_each_once_in_order(
    airline: Airline, limit: int
) -> None:
    codes = [f"A{chr(ord('A') + i)}{chr(ord('Z') - i)}" for i in range(11)]
    for code in reversed(codes):
        await airline.cities.create(code=code, name=f"City {code}", country="GB")
    page = await airline.cities.list(page=PageRequest(limit=limit))
    forwards = [city.code for city in page.items]
    while page.after is not None:
        page = await airline.cities.list(page=PageRequest(limit=limit, after=page.after))
        forwards.extend(city.code for city in page.items)
    backwards = [city.code for city in page.items]
    while page.before is not None:
        page = await airline.cities.list(page=PageRequest(limit=limit, before=page.before))
        backwards[:0] = [city.code for city in page.items]
    assert forwards == sorted(codes)
    assert backwards == sorted(codes)


async def test_city_cursor_cannot_continue_another_filter(airline: Airline) -> None:
    for code in ("LON", "LDY", "LTN"):
        await airline.cities.create(code=code, name=f"London {code}", country="GB")
    page = await airline.cities.list(CityFilter(name="london"), PageRequest(limit=1))
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="belongs to another query") as caught:
        await airline.cities.list(CityFilter(name="LDY"), PageRequest(limit=1, after=page.after))
    assert broken_fields(caught.value) == ["after"]


async def test_city_cursor_cannot_page_airports(airline: Airline) -> None:
    for code in ("LON", "PAR"):
        await airline.cities.create(code=code, name=f"City {code}", country="GB")
    page = await airline.cities.list(page=PageRequest(limit=1))
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="belongs to another query"):
        await airline.airports.list(page=PageRequest(after=page.after))


async def test_garbage_cursor_is_rejected_by_a_list(airline: Airline) -> None:
    with pytest.raises(InvalidRequest, match="not a cursor this API made") as caught:
        await airline.cities.list(page=PageRequest(before="not-a-cursor"))
    assert broken_fields(caught.value) == ["before"]
