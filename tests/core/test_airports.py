"""Use cases of airports: they need their city, keep their code, and guard their flights."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airline_core import (
    Airline,
    AirportFilter,
    AlreadyExists,
    InvalidRequest,
    NotFound,
    PageRequest,
    StillReferenced,
)
from tests.core.samples import NOW, add_airplane, add_airports, broken_fields, schedule


def heathrow(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "LHR",
        "name": "Heathrow",
        "city": "LON",
        "country": "GB",
        "time_zone": "Europe/London",
        "latitude": 51.47,
        "longitude": -0.45,
    }
    return {**values, **changes}


@pytest.fixture
async def london(airline: Airline) -> Airline:
    await airline.cities.create(code="LON", name="London", country="GB")
    return airline


async def test_create_airport_stores_it_by_code(london: Airline) -> None:
    made = await london.airports.create(**heathrow())
    assert await london.airports.get("LHR") == made
    assert made.zone.key == "Europe/London"


async def test_airport_needs_an_existing_city(airline: Airline) -> None:
    with pytest.raises(InvalidRequest, match="no city has code LON") as caught:
        await airline.airports.create(**heathrow())
    assert broken_fields(caught.value) == ["city"]
    with pytest.raises(NotFound):
        await airline.airports.get("LHR")


async def test_airport_code_is_taken_once(london: Airline) -> None:
    await london.airports.create(**heathrow())
    with pytest.raises(AlreadyExists, match="airport LHR already exists") as caught:
        await london.airports.create(**heathrow(name="Heathrow Again"))
    assert broken_fields(caught.value) == ["code"]
    assert (await london.airports.get("LHR")).name == "Heathrow"


async def test_create_airport_rejects_bad_fields(london: Airline) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await london.airports.create(**heathrow(time_zone="Europe/Londres", latitude=91))
    assert broken_fields(caught.value) == ["time_zone", "latitude"]


async def test_unknown_airport_is_not_found(airline: Airline) -> None:
    with pytest.raises(NotFound, match="no airport has code XXX"):
        await airline.airports.get("XXX")
    with pytest.raises(NotFound):
        await airline.airports.update("XXX", name="Nowhere")
    with pytest.raises(NotFound):
        await airline.airports.delete("XXX")


async def test_update_airport_changes_the_given_fields(london: Airline) -> None:
    await london.airports.create(**heathrow())
    updated = await london.airports.update(
        "LHR", name="London Heathrow", latitude=0.0, longitude=0.0
    )
    assert (updated.code, updated.name, updated.latitude, updated.longitude) == (
        "LHR",
        "London Heathrow",
        0.0,
        0.0,
    )
    assert await london.airports.get("LHR") == updated


async def test_update_airport_without_changes_returns_it_unchanged(london: Airline) -> None:
    made = await london.airports.create(**heathrow())
    assert await london.airports.update("LHR") == made
    assert await london.airports.update("LHR", name="Heathrow") == made


async def test_update_airport_rejects_bad_fields(london: Airline) -> None:
    made = await london.airports.create(**heathrow())
    with pytest.raises(InvalidRequest) as caught:
        await london.airports.update("LHR", longitude=200.0)
    assert broken_fields(caught.value) == ["longitude"]
    assert await london.airports.get("LHR") == made


async def test_airport_can_move_to_another_existing_city(london: Airline) -> None:
    await london.cities.create(code="LTN", name="Luton", country="GB")
    await london.airports.create(**heathrow())
    assert (await london.airports.update("LHR", city="LTN")).city == "LTN"


async def test_airport_cannot_move_to_an_unknown_city(london: Airline) -> None:
    await london.airports.create(**heathrow())
    with pytest.raises(InvalidRequest, match="no city has code PAR") as caught:
        await london.airports.update("LHR", city="PAR")
    assert broken_fields(caught.value) == ["city"]
    assert (await london.airports.get("LHR")).city == "LON"


async def test_airport_without_flights_may_change_its_time_zone(london: Airline) -> None:
    await london.airports.create(**heathrow())
    assert (await london.airports.update("LHR", time_zone="UTC")).time_zone == "UTC"


@pytest.mark.parametrize("code", ["LHR", "JFK"])
async def test_airport_with_flights_keeps_its_time_zone(airline: Airline, code: str) -> None:
    await add_airports(airline, "LHR", "JFK")
    await schedule(airline, await add_airplane(airline), NOW + timedelta(days=3))
    with pytest.raises(StillReferenced, match="time zone cannot change") as caught:
        await airline.airports.update(code, time_zone="UTC")
    assert broken_fields(caught.value) == ["time_zone"]
    assert (await airline.airports.get(code)).time_zone != "UTC"


async def test_airport_with_flights_may_change_other_fields(airline: Airline) -> None:
    await add_airports(airline, "LHR", "JFK")
    await schedule(airline, await add_airplane(airline), NOW + timedelta(days=3))
    assert (await airline.airports.update("LHR", name="London Heathrow")).name == (
        "London Heathrow"
    )


async def test_delete_airport_removes_it(london: Airline) -> None:
    await london.airports.create(**heathrow())
    await london.airports.delete("LHR")
    with pytest.raises(NotFound):
        await london.airports.get("LHR")


@pytest.mark.parametrize("code", ["LHR", "JFK"])
async def test_airport_with_flights_cannot_be_deleted(airline: Airline, code: str) -> None:
    await add_airports(airline, "LHR", "JFK")
    await schedule(airline, await add_airplane(airline), NOW + timedelta(days=3))
    with pytest.raises(StillReferenced, match="still has flights"):
        await airline.airports.delete(code)
    assert (await airline.airports.get(code)).code == code


async def test_airport_can_be_deleted_once_its_flights_are_gone(airline: Airline) -> None:
    await add_airports(airline, "LHR", "JFK")
    made = await schedule(airline, await add_airplane(airline), NOW + timedelta(days=3))
    await airline.flights.delete(made.id)
    await airline.airports.delete("JFK")
    assert [a.code for a in (await airline.airports.list()).items] == ["LHR"]


async def test_list_airports_by_filter(airline: Airline) -> None:
    await add_airports(airline, "LHR", "LGW", "CDG", "JFK")
    codes = [a.code for a in (await airline.airports.list()).items]
    assert codes == ["CDG", "JFK", "LGW", "LHR"]

    async def listed(criteria: AirportFilter) -> list[str]:
        return [a.code for a in (await airline.airports.list(criteria)).items]

    assert await listed(AirportFilter(city="LON")) == ["LGW", "LHR"]
    assert await listed(AirportFilter(country="US")) == ["JFK"]
    assert await listed(AirportFilter(code="CDG")) == ["CDG"]
    assert await listed(AirportFilter(name="lhr AIR")) == ["LHR"]
    assert await listed(AirportFilter(name="airport", city="PAR")) == ["CDG"]
    assert await listed(AirportFilter(city="TYO")) == []


async def test_paging_airports_yields_each_once_in_order(airline: Airline) -> None:
    await add_airports(airline, "NRT", "LHR", "CDG", "LGW", "JFK")
    seen = []
    page = await airline.airports.list(page=PageRequest(limit=2))
    seen.extend(a.code for a in page.items)
    while page.after is not None:
        page = await airline.airports.list(page=PageRequest(limit=2, after=page.after))
        seen.extend(a.code for a in page.items)
    assert seen == ["CDG", "JFK", "LGW", "LHR", "NRT"]
