"""Every catalog route over HTTP, its happy path and its bad input, on memory stores."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.runtime.conftest import (
    AIRPORTS,
    API,
    CITIES,
    DEPARTURE,
    TWIN_AISLE,
    build_catalog,
    fields,
    flight_body,
    ok,
    problem,
)

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]


# Cities ---------------------------------------------------------------------------------------


async def test_city_lifecycle(client: Client) -> None:
    created = ok(await client.post(f"{API}/cities", json=CITIES["LON"]), 201)
    assert created == {"id": created["id"], **CITIES["LON"]}
    assert ok(await client.get(f"{API}/cities/{created['id']}")) == created
    renamed = ok(
        await client.patch(f"{API}/cities/{created['id']}", json={"name": "Greater London"})
    )
    assert renamed["name"] == "Greater London"
    assert renamed["code"] == "LON"
    response = await client.delete(f"{API}/cities/{created['id']}")
    assert response.status_code == 204
    problem(await client.get(f"{API}/cities/{created['id']}"), 404)
    problem(await client.delete(f"{API}/cities/{created['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CITIES["LON"], "code": "lo"}, "code"),
        ({**CITIES["LON"], "country": "GBR"}, "country"),
        ({**CITIES["LON"], "name": " "}, "name"),
        ({**CITIES["LON"], "name": 7}, "name"),
        ({"code": "LON", "name": "London"}, "country"),
        ({**CITIES["LON"], "id": "01ABC"}, "id"),
    ],
)
async def test_bad_city_is_refused_naming_the_field(
    client: Client, body: dict[str, Any], field: str
) -> None:
    assert field in fields(problem(await client.post(f"{API}/cities", json=body), 422))
    assert ok(await client.get(f"{API}/cities")) == []


async def test_duplicate_city_code_conflicts(client: Client) -> None:
    ok(await client.post(f"{API}/cities", json=CITIES["LON"]), 201)
    body = problem(await client.post(f"{API}/cities", json=CITIES["LON"]), 409)
    assert fields(body) == {"code"}
    assert len(ok(await client.get(f"{API}/cities"))) == 1


async def test_city_code_cannot_be_patched(client: Client) -> None:
    city = ok(await client.post(f"{API}/cities", json=CITIES["LON"]), 201)
    for body in ({"code": "LCY"}, {"name": None}):
        problem(await client.patch(f"{API}/cities/{city['id']}", json=body), 422)
    assert ok(await client.get(f"{API}/cities/{city['id']}")) == city


async def test_city_with_airports_cannot_be_deleted(client: Client) -> None:
    await build_catalog(client)
    london = ok(await client.get(f"{API}/cities", params={"code": "LON"}))[0]
    body = problem(await client.delete(f"{API}/cities/{london['id']}"), 409)
    assert body["type"].endswith("still-referenced")


async def test_city_list_filters_and_pages(client: Client) -> None:
    for code, name in [("AMS", "Amsterdam"), ("BER", "Berlin"), ("LON", "London")]:
        ok(
            await client.post(f"{API}/cities", json={"code": code, "name": name, "country": "NL"}),
            201,
        )
    response = (await client.get(f"{API}/cities", params={"limit": 2})).json()
    assert [c["code"] for c in response["data"]] == ["AMS", "BER"]
    assert response["meta"]["limit"] == 2
    assert response["meta"]["before"] is None
    following = (
        await client.get(f"{API}/cities", params={"limit": 2, "after": response["meta"]["after"]})
    ).json()
    assert [c["code"] for c in following["data"]] == ["LON"]
    assert following["meta"]["after"] is None
    back = (
        await client.get(
            f"{API}/cities", params={"limit": 2, "before": following["meta"]["before"]}
        )
    ).json()
    assert [c["code"] for c in back["data"]] == ["AMS", "BER"]
    assert [c["code"] for c in ok(await client.get(f"{API}/cities", params={"name": "ER"}))] == [
        "AMS",
        "BER",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "x", "before": "y"}, "before"),
        ({"code": "lon"}, "code"),
    ],
)
async def test_bad_list_parameters_are_refused(
    client: Client, params: dict[str, Any], field: str
) -> None:
    assert field in fields(problem(await client.get(f"{API}/cities", params=params), 422))


async def test_cursor_of_another_query_is_refused(client: Client) -> None:
    await build_catalog(client)
    page = (await client.get(f"{API}/airports", params={"limit": 1})).json()
    cursor = page["meta"]["after"]
    body = problem(await client.get(f"{API}/cities", params={"after": cursor}), 422)
    assert "another query" in body["detail"]
    body = problem(
        await client.get(f"{API}/airports", params={"after": cursor, "country": "US"}), 422
    )
    assert fields(body) == {"after"}


# Airports -------------------------------------------------------------------------------------


async def test_airport_lifecycle(client: Client) -> None:
    await build_catalog(client)
    assert ok(await client.get(f"{API}/airports/LHR")) == AIRPORTS["LHR"]
    moved = ok(await client.patch(f"{API}/airports/LHR", json={"latitude": 51.47}))
    assert moved["latitude"] == 51.47
    listed = ok(await client.get(f"{API}/airports", params={"name": "kennedy"}))
    assert [a["code"] for a in listed] == ["JFK"]
    assert [a["code"] for a in ok(await client.get(f"{API}/airports", params={"city": "LON"}))] == [
        "LHR"
    ]
    assert (await client.delete(f"{API}/airports/LHR")).status_code == 204
    problem(await client.get(f"{API}/airports/LHR"), 404)


async def test_bad_airports_are_refused(client: Client) -> None:
    ok(await client.post(f"{API}/cities", json=CITIES["LON"]), 201)
    bad = {
        **AIRPORTS["LHR"],
        "code": "LH1",
        "time_zone": "Europe/Atlantis",
        "latitude": 91,
        "longitude": -181,
    }
    body = problem(await client.post(f"{API}/airports", json=bad), 422)
    assert fields(body) == {"code", "time_zone", "latitude", "longitude"}
    body = problem(
        await client.post(f"{API}/airports", json={**AIRPORTS["LHR"], "city": "XXX"}), 422
    )
    assert fields(body) == {"city"}
    ok(await client.post(f"{API}/airports", json=AIRPORTS["LHR"]), 201)
    assert fields(problem(await client.post(f"{API}/airports", json=AIRPORTS["LHR"]), 409)) == {
        "code"
    }
    assert fields(problem(await client.get(f"{API}/airports/lhr"), 422)) == {"code"}
    problem(await client.get(f"{API}/airports/ZZZ"), 404)
    body = problem(
        await client.post(f"{API}/airports", json={**AIRPORTS["LHR"], "latitude": "north"}), 422
    )
    assert fields(body) == {"latitude"}


async def test_airport_time_zone_is_fixed_while_flights_use_it(client: Client) -> None:
    airplane_id = await build_catalog(client)
    ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    body = problem(await client.patch(f"{API}/airports/JFK", json={"time_zone": "UTC"}), 409)
    assert fields(body) == {"time_zone"}
    problem(await client.delete(f"{API}/airports/JFK"), 409)
    assert ok(await client.get(f"{API}/airports/JFK"))["time_zone"] == "America/New_York"


# Airplanes ------------------------------------------------------------------------------------


async def test_airplane_lifecycle(client: Client) -> None:
    created = ok(await client.post(f"{API}/airplanes", json=TWIN_AISLE), 201)
    assert created["seat_count"] == 8 * 4 + 29 * 9
    business = created["layout"]["cabins"][0]
    assert business == {
        "cabin": "business",
        "first_row": 1,
        "last_row": 8,
        "seats": "A-DG-K",
        "exit_rows": [],
        "seat_count": 32,
    }
    assert ok(await client.get(f"{API}/airplanes/{created['id']}")) == created
    renamed = ok(await client.patch(f"{API}/airplanes/{created['id']}", json={"model": "B789"}))
    assert renamed["model"] == "B789"
    assert [a["id"] for a in ok(await client.get(f"{API}/airplanes", params={"model": "b78"}))] == [
        created["id"]
    ]
    assert (await client.delete(f"{API}/airplanes/{created['id']}")).status_code == 204
    problem(await client.get(f"{API}/airplanes/{created['id']}"), 404)


async def test_bad_layouts_name_the_broken_field(client: Client) -> None:
    layout = {
        "cabins": [
            {"cabin": "economy", "first_row": 10, "last_row": 5, "seats": "ABC--DEF"},
            {
                "cabin": "business",
                "first_row": 1,
                "last_row": 4,
                "seats": "AC-DF",
                "exit_rows": [9],
            },
        ]
    }
    body = problem(
        await client.post(f"{API}/airplanes", json={"model": "X", "layout": layout}), 422
    )
    assert fields(body) == {
        "layout.cabins.0.last_row",
        "layout.cabins.0.seats",
        "layout.cabins.1.exit_rows",
    }
    layout = {
        "cabins": [
            {"cabin": "economy", "first_row": 10, "last_row": 30, "seats": "ABC-DEF"},
            {"cabin": "business", "first_row": 1, "last_row": 4, "seats": "AC-DF"},
        ]
    }
    body = problem(
        await client.post(f"{API}/airplanes", json={"model": "X", "layout": layout}), 422
    )
    assert fields(body) == {"layout.cabins", "layout.cabins.1.first_row"}
    body = problem(
        await client.post(
            f"{API}/airplanes",
            json={"model": "X", "layout": {"cabins": [{"cabin": "galley", "first_row": 1}]}},
        ),
        422,
    )
    assert fields(body) == {"layout.cabins.0.cabin"}
    body = problem(
        await client.post(
            f"{API}/airplanes",
            json={
                "model": "X",
                "layout": {
                    "cabins": [
                        {
                            "cabin": "economy",
                            "first_row": 1,
                            "last_row": 2,
                            "seats": "AB",
                            "wifi": True,
                        }
                    ]
                },
            },
        ),
        422,
    )
    assert fields(body) == {"layout.cabins.0.wifi"}
    assert ok(await client.get(f"{API}/airplanes")) == []


async def test_airplane_cabins_are_fixed_while_flights_use_it(client: Client) -> None:
    airplane_id = await build_catalog(client)
    ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    single = {"cabins": [{"cabin": "economy", "first_row": 1, "last_row": 30, "seats": "ABC-DEF"}]}
    body = problem(
        await client.patch(f"{API}/airplanes/{airplane_id}", json={"layout": single}), 409
    )
    assert fields(body) == {"layout"}
    problem(await client.delete(f"{API}/airplanes/{airplane_id}"), 409)
    # Same cabins, more rows: not while flights count and hold these seats.
    longer = {
        "cabins": [
            {"cabin": "business", "first_row": 1, "last_row": 9, "seats": "A-DG-K"},
            {"cabin": "economy", "first_row": 20, "last_row": 50, "seats": "ABC-DEF-HJK"},
        ]
    }
    resized = problem(
        await client.patch(f"{API}/airplanes/{airplane_id}", json={"layout": longer}), 409
    )
    assert "same seats" in resized["detail"]
    # The same seats with another exit row: fine.
    exits = {
        "cabins": [
            {"cabin": "business", "first_row": 1, "last_row": 8, "seats": "A-DG-K"},
            {
                "cabin": "economy",
                "first_row": 20,
                "last_row": 48,
                "seats": "ABC-DEF-HJK",
                "exit_rows": [31],
            },
        ]
    }
    assert (
        ok(await client.patch(f"{API}/airplanes/{airplane_id}", json={"layout": exits}))[
            "seat_count"
        ]
        == 8 * 4 + 29 * 9
    )


# Flights --------------------------------------------------------------------------------------


async def test_flight_lifecycle_in_local_times(client: Client) -> None:
    airplane_id = await build_catalog(client)
    flight = ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    # 12:00 UTC in March 2030: London is on GMT, New York on EDT (from 10 March) or EST.
    assert flight["departs_at"] == "2030-03-04T12:00:00+00:00"
    assert flight["origin_time_zone"] == "Europe/London"
    assert flight["arrives_at"] == "2030-03-04T15:00:00-05:00"
    assert flight["destination_time_zone"] == "America/New_York"
    assert flight["duration_minutes"] == 480
    assert flight["departs_on"] == "2030-03-04"
    assert flight["fares"] == {
        "business": {"amount": "2450.00", "currency": "GBP"},
        "economy": {"amount": "450.00", "currency": "GBP"},
    }
    assert flight["status"] == "scheduled"
    assert ok(await client.get(f"{API}/flights/{flight['id']}")) == flight
    delayed = ok(
        await client.patch(
            f"{API}/flights/{flight['id']}",
            json={
                "status": "delayed",
                "departs_at": (DEPARTURE + timedelta(hours=2)).isoformat(),
                "arrives_at": (DEPARTURE + timedelta(hours=10)).isoformat(),
            },
        )
    )
    assert delayed["status"] == "delayed"
    assert delayed["departs_at"] == "2030-03-04T14:00:00+00:00"
    cancelled = ok(
        await client.patch(f"{API}/flights/{flight['id']}", json={"status": "cancelled"})
    )
    assert cancelled["status"] == "cancelled"
    problem(await client.patch(f"{API}/flights/{flight['id']}", json={"status": "scheduled"}), 409)
    assert (await client.delete(f"{API}/flights/{flight['id']}")).status_code == 204
    problem(await client.get(f"{API}/flights/{flight['id']}"), 404)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"airplane_id": "01JDX0000000000000000000AA"}, {"airplane_id"}),
        ({"origin": "CDG"}, {"origin"}),
        ({"destination": "LHR"}, {"destination"}),
        ({"arrives_at": DEPARTURE.isoformat()}, {"arrives_at"}),
        ({"arrives_at": (DEPARTURE + timedelta(hours=30)).isoformat()}, {"arrives_at"}),
        ({"departs_at": "2030-03-04T12:00:00"}, {"departs_at"}),
        (
            {"departs_at": "2030-03-01T11:00:00+00:00", "arrives_at": "2030-03-01T19:00:00Z"},
            {"departs_at"},
        ),
        ({"departs_at": "tomorrow"}, {"departs_at"}),
        ({"number": "AF117"}, {"number"}),
        ({"airline": "BAW"}, {"airline"}),
        ({"fares": {"economy": {"amount": "450.00", "currency": "GBP"}}}, {"fares"}),
        (
            {
                "fares": {
                    "economy": {"amount": "450.001", "currency": "GBP"},
                    "business": {"amount": "1", "currency": "gbp"},
                }
            },
            {"fares.economy.amount", "fares.business.currency"},
        ),
        (
            {
                "fares": {
                    "economy": {"amount": "450", "currency": "GBP"},
                    "business": {"amount": "1", "currency": "EUR"},
                }
            },
            {"fares"},
        ),
        ({"fares": {"galley": {"amount": "1", "currency": "GBP"}}}, {"fares"}),
        ({"status": "cancelled"}, {"status"}),
    ],
)
async def test_bad_flights_are_refused_naming_the_field(
    client: Client, changes: dict[str, Any], expected: set[str]
) -> None:
    airplane_id = await build_catalog(client)
    body = problem(
        await client.post(f"{API}/flights", json={**flight_body(airplane_id), **changes}), 422
    )
    assert fields(body) == expected
    assert ok(await client.get(f"{API}/flights")) == []


async def test_same_number_twice_on_one_local_date_conflicts(client: Client) -> None:
    airplane_id = await build_catalog(client)
    ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    later = DEPARTURE + timedelta(hours=3)
    clash = flight_body(
        airplane_id,
        departs_at=later.isoformat(),
        arrives_at=(later + timedelta(hours=8)).isoformat(),
    )
    problem(await client.post(f"{API}/flights", json=clash), 409)
    next_day = DEPARTURE + timedelta(days=1)
    ok(
        await client.post(
            f"{API}/flights",
            json=flight_body(
                airplane_id,
                departs_at=next_day.isoformat(),
                arrives_at=(next_day + timedelta(hours=8)).isoformat(),
            ),
        ),
        201,
    )


async def test_flight_list_filters(client: Client) -> None:
    airplane_id = await build_catalog(client)
    ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    back = DEPARTURE + timedelta(days=1)
    ok(
        await client.post(
            f"{API}/flights",
            json=flight_body(
                airplane_id,
                number="AA100",
                airline="AA",
                origin="JFK",
                destination="LHR",
                departs_at=back.isoformat(),
                arrives_at=(back + timedelta(hours=7)).isoformat(),
            ),
        ),
        201,
    )

    async def numbers(**params: Any) -> list[str]:
        return [f["number"] for f in ok(await client.get(f"{API}/flights", params=params))]

    assert await numbers() == ["BA117", "AA100"]
    assert await numbers(airline="AA") == ["AA100"]
    assert await numbers(origin="LHR") == ["BA117"]
    assert await numbers(destination="LHR") == ["AA100"]
    assert await numbers(departs_on="2030-03-05") == ["AA100"]
    assert await numbers(status="scheduled", number="BA117") == ["BA117"]
    assert fields(
        problem(await client.get(f"{API}/flights", params={"departs_on": "2030-13-01"}), 422)
    ) == {"departs_on"}
    assert fields(problem(await client.get(f"{API}/flights", params={"status": "late"}), 422)) == {
        "status"
    }
    assert fields(problem(await client.get(f"{API}/flights", params={"origin": "lhr"}), 422)) == {
        "origin"
    }


async def test_flight_patch_refuses_route_changes_and_bad_values(client: Client) -> None:
    airplane_id = await build_catalog(client)
    flight = ok(await client.post(f"{API}/flights", json=flight_body(airplane_id)), 201)
    url = f"{API}/flights/{flight['id']}"
    assert fields(problem(await client.patch(url, json={"origin": "JFK"}), 422)) == {"origin"}
    assert fields(problem(await client.patch(url, json={"status": "boarding"}), 422)) == {"status"}
    body = problem(await client.patch(url, json={"arrives_at": DEPARTURE.isoformat()}), 422)
    assert fields(body) == {"arrives_at"}
    body = problem(
        await client.patch(url, json={"fares": {"economy": {"amount": "1.00", "currency": "GBP"}}}),
        422,
    )
    assert fields(body) == {"fares"}
    assert ok(await client.get(url)) == flight


# The HTTP edge --------------------------------------------------------------------------------


async def test_malformed_json_is_a_bad_request(client: Client) -> None:
    response = await client.post(
        f"{API}/cities", content=b'{"code": "LON",', headers={"content-type": "application/json"}
    )
    assert problem(response, 400)["type"].endswith("malformed-body")
    assert fields(problem(await client.post(f"{API}/cities", json=["LON"]), 422)) == {"body"}


async def test_oversized_body_is_refused(client: Client) -> None:
    huge = {**CITIES["LON"], "name": "x" * 100_000}
    problem(await client.post(f"{API}/cities", json=huge), 413)


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    problem(await client.get(f"{API}/nowhere"), 404)
    problem(await client.put(f"{API}/cities"), 405)


async def test_health_probes(client: Client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_openapi_and_offline_docs(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/cities",
        "/api/v1/cities/{city_id}",
        "/api/v1/airports/{code}",
        "/api/v1/airplanes",
        "/api/v1/flights/{flight_id}",
    ):
        assert path in schema["paths"]
    create = schema["paths"]["/api/v1/flights"]["post"]["responses"]
    assert set(create) == {"201", "400", "401", "403", "409", "413", "422"}
    assert "application/problem+json" in create["422"]["content"]
    assert "errors" in schema["components"]["schemas"]["Problem"]["properties"]
    page = await client.get("/schema/swagger")
    assert page.status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/schema/assets/{asset}" in page.text
        assert (await client.get(f"/schema/assets/{asset}")).status_code == 200


async def test_every_answer_carries_a_request_id_and_security_headers(client: Client) -> None:
    for response in (
        await client.get(f"{API}/cities"),
        await client.get(f"{API}/nowhere"),
        await client.post(f"{API}/cities", json={"code": "x"}),
        await client.get(f"{API}/cities", headers={"X-Request-ID": "trace-42"}),
    ):
        assert response.headers["x-request-id"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"] == "trace-42"
    listed = await client.get(f"{API}/cities")
    assert re.fullmatch(r'"read";r=59\d;t=\d+', listed.headers["ratelimit"])


async def test_metrics_count_requests_by_route(client: Client) -> None:
    await client.get(f"{API}/cities")
    await client.get(f"{API}/cities/01JDX0000000000000000000AA")
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/cities",status="200"' in text
    assert 'route="/api/v1/cities/{city_id}",status="404"' in text
    assert "airline_http_request_duration_seconds_bucket" in text
