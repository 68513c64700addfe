"""Use cases of airplanes: layouts may change freely until flights depend on their cabins."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from airline_core import (
    Airline,
    AirplaneFilter,
    Cabin,
    CabinLayout,
    InvalidRequest,
    NotFound,
    PageRequest,
    SeatLayout,
    StillReferenced,
)
from airline_core.ids import is_id
from tests.core.samples import (
    ECONOMY_ONLY,
    NOW,
    TWO_CABINS,
    add_airplane,
    add_airports,
    broken_fields,
    schedule,
)

UNKNOWN_ID = "01JDX0000000000000000000AA"
WIDER_TWO_CABINS = SeatLayout(
    cabins=(
        CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=6, seats="AC-DF"),
        CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=40, seats="ABC-DEF"),
    )
)


async def with_a_flight(airline: Airline) -> str:
    await add_airports(airline, "LHR", "JFK")
    plane = await add_airplane(airline, TWO_CABINS)
    await schedule(airline, plane, NOW + timedelta(days=3))
    return plane.id


async def test_create_airplane_gives_it_an_id(airline: Airline) -> None:
    plane = await airline.airplanes.create(model="Airbus A321neo", layout=TWO_CABINS)
    assert is_id(plane.id)
    assert await airline.airplanes.get(plane.id) == plane


async def test_create_airplane_rejects_a_bad_model(airline: Airline) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await airline.airplanes.create(model=" ", layout=TWO_CABINS)
    assert broken_fields(caught.value) == ["model"]
    assert (await airline.airplanes.list()).items == ()


async def test_unknown_airplane_is_not_found(airline: Airline) -> None:
    with pytest.raises(NotFound, match="no airplane has id"):
        await airline.airplanes.get(UNKNOWN_ID)
    with pytest.raises(NotFound):
        await airline.airplanes.update(UNKNOWN_ID, model="Boeing 787")
    with pytest.raises(NotFound):
        await airline.airplanes.delete(UNKNOWN_ID)


async def test_update_airplane_renames_it(airline: Airline) -> None:
    plane = await add_airplane(airline)
    renamed = await airline.airplanes.update(plane.id, model="Airbus A321XLR")
    assert renamed.model == "Airbus A321XLR"
    assert renamed.layout == plane.layout
    assert await airline.airplanes.get(plane.id) == renamed


async def test_update_airplane_without_changes_returns_it_unchanged(airline: Airline) -> None:
    plane = await add_airplane(airline)
    assert await airline.airplanes.update(plane.id) == plane
    assert await airline.airplanes.update(plane.id, layout=TWO_CABINS) == plane


async def test_update_airplane_rejects_a_bad_model(airline: Airline) -> None:
    plane = await add_airplane(airline)
    with pytest.raises(InvalidRequest) as caught:
        await airline.airplanes.update(plane.id, model="")
    assert broken_fields(caught.value) == ["model"]


async def test_airplane_without_flights_may_change_its_cabins(airline: Airline) -> None:
    plane = await add_airplane(airline, TWO_CABINS)
    updated = await airline.airplanes.update(plane.id, layout=ECONOMY_ONLY)
    assert updated.layout.cabin_classes == frozenset({Cabin.ECONOMY})


async def test_airplane_with_flights_keeps_its_cabins(airline: Airline) -> None:
    plane_id = await with_a_flight(airline)
    with pytest.raises(StillReferenced, match="must keep the same cabins") as caught:
        await airline.airplanes.update(plane_id, layout=ECONOMY_ONLY)
    assert broken_fields(caught.value) == ["layout"]
    assert (await airline.airplanes.get(plane_id)).layout == TWO_CABINS


async def test_airplane_with_flights_keeps_its_seats(airline: Airline) -> None:
    plane_id = await with_a_flight(airline)
    with pytest.raises(StillReferenced, match="must keep the same seats") as caught:
        await airline.airplanes.update(plane_id, layout=WIDER_TWO_CABINS)
    assert broken_fields(caught.value) == ["layout"]


async def test_airplane_with_flights_may_move_its_exit_rows(airline: Airline) -> None:
    plane_id = await with_a_flight(airline)
    moved = SeatLayout(
        cabins=[
            attrs.evolve(cabin, exit_rows=(cabin.first_row,)) if cabin.cabin is Cabin.ECONOMY
            else cabin
            for cabin in TWO_CABINS.cabins
        ]
    )  # fmt: skip
    updated = await airline.airplanes.update(plane_id, layout=moved)
    assert updated.layout.capacity == TWO_CABINS.capacity


async def test_airplane_without_flights_may_resize(airline: Airline) -> None:
    plane = await add_airplane(airline, TWO_CABINS)
    updated = await airline.airplanes.update(plane.id, layout=WIDER_TWO_CABINS)
    assert updated.layout.capacity == WIDER_TWO_CABINS.capacity


async def test_delete_airplane_removes_it(airline: Airline) -> None:
    plane = await add_airplane(airline)
    await airline.airplanes.delete(plane.id)
    with pytest.raises(NotFound):
        await airline.airplanes.get(plane.id)


async def test_airplane_with_flights_cannot_be_deleted(airline: Airline) -> None:
    plane_id = await with_a_flight(airline)
    with pytest.raises(StillReferenced, match="still flies flights"):
        await airline.airplanes.delete(plane_id)
    assert (await airline.airplanes.get(plane_id)).id == plane_id


async def test_list_airplanes_in_creation_order_by_model_part(airline: Airline) -> None:
    first = await airline.airplanes.create(model="Airbus A320neo", layout=ECONOMY_ONLY)
    second = await airline.airplanes.create(model="Boeing 737 MAX 8", layout=ECONOMY_ONLY)
    third = await airline.airplanes.create(model="Airbus A350-900", layout=TWO_CABINS)
    assert (await airline.airplanes.list()).items == (first, second, third)
    assert (await airline.airplanes.list(AirplaneFilter(model="AIRBUS"))).items == (first, third)
    assert (await airline.airplanes.list(AirplaneFilter(model="737"))).items == (second,)
    assert (await airline.airplanes.list(AirplaneFilter(model="Embraer"))).items == ()


@pytest.mark.parametrize("limit", [1, 2, 4])
async def test_paging_airplanes_yields_each_once_in_order(airline: Airline, limit: int) -> None:
    made = [
        await airline.airplanes.create(model=f"Model {n}", layout=ECONOMY_ONLY) for n in range(7)
    ]
    seen = []
    page = await airline.airplanes.list(page=PageRequest(limit=limit))
    seen.extend(page.items)
    while page.after is not None:
        page = await airline.airplanes.list(page=PageRequest(limit=limit, after=page.after))
        seen.extend(page.items)
    assert seen == made
