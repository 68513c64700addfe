"""The booking flow over HTTP: seat map, offer, hold, read, list and cancel; ownership, and a
specific problem for each bad request."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from airline_core import Airline, Money
from tests.conftest import TEST_NOW
from tests.runtime.conftest import API, bearer, build_catalog, fields, flight_body, ok, problem

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Any]
PASSWORD = "a long enough passphrase"


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """``headers`` with an Idempotency-Key (a fresh one unless given)."""
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


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
    booking = ok(await client.post(f"{API}/bookings", json=body, headers=keyed(ann)), 201)
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
    shown = await client.get(f"{API}/bookings/{reference}", headers=ann)
    assert ok(shown) == booking
    listed = await client.get(f"{API}/bookings", headers=ann)
    assert [b["reference"] for b in ok(listed)] == [reference]
    # Passengers' names, emails and phones: never kept by a browser or a shared cache.
    assert shown.headers["cache-control"] == listed.headers["cache-control"] == "no-store"

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
    reference = ok(await client.post(f"{API}/bookings", json=body, headers=keyed(ann)), 201)[
        "reference"
    ]
    bob = await sign_up(client, "bob")
    problem(await client.get(f"{API}/bookings/{reference}", headers=bob), 404)
    problem(await client.post(f"{API}/bookings/{reference}/cancel", headers=bob), 404)
    problem(await client.get(f"{API}/offers/{quote['id']}", headers=bob), 404)
    assert ok(await client.get(f"{API}/bookings", headers=bob)) == []
    # Bob cannot book Ann's offer either.
    problem(await client.post(f"{API}/bookings", json=body, headers=keyed(bob)), 404)
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
    named = fields(problem(await client.post(f"{API}/bookings", json=bad, headers=keyed(ann)), 422))
    assert named == {"passengers.0.email", "passengers.0.phone", "passengers.0.born_on"}
    missing_seat = {
        "offer_id": quote["id"],
        "passengers": [traveller()],
        "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "99Z"}],
    }
    assert fields(
        problem(await client.post(f"{API}/bookings", json=missing_seat, headers=keyed(ann)), 422)
    ) == {"seats.0.seat"}

    good = {"offer_id": quote["id"], "passengers": [traveller()]}
    taken = {**good, "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "20A"}]}
    ok(await client.post(f"{API}/bookings", json=taken, headers=keyed(ann)), 201)
    second = await offer(client, ann, flight_id)
    clash = problem(
        await client.post(
            f"{API}/bookings", json={**taken, "offer_id": second["id"]}, headers=keyed(ann)
        ),
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
        await client.post(
            f"{API}/bookings", json={**good, "offer_id": late["id"]}, headers=keyed(ann)
        ),
        409,
    )
    assert expired["type"] == "urn:airline:problem:offer-expired"


async def test_the_hold_limit_is_a_problem_of_its_own(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    for size in (9, 1):
        quote = await offer(client, ann, flight_id, size)
        body = {"offer_id": quote["id"], "passengers": [traveller(n) for n in range(size)]}
        response = await client.post(f"{API}/bookings", json=body, headers=keyed(ann))
    limit = problem(response, 409)
    assert limit["type"] == "urn:airline:problem:hold-limit-reached"


async def held(client: Client, who: dict[str, str], flight_id: str, size: int = 1) -> Any:
    quote = await offer(client, who, flight_id, size)
    body = {"offer_id": quote["id"], "passengers": [traveller(n) for n in range(size)]}
    return ok(await client.post(f"{API}/bookings", json=body, headers=keyed(who)), 201)


def payment(total: dict[str, str], method: str = "pm_card_visa", **more: Any) -> dict[str, Any]:
    return {"amount": total, "payment_method": method, **more}


async def test_paying_confirms_the_booking_and_sells_its_seats(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id, 2)
    reference = booking["reference"]
    paid = ok(
        await client.post(
            f"{API}/bookings/{reference}/payments",
            json=payment(booking["total"]),
            headers=keyed(ann),
        ),
        201,
    )
    assert paid["status"] == "confirmed"
    assert paid["payment"]["status"] == "captured"
    assert paid["payment"]["amount"] == booking["total"]
    assert paid["reference"] == reference
    states = {
        s["seat"]: s["state"]
        for s in ok(await client.get(f"{API}/flights/{flight_id}/seatmap"))["seats"]
    }
    assert {states[s["seat"]] for s in booking["seats"]} == {"sold"}
    again = problem(
        await client.post(
            f"{API}/bookings/{reference}/payments",
            json=payment(booking["total"]),
            headers=keyed(ann),
        ),
        409,
    )
    assert again["type"] == "urn:airline:problem:invalid-transition"


async def test_a_declined_card_is_402_and_the_hold_stays(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id)
    path = f"{API}/bookings/{booking['reference']}/payments"
    for method, code in (
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ):
        declined = problem(
            await client.post(path, json=payment(booking["total"], method), headers=keyed(ann)),
            402,
        )
        assert declined["type"] == "urn:airline:problem:payment-declined"
        assert declined["decline_code"] == code
    down = await client.post(
        path, json=payment(booking["total"], "pm_card_networkError"), headers=keyed(ann)
    )
    assert problem(down, 503)["type"] == "urn:airline:problem:payment-gateway-unavailable"
    unknown = problem(
        await client.post(path, json=payment(booking["total"], "pm_nope"), headers=keyed(ann)),
        422,
    )
    assert fields(unknown) == {"payment_method"}
    wrong = problem(
        await client.post(
            path, json=payment({"amount": "1.00", "currency": "GBP"}), headers=keyed(ann)
        ),
        422,
    )
    assert fields(wrong) == {"amount"}
    still = ok(await client.get(f"{API}/bookings/{booking['reference']}", headers=ann))
    assert still["status"] == "held"
    ok(await client.post(path, json=payment(booking["total"]), headers=keyed(ann)), 201)


async def test_after_the_price_guarantee_a_moved_price_needs_consent(
    client: Client, airline: Airline, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id)
    fares = {"economy": Money.parse("500.00", "GBP"), "business": Money.parse("2450.00", "GBP")}
    await airline.flights.update(flight_id, fares=fares)
    path = f"{API}/bookings/{booking['reference']}/payments"
    airline.clock.advance(minutes=16)  # type: ignore[attr-defined]
    del client.headers["Authorization"]
    ann = await bearer(client, "ann@example.org", PASSWORD)
    moved = problem(
        await client.post(path, json=payment(booking["total"]), headers=keyed(ann)), 409
    )
    assert moved["type"] == "urn:airline:problem:price-changed"
    assert moved["old_total"] == {"amount": "450.00", "currency": "GBP"}
    assert moved["new_total"] == {"amount": "500.00", "currency": "GBP"}
    paid = ok(
        await client.post(
            path,
            json=payment(moved["new_total"], accept_new_total=True),
            headers=keyed(ann),
        ),
        201,
    )
    assert paid["total"] == moved["new_total"]


async def test_creating_and_paying_need_an_idempotency_key(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    quote = await offer(client, ann, flight_id)
    body = {"offer_id": quote["id"], "passengers": [traveller()]}
    missing = problem(await client.post(f"{API}/bookings", json=body, headers=ann), 400)
    assert missing["type"] == "urn:airline:problem:idempotency-key-missing"
    first = await client.post(f"{API}/bookings", json=body, headers=keyed(ann, "k-1"))
    replay = await client.post(f"{API}/bookings", json=body, headers=keyed(ann, "k-1"))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert len(ok(await client.get(f"{API}/bookings", headers=ann))) == 1
    other = {**body, "passengers": [traveller(5)]}
    reused = problem(
        await client.post(f"{API}/bookings", json=other, headers=keyed(ann, "k-1")), 422
    )
    assert reused["type"] == "urn:airline:problem:idempotency-key-reused"
    # Keys are per user: Bob's k-1 is his own.
    bob = await sign_up(client, "bob")
    problem(await client.post(f"{API}/bookings", json=body, headers=keyed(bob, "k-1")), 404)
    reference = first.json()["data"]["reference"]
    path = f"{API}/bookings/{reference}/payments"
    problem(await client.post(path, json=payment(first.json()["data"]["total"]), headers=ann), 400)


async def test_a_replayed_decline_stays_a_decline(
    client: Client, airline: Airline, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id)
    path = f"{API}/bookings/{booking['reference']}/payments"
    body = payment(booking["total"], "pm_card_chargeDeclined")
    first = await client.post(path, json=body, headers=keyed(ann, "pay-1"))
    second = await client.post(path, json=body, headers=keyed(ann, "pay-1"))
    assert first.status_code == second.status_code == 402
    assert second.headers["idempotent-replayed"] == "true"
    assert (
        len(await airline.payments.of(await airline.bookings.bookings.get(booking["reference"])))
        == 1
    )
    # A gateway failure is not kept: the same key may try again.
    down = payment(booking["total"], "pm_card_networkError")
    assert (await client.post(path, json=down, headers=keyed(ann, "pay-2"))).status_code == 503
    again = await client.post(path, json=down, headers=keyed(ann, "pay-2"))
    assert "idempotent-replayed" not in again.headers


async def test_cancelling_a_confirmed_booking_refunds_by_the_fare_rules(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id)
    reference = booking["reference"]
    path = f"{API}/bookings/{reference}/payments"
    ok(await client.post(path, json=payment(booking["total"]), headers=keyed(ann)), 201)
    cancelled = ok(await client.post(f"{API}/bookings/{reference}/cancel", headers=ann))
    assert cancelled["status"] == "cancelled"
    states = {
        s["seat"]: s["state"]
        for s in ok(await client.get(f"{API}/flights/{flight_id}/seatmap"))["seats"]
    }
    assert states[booking["seats"][0]["seat"]] == "available"


async def test_the_itinerary_gathers_booking_flights_and_payments(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    booking = await held(client, ann, flight_id)
    reference = booking["reference"]
    path = f"{API}/bookings/{reference}/payments"
    ok(await client.post(path, json=payment(booking["total"]), headers=keyed(ann)), 201)
    view = ok(await client.get(f"{API}/bookings/{reference}/itinerary", headers=ann))
    assert view["booking"]["reference"] == reference
    assert view["booking"]["status"] == "confirmed"
    assert [f["id"] for f in view["flights"]] == [flight_id]
    assert view["flights"][0]["departs_at"].endswith("+00:00")
    assert [p["status"] for p in view["payments"]] == ["captured"]
    # Check-in and boarding pass planned (the payment deadline's reminder, cancelled, is not
    # shown), due in the departure airport's local time.
    reminders = view["reminders"]
    assert [(r["kind"], r["status"]) for r in reminders] == [
        ("check_in", "planned"),
        ("boarding_pass", "planned"),
    ]
    departs = datetime.fromisoformat(view["flights"][0]["departs_at"])
    due = [datetime.fromisoformat(r["due_at"]) for r in reminders]
    assert [departs - instant for instant in due] == [timedelta(hours=48), timedelta(hours=3)]
    assert all(r["due_at"].endswith("+00:00") for r in reminders)  # LHR in March is on GMT
    assert {r["flight_id"] for r in reminders} == {flight_id}
    bob = await sign_up(client, "bob")
    problem(await client.get(f"{API}/bookings/{reference}/itinerary", headers=bob), 404)


async def test_each_api_process_sweeps_lapsed_holds(
    client: Client, airline: Airline, flight_id: str, ann: dict[str, str]
) -> None:
    import anyio

    from airline_runtime.http.app import sweep_forever

    booking = await held(client, ann, flight_id, 3)
    airline.clock.advance(minutes=31)  # type: ignore[attr-defined]
    with anyio.move_on_after(0.5):
        await sweep_forever(airline, 0.05)
    stored = await airline.bookings.bookings.get(booking["reference"])
    assert stored.status.value == "expired"
    assert await airline.sweep() == {
        "expired_holds": 0,
        "idempotency_keys": 0,
        "offers": 0,
        "refunds": 0,
    }
    airline.clock.advance(hours=25)  # type: ignore[attr-defined]
    swept = await airline.sweep()
    assert swept["idempotency_keys"] == 1
    assert swept["offers"] == 1


async def test_a_refused_hold_is_replayed_for_its_key(
    client: Client, flight_id: str, ann: dict[str, str]
) -> None:
    good = {"offer_id": (await offer(client, ann, flight_id))["id"], "passengers": [traveller()]}
    chosen = {**good, "seats": [{"flight_id": flight_id, "passenger": 0, "seat": "20A"}]}
    ok(await client.post(f"{API}/bookings", json=chosen, headers=keyed(ann)), 201)
    second = {**chosen, "offer_id": (await offer(client, ann, flight_id))["id"]}
    first = await client.post(f"{API}/bookings", json=second, headers=keyed(ann, "taken-1"))
    assert problem(first, 409)["type"] == "urn:airline:problem:seat-unavailable"
    again = await client.post(f"{API}/bookings", json=second, headers=keyed(ann, "taken-1"))
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # The same key for a hold that would succeed is another request: 422, not a booking.
    reused = await client.post(f"{API}/bookings", json=good, headers=keyed(ann, "taken-1"))
    assert problem(reused, 422)["type"] == "urn:airline:problem:idempotency-key-reused"
    assert len(ok(await client.get(f"{API}/bookings", headers=ann))) == 1
