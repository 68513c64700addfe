"""The booking flow over HTTP: seat map, offer, hold, read, list and cancel; ownership, and a
specific problem for each bad request."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from airline_core import Airline
from tests.conftest import TEST_NOW
from tests.runtime.conftest import API, bearer, build_catalog, fields, flight_body, ok, problem

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Any]
PASSWORD = "a long enough passphrase"


def traveller(n: int = 0, **changes: Any) -> dict[str, Any]:
    body = {
        "given_name": f"Ann{n}",
        "family_name": "Traveller",
        "born_on": "1990-05-17",
        "email": f"ann{n}@example.org",
        "phone": "+447700900123",
    }
    body.update(changes)
    return body


@pytest.fixture
async def flight_id(client: Client) -> str:
    plane = await build_catalog(client)
    return str(ok(await client.post(f"{API}/flights", json=flight_body(plane)), 201)["id"])


async def sign_up(anonymous: Client, name: str) -> dict[str, str]:
    email = f"{name}@example.org"
    ok(
        await anonymous.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD, "name": name}
        ),
        201,
    )
    return await bearer(anonymous, email, PASSWORD)


@pytest.fixture
async def ann(client: Client, airline: Airline) -> dict[str, str]:
    del airline
    return await sign_up(client, "ann")


async def offer(client: Client, who: dict[str, str], flight_id: str, passengers: int = 1) -> Any:
    body = {"flight_ids": [flight_id], "cabin": "economy", "passengers": passengers}
    return ok(await client.post(f"{API}/offers", json=body, headers=who), 201)


async def test_the_booking_flow(client: Client, flight_id: str, ann: dict[str, str]) -> None:
    seat_map = ok(
        await client.get(f"{API}/flights/{flight_id}/seatmap", params={"cabin": "economy"})
    )
    assert seat_map["cabin"] == "economy"
    assert seat_map["layout"] == "ABC-DEF-HJK"
    assert len(seat_map["seats"]) == 29 * 9
    assert seat_map["seats"][0] == {
        "seat": "20A",
        "state": "available",
        "kind": "window",
        "row": 20,
        "exit_row": False,
    }

    quote = await offer(client, ann, flight_id, 2)
    assert quote["total"] == {"amount": "900.00", "currency": "GBP"}
    assert quote["expires_at"] == "2030-03-01T12:20:00+00:00"

    body = {
        "offer_id": quote["id"],
        "passengers": [traveller(0), traveller(1, phone=None)],
        "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "30A"}],
    }
    booking = ok(await client.post(f"{API}/bookings", json=body, headers=ann), 201)
    assert booking["status"] == "held"
    assert len(booking["reference"]) == 6
    assert booking["total"] == quote["total"]
    assert booking["price_guarantee_expires_at"] == "2030-03-01T12:15:00+00:00"
    assert booking["payment_required_by"] == "2030-03-01T12:30:00+00:00"
    assert booking["passengers"][1]["phone"] is None
    seats = {s["passenger"]: s["seat"] for s in booking["seats"]}
    assert seats[0] == "30A"
    # The second traveller sits beside the first.
    assert seats[1] == "30B"

    reference = booking["reference"]
    assert ok(await client.get(f"{API}/bookings/{reference}", headers=ann)) == booking
    listed = await client.get(f"{API}/bookings", headers=ann)
    assert [b["reference"] for b in ok(listed)] == [reference]

    states = {
        s["seat"]: s["state"]
        for s in ok(await client.get(f"{API}/flights/{flight_id}/seatmap"))["seats"]
    }
    assert states["30A"] == states["30B"] == "held"

    cancelled = ok(await client.post(f"{API}/bookings/{reference}/cancel", headers=ann))
    assert cancelled["status"] == "cancelled"
    again = problem(await client.post(f"{API}/bookings/{reference}/cancel", headers=ann), 409)
    assert again["type"] == "urn:airline:problem:invalid-transition"


async def test_bookings_belong_to_their_maker(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    quote = await offer(client, ann, flight_id)
    body = {"offer_id": quote["id"], "passengers": [traveller()]}
    reference = ok(await client.post(f"{API}/bookings", json=body, headers=ann), 201)["reference"]
    bob = await sign_up(client, "bob")
    problem(await client.get(f"{API}/bookings/{reference}", headers=bob), 404)
    problem(await client.post(f"{API}/bookings/{reference}/cancel", headers=bob), 404)
    problem(await client.get(f"{API}/offers/{quote['id']}", headers=bob), 404)
    assert ok(await client.get(f"{API}/bookings", headers=bob)) == []
    # Bob cannot book Ann's offer either.
    problem(await client.post(f"{API}/bookings", json=body, headers=bob), 404)
    # The admin (the client's own token) sees every booking.
    assert [b["reference"] for b in ok(await client.get(f"{API}/bookings"))] == [reference]


async def test_offers_and_bookings_need_a_signed_in_user(client: Client, flight_id: str) -> None:
    del client.headers["Authorization"]
    body = {"flight_ids": [flight_id], "cabin": "economy", "passengers": 1}
    problem(await client.post(f"{API}/offers", json=body), 401)
    problem(await client.get(f"{API}/bookings"), 401)
    # The seat map is public.
    ok(await client.get(f"{API}/flights/{flight_id}/seatmap"))


async def test_each_bad_request_is_its_own_problem(
    client: Client, airline: Airline, flight_id: str, ann: dict[str, str]
) -> None:
    body = {"flight_ids": [flight_id], "cabin": "first", "passengers": 1}
    assert "flight_ids.0" in fields(
        problem(await client.post(f"{API}/offers", json=body, headers=ann), 422)
    )
    body = {"flight_ids": [flight_id], "passengers": 0}
    assert fields(problem(await client.post(f"{API}/offers", json=body, headers=ann), 422)) == {
        "passengers"
    }
    unknown = {"flight_ids": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"], "passengers": 1}
    problem(await client.post(f"{API}/offers", json=unknown, headers=ann), 404)
    problem(await client.get(f"{API}/flights/{flight_id}/seatmap?cabin=galley"), 422)
    problem(await client.get(f"{API}/flights/nope/seatmap"), 404)

    quote = await offer(client, ann, flight_id)
    bad = {
        "offer_id": quote["id"],
        "passengers": [traveller(email="not-an-email", phone="0044 7700", born_on="2031-01-01")],
    }
    named = fields(problem(await client.post(f"{API}/bookings", json=bad, headers=ann), 422))
    assert named == {"passengers.0.email", "passengers.0.phone", "passengers.0.born_on"}
    missing_seat = {
        "offer_id": quote["id"],
        "passengers": [traveller()],
        "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "99Z"}],
    }
    assert fields(
        problem(await client.post(f"{API}/bookings", json=missing_seat, headers=ann), 422)
    ) == {"seats.0.seat"}

    good = {"offer_id": quote["id"], "passengers": [traveller()]}
    taken = {**good, "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "20A"}]}
    ok(await client.post(f"{API}/bookings", json=taken, headers=ann), 201)
    second = await offer(client, ann, flight_id)
    clash = problem(
        await client.post(f"{API}/bookings", json={**taken, "offer_id": second["id"]}, headers=ann),
        409,
    )
    assert clash["type"] == "urn:airline:problem:seat-unavailable"
    assert fields(clash) == {"seats.0"}

    late = await offer(client, ann, flight_id)
    assert isinstance(airline.clock.now(), type(TEST_NOW))
    airline.clock.advance(minutes=21)  # type: ignore[attr-defined]
    # Every access token lapsed meanwhile (15 minutes): sign in again.
    del client.headers["Authorization"]
    ann = await bearer(client, "ann@example.org", PASSWORD)
    expired = problem(
        await client.post(f"{API}/bookings", json={**good, "offer_id": late["id"]}, headers=ann),
        409,
    )
    assert expired["type"] == "urn:airline:problem:offer-expired"


async def test_the_hold_limit_is_a_problem_of_its_own(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    for size in (9, 1):
        quote = await offer(client, ann, flight_id, size)
        body = {"offer_id": quote["id"], "passengers": [traveller(n) for n in range(size)]}
        response = await client.post(f"{API}/bookings", json=body, headers=ann)
    limit = problem(response, 409)
    assert limit["type"] == "urn:airline:problem:hold-limit-reached"
