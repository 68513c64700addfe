"""``GET /api/v1/search/flights`` over HTTP: the answer's shape, paging, and every bad input."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from airline_runtime.http.schemas import local_instant
from tests.conftest import TEST_NOW
from tests.runtime.conftest import (
    API,
    DEPARTURE,
    build_catalog,
    fields,
    flight_body,
    ok,
    problem,
)

pytestmark = pytest.mark.anyio

SEARCH = f"{API}/search/flights"
DAY = DEPARTURE.date().isoformat()


@pytest.fixture
async def schedule(client: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    """London to New York direct twice and once via Paris, as an admin made them."""
    plane = await build_catalog(client)
    ok(
        await client.post(f"{API}/cities", json={"code": "PAR", "name": "Paris", "country": "FR"}),
        201,
    )
    paris = {
        "code": "CDG",
        "name": "Paris Charles de Gaulle Airport",
        "city": "PAR",
        "country": "FR",
        "time_zone": "Europe/Paris",
        "latitude": 49.0,
        "longitude": 2.5,
    }
    ok(await client.post(f"{API}/airports", json=paris), 201)
    later = DEPARTURE + timedelta(hours=2)
    for body in (
        flight_body(plane),
        flight_body(
            plane,
            number="BA115",
            departs_at=later.isoformat(),
            arrives_at=(later + timedelta(hours=8)).isoformat(),
        ),
        flight_body(
            plane,
            number="BA304",
            destination="CDG",
            arrives_at=(DEPARTURE + timedelta(hours=1)).isoformat(),
            fares={
                "economy": {"amount": "90.00", "currency": "GBP"},
                "business": {"amount": "400.00", "currency": "GBP"},
            },
        ),
        flight_body(
            plane,
            number="BA229",
            origin="CDG",
            departs_at=(DEPARTURE + timedelta(hours=3)).isoformat(),
            arrives_at=(DEPARTURE + timedelta(hours=11)).isoformat(),
            fares={
                "economy": {"amount": "200.00", "currency": "GBP"},
                "business": {"amount": "900.00", "currency": "GBP"},
            },
        ),
    ):
        ok(await client.post(f"{API}/flights", json=body), 201)
    client.headers.pop("Authorization")  # search is public
    return client


async def test_an_itinerary_as_the_api_documents_it(schedule: AsyncTestClient[Any]) -> None:
    response = await schedule.get(
        SEARCH, params={"origin": "LON", "destination": "NYC", "date": DAY, "passengers": 2}
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["meta"] == {"limit": 50, "after": None, "before": None}
    numbers = [[s["number"] for s in it["segments"]] for it in body["data"]]
    assert sorted(numbers) == [["BA115"], ["BA117"], ["BA304", "BA229"]]
    direct = next(it for it in body["data"] if it["segments"][0]["number"] == "BA117")
    assert direct["stops"] == 0
    assert direct["duration_minutes"] == 480
    assert direct["price"] == {"amount": "900.00", "currency": "GBP"}
    assert direct["seats_available"] == 29 * 9
    assert direct["id"] == direct["segments"][0]["flight_id"]
    [segment] = direct["segments"]
    assert segment["origin"] == "LHR"
    assert segment["destination"] == "JFK"
    assert segment["departs_at"] == "2030-03-04T12:00:00+00:00"  # London keeps its +00:00
    assert segment["arrives_at"] == "2030-03-04T15:00:00-05:00"
    assert segment["origin_time_zone"] == "Europe/London"
    assert segment["destination_time_zone"] == "America/New_York"
    via_paris = next(it for it in body["data"] if it["stops"] == 1)
    assert via_paris["id"] == ".".join(s["flight_id"] for s in via_paris["segments"])
    assert via_paris["price"] == {"amount": "580.00", "currency": "GBP"}
    assert via_paris["segments"][1]["departs_at"] == "2030-03-04T16:00:00+01:00"
    # best: the scores are in the answer, ascending.
    scores = [float(it["best_score"]) for it in body["data"]]
    assert scores == sorted(scores)


async def test_filters_and_orders(schedule: AsyncTestClient[Any]) -> None:
    base = {"origin": "LHR", "destination": "JFK", "date": DAY}

    async def numbers(**params: Any) -> list[list[str]]:
        data = ok(await schedule.get(SEARCH, params={**base, **params}))
        return [[s["number"] for s in it["segments"]] for it in data]

    assert await numbers(sort="price") == [["BA304", "BA229"], ["BA117"], ["BA115"]]
    # BA117 and BA304 leave together: the cheaper itinerary first.
    assert await numbers(sort="departure") == [["BA304", "BA229"], ["BA117"], ["BA115"]]
    assert await numbers(max_stops=0, sort="departure") == [["BA117"], ["BA115"]]
    assert await numbers(depart_after="13:00") == [["BA115"]]
    assert await numbers(depart_before="12:00", max_stops=0) == [["BA117"]]
    assert await numbers(max_price="300", sort="price") == [["BA304", "BA229"]]
    assert await numbers(min_price="300.01", max_stops=0, sort="price") == [["BA117"], ["BA115"]]
    assert await numbers(airlines="AF") == []
    assert await numbers(airlines="AF,BA", max_duration=480, sort="departure") == [
        ["BA117"],
        ["BA115"],
    ]
    business = await numbers(cabin="business", passengers=9, sort="price")
    assert business[0] == ["BA304", "BA229"]


async def test_pages_follow_the_cursors(schedule: AsyncTestClient[Any]) -> None:
    params = {"origin": "LON", "destination": "NYC", "date": DAY, "limit": 1}
    seen = []
    response = await schedule.get(SEARCH, params=params)
    while True:
        body = response.json()
        seen.extend(it["id"] for it in body["data"])
        if body["meta"]["after"] is None:
            break
        response = await schedule.get(SEARCH, params={**params, "after": body["meta"]["after"]})
    everything = ok(await schedule.get(SEARCH, params={**params, "limit": 200}))
    assert seen == [it["id"] for it in everything]
    assert len(seen) == 3
    first = (await schedule.get(SEARCH, params=params)).json()["meta"]["after"]
    foreign = await schedule.get(SEARCH, params={**params, "sort": "price", "after": first})
    assert fields(problem(foreign, 422)) == {"after"}


async def test_unknown_places_answer_404_naming_the_code(schedule: AsyncTestClient[Any]) -> None:
    body = problem(
        await schedule.get(SEARCH, params={"origin": "XYZ", "destination": "NYC", "date": DAY}),
        404,
    )
    assert "XYZ" in body["detail"]
    body = problem(
        await schedule.get(SEARCH, params={"origin": "LON", "destination": "ZZZ", "date": DAY}),
        404,
    )
    assert "ZZZ" in body["detail"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"destination": "LON"}, {"destination"}),
        ({"destination": "LHR"}, {"destination"}),
        ({"origin": "lhr"}, {"origin"}),
        ({"date": "2030-02-30"}, {"date"}),
        ({"date": "tomorrow"}, {"date"}),
        ({"date": (TEST_NOW - timedelta(days=2)).date().isoformat()}, {"date"}),
        ({"passengers": 0}, {"passengers"}),
        ({"passengers": 10}, {"passengers"}),
        ({"passengers": "two"}, {"passengers"}),
        ({"max_stops": 3}, {"max_stops"}),
        ({"cabin": "steerage"}, {"cabin"}),
        ({"sort": "cheapest"}, {"sort"}),
        ({"min_price": "500", "max_price": "100"}, {"min_price"}),
        ({"min_price": "ten"}, {"min_price"}),
        ({"max_price": "-1"}, {"max_price"}),
        ({"depart_after": "25:00"}, {"depart_after"}),
        ({"depart_after": "18:00", "depart_before": "06:00"}, {"depart_after"}),
        ({"airlines": "B,AF"}, {"airlines"}),
        ({"max_duration": 0}, {"max_duration"}),
        ({"limit": 0}, {"limit"}),
        ({"limit": 201}, {"limit"}),
        ({"after": "garbage"}, {"after"}),
        (
            {"passengers": 0, "cabin": "steerage", "depart_after": "7"},
            {"passengers", "cabin", "depart_after"},
        ),
    ],
)
async def test_bad_input_is_a_422_naming_each_field(
    schedule: AsyncTestClient[Any], params: dict[str, Any], expected: set[str]
) -> None:
    query = {"origin": "LON", "destination": "NYC", "date": DAY, **params}
    body = problem(await schedule.get(SEARCH, params=query), 422)
    assert fields(body) == expected


async def test_missing_parameters_are_named(schedule: AsyncTestClient[Any]) -> None:
    body = problem(await schedule.get(SEARCH, params={"origin": "LON", "date": DAY}), 422)
    assert fields(body) == {"destination"}


async def test_search_is_in_the_openapi_document(schedule: AsyncTestClient[Any]) -> None:
    document = (await schedule.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/v1/search/flights"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"origin", "destination", "date", "passengers", "cabin", "max_stops", "sort"} <= names
    assert {"404", "422"} <= set(operation["responses"])


@settings(max_examples=3000, deadline=None)
@given(
    instant=st.datetimes(
        # hypothesis takes naive bounds, and makes aware values with `timezones`
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(sorted(zoneinfo.available_timezones())),
)
def test_local_times_are_written_as_isoformat_writes_them(instant: datetime, zone: str) -> None:
    # Whole minutes (what flights use) and any microsecond, since and before 1973, in every
    # zone: the fast writer and isoformat agree to the character, +00:00 included.
    for moment in (instant, instant.replace(second=0, microsecond=0)):
        assert local_instant(moment, zone) == moment.astimezone(ZoneInfo(zone)).isoformat()
