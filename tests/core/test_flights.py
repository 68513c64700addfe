"""Use cases of flights: scheduling against the catalog, local dates, status moves, changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from airline_core import (
    Airline,
    Airplane,
    AlreadyExists,
    Cabin,
    Conflict,
    FakeClock,
    FlightDraft,
    FlightFilter,
    FlightStatus,
    InvalidRequest,
    Money,
    NotFound,
    PageRequest,
)
from airline_core.ids import is_id
from tests.core.samples import (
    ECONOMY_ONLY,
    NOW,
    TWO_CABINS,
    add_airplane,
    add_airports,
    broken_fields,
    fares_for,
    schedule,
)

UNKNOWN_ID = "01JDX0000000000000000000AA"
NEW_YORK = ZoneInfo("America/New_York")
IN_A_WEEK = NOW + timedelta(days=7)


@pytest.fixture
async def plane(airline: Airline) -> Airplane:
    await add_airports(airline, "LHR", "JFK", "CDG")
    return await add_airplane(airline, TWO_CABINS)


def draft(plane: Airplane, departs_at: datetime = IN_A_WEEK, **changes: object) -> FlightDraft:
    values: dict[str, object] = {
        "number": "BA117",
        "airline": "BA",
        "airplane_id": plane.id,
        "origin": "LHR",
        "destination": "JFK",
        "departs_at": departs_at,
        "arrives_at": departs_at + timedelta(hours=8),
        "fares": fares_for(plane.layout),
    }
    return FlightDraft(**{**values, **changes})  # type: ignore[arg-type]


# Creating ---------------------------------------------------------------------------------------


async def test_create_flight_takes_the_airports_time_zones(
    airline: Airline, plane: Airplane
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    assert is_id(made.id)
    assert (made.origin_time_zone, made.destination_time_zone) == (
        "Europe/London",
        "America/New_York",
    )
    assert made.status is FlightStatus.SCHEDULED
    assert await airline.flights.get(made.id) == made


async def test_unknown_airplane_is_named_in_the_error(airline: Airline, plane: Airplane) -> None:
    with pytest.raises(InvalidRequest, match="no airplane has id") as caught:
        await schedule(airline, plane, IN_A_WEEK, airplane_id=UNKNOWN_ID)
    assert broken_fields(caught.value) == ["airplane_id"]


@pytest.mark.parametrize("field", ["origin", "destination"])
async def test_unknown_airport_is_named_in_the_error(
    airline: Airline, plane: Airplane, field: str
) -> None:
    with pytest.raises(InvalidRequest, match="no airport has code NRT") as caught:
        await schedule(airline, plane, IN_A_WEEK, **{field: "NRT"})
    assert broken_fields(caught.value) == [field]


async def test_unknown_airplane_and_airports_are_named_together(
    airline: Airline, plane: Airplane
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await schedule(
            airline, plane, IN_A_WEEK, airplane_id=UNKNOWN_ID, origin="NRT", destination="SYD"
        )
    assert broken_fields(caught.value) == ["airplane_id", "origin", "destination"]


async def test_fares_must_price_exactly_the_airplanes_cabins(
    airline: Airline, plane: Airplane
) -> None:
    with pytest.raises(InvalidRequest, match="business, economy") as caught:
        await schedule(airline, plane, IN_A_WEEK, fares={Cabin.ECONOMY: Money(500, "GBP")})
    assert broken_fields(caught.value) == ["fares"]


async def test_fares_for_a_cabin_the_airplane_lacks_are_rejected(
    airline: Airline, plane: Airplane
) -> None:
    fares = {**fares_for(plane.layout), Cabin.FIRST: Money(900_000, "GBP")}
    with pytest.raises(InvalidRequest) as caught:
        await schedule(airline, plane, IN_A_WEEK, fares=fares)
    assert broken_fields(caught.value) == ["fares"]


async def test_flight_cannot_depart_in_the_past(airline: Airline, plane: Airplane) -> None:
    with pytest.raises(InvalidRequest, match="must be in the future") as caught:
        await schedule(airline, plane, NOW - timedelta(minutes=1))
    assert broken_fields(caught.value) == ["departs_at"]


async def test_flight_cannot_depart_right_now(airline: Airline, plane: Airplane) -> None:
    with pytest.raises(InvalidRequest, match="must be in the future"):
        await schedule(airline, plane, NOW)


async def test_flight_departing_a_second_from_now_is_accepted(
    airline: Airline, plane: Airplane
) -> None:
    made = await schedule(airline, plane, NOW + timedelta(seconds=1))
    assert made.departs_at == NOW + timedelta(seconds=1)


async def test_what_is_in_the_past_follows_the_clock(
    airline: Airline, plane: Airplane, clock: FakeClock
) -> None:
    clock.advance(days=8)
    with pytest.raises(InvalidRequest, match="must be in the future"):
        await schedule(airline, plane, IN_A_WEEK)


async def test_flight_rules_are_checked_through_the_use_case(
    airline: Airline, plane: Airplane
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await schedule(airline, plane, IN_A_WEEK, number="LH400", airline="BA", hours=23)
    assert broken_fields(caught.value) == ["number", "arrives_at"]


async def test_number_departs_once_per_local_date(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(AlreadyExists, match="BA117 already departs on 2030-03-08"):
        await schedule(airline, plane, IN_A_WEEK + timedelta(hours=3))
    assert len((await airline.flights.list()).items) == 1


async def test_same_number_may_depart_on_another_date(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, IN_A_WEEK)
    await schedule(airline, plane, IN_A_WEEK + timedelta(days=1))
    assert len((await airline.flights.list(FlightFilter(number="BA117"))).items) == 2


async def test_other_numbers_may_depart_on_the_same_date(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, IN_A_WEEK)
    await schedule(airline, plane, IN_A_WEEK, number="BA119")
    assert len((await airline.flights.list()).items) == 2


async def test_uniqueness_uses_the_origins_local_date_not_utc(
    airline: Airline, plane: Airplane
) -> None:
    # 08:00 and 22:30 in New York on 5 March fall on 5 and 6 March in UTC: the same local date.
    morning = datetime(2030, 3, 5, 8, 0, tzinfo=NEW_YORK)
    evening = datetime(2030, 3, 5, 22, 30, tzinfo=NEW_YORK)
    await schedule(airline, plane, morning, number="BA178", origin="JFK", destination="LHR")
    with pytest.raises(AlreadyExists):
        await schedule(airline, plane, evening, number="BA178", origin="JFK", destination="LHR")


async def test_same_utc_date_on_two_local_dates_is_two_departures(
    airline: Airline, plane: Airplane
) -> None:
    # 22:30 on 5 March and 08:00 on 6 March in New York are both 6 March in UTC.
    evening = datetime(2030, 3, 5, 22, 30, tzinfo=NEW_YORK)
    next_morning = datetime(2030, 3, 6, 8, 0, tzinfo=NEW_YORK)
    assert evening.astimezone(UTC).date() == next_morning.astimezone(UTC).date()
    await schedule(airline, plane, evening, number="BA178", origin="JFK", destination="LHR")
    await schedule(airline, plane, next_morning, number="BA178", origin="JFK", destination="LHR")
    assert len((await airline.flights.list()).items) == 2


async def test_create_many_schedules_all(airline: Airline, plane: Airplane) -> None:
    made = await airline.flights.create_many(
        [draft(plane), draft(plane, number="BA119", origin="JFK", destination="LHR")]
    )
    assert [f.number for f in made] == ["BA117", "BA119"]
    assert {f.id for f in (await airline.flights.list()).items} == {f.id for f in made}


async def test_create_many_names_the_index_of_a_bad_draft(
    airline: Airline, plane: Airplane
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await airline.flights.create_many(
            [draft(plane), draft(plane, number="BA119", origin="NRT")]
        )
    assert broken_fields(caught.value) == ["1.origin"]
    assert (await airline.flights.list()).items == ()


async def test_create_many_rejects_a_number_twice_in_one_batch(
    airline: Airline, plane: Airplane
) -> None:
    with pytest.raises(AlreadyExists, match="departs twice"):
        await airline.flights.create_many(
            [draft(plane), draft(plane, IN_A_WEEK + timedelta(hours=2))]
        )
    assert (await airline.flights.list()).items == ()


async def test_create_many_stores_none_when_one_is_taken(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, IN_A_WEEK, number="BA119")
    with pytest.raises(AlreadyExists):
        await airline.flights.create_many([draft(plane), draft(plane, number="BA119")])
    assert [f.number for f in (await airline.flights.list()).items] == ["BA119"]


async def test_create_many_of_nothing_is_nothing(airline: Airline) -> None:
    assert await airline.flights.create_many([]) == []


# Reading and listing ----------------------------------------------------------------------------


async def test_unknown_flight_is_not_found(airline: Airline) -> None:
    with pytest.raises(NotFound, match="no flight has id"):
        await airline.flights.get(UNKNOWN_ID)
    with pytest.raises(NotFound):
        await airline.flights.update(UNKNOWN_ID, status=FlightStatus.DELAYED)
    with pytest.raises(NotFound):
        await airline.flights.delete(UNKNOWN_ID)


async def test_late_evening_departure_is_listed_on_the_origins_local_date(
    airline: Airline, plane: Airplane
) -> None:
    late = datetime(2030, 3, 5, 22, 30, tzinfo=NEW_YORK)  # 03:30 UTC on 6 March
    made = await schedule(airline, plane, late, number="BA178", origin="JFK", destination="LHR")
    assert made.departs_at == datetime(2030, 3, 6, 3, 30, tzinfo=UTC)
    assert made.departs_on == date(2030, 3, 5)
    on_5th = await airline.flights.list(FlightFilter(departs_on=date(2030, 3, 5)))
    on_6th = await airline.flights.list(FlightFilter(departs_on=date(2030, 3, 6)))
    assert on_5th.items == (made,)
    assert on_6th.items == ()


async def test_list_flights_in_departure_order(airline: Airline, plane: Airplane) -> None:
    later = await schedule(airline, plane, IN_A_WEEK + timedelta(hours=5), number="BA119")
    sooner = await schedule(airline, plane, IN_A_WEEK, number="BA117")
    assert (await airline.flights.list()).items == (sooner, later)


async def test_list_flights_by_filter(airline: Airline, plane: Airplane) -> None:
    ba117 = await schedule(airline, plane, IN_A_WEEK)
    ba118 = await schedule(
        airline,
        plane,
        IN_A_WEEK + timedelta(days=1),
        number="BA118",
        origin="JFK",
        destination="LHR",
    )
    af1 = await schedule(airline, plane, IN_A_WEEK, number="AF1", origin="CDG", hours=9)
    await airline.flights.update(af1.id, status=FlightStatus.DELAYED)

    async def listed(criteria: FlightFilter) -> list[str]:
        return [f.number for f in (await airline.flights.list(criteria)).items]

    assert await listed(FlightFilter(airline="BA")) == ["BA117", "BA118"]
    assert await listed(FlightFilter(number="BA118")) == [ba118.number]
    assert await listed(FlightFilter(origin="LHR")) == [ba117.number]
    # Same departure instant: the older id comes first.
    assert await listed(FlightFilter(destination="JFK")) == ["BA117", "AF1"]
    assert await listed(FlightFilter(status=FlightStatus.DELAYED)) == ["AF1"]
    assert await listed(FlightFilter(origin="LHR", destination="CDG")) == []


@pytest.mark.parametrize("limit", [1, 2, 3, 10])
async def test_paging_flights_both_ways_yields_each_once_in_order(
    airline: Airline, plane: Airplane, limit: int
) -> None:
    # Several flights share a departure instant, so the id breaks the tie.
    made = [
        await schedule(airline, plane, IN_A_WEEK + timedelta(hours=n // 2), number=f"BA{n + 1}")
        for n in range(9)
    ]
    expected = sorted(made, key=lambda f: (f.departs_at, f.id))
    page = await airline.flights.list(page=PageRequest(limit=limit))
    forwards = list(page.items)
    while page.after is not None:
        page = await airline.flights.list(page=PageRequest(limit=limit, after=page.after))
        forwards.extend(page.items)
    backwards = list(page.items)
    while page.before is not None:
        page = await airline.flights.list(page=PageRequest(limit=limit, before=page.before))
        backwards[:0] = page.items
    assert forwards == expected
    assert backwards == expected


async def test_flight_cursor_cannot_continue_another_filter(
    airline: Airline, plane: Airplane
) -> None:
    for n in range(3):
        await schedule(airline, plane, IN_A_WEEK + timedelta(hours=n), number=f"BA{n + 1}")
    page = await airline.flights.list(FlightFilter(airline="BA"), PageRequest(limit=1))
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="belongs to another query"):
        await airline.flights.list(FlightFilter(origin="LHR"), PageRequest(after=page.after))


async def test_airplane_cursor_cannot_page_flights(airline: Airline, plane: Airplane) -> None:
    await add_airplane(airline)
    page = await airline.airplanes.list(page=PageRequest(limit=1))
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="belongs to another query"):
        await airline.flights.list(page=PageRequest(after=page.after))


# Changing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moves",
    [
        [FlightStatus.DELAYED],
        [FlightStatus.CANCELLED],
        [FlightStatus.DELAYED, FlightStatus.SCHEDULED],
        [FlightStatus.DELAYED, FlightStatus.CANCELLED],
    ],
)
async def test_status_moves_allowed(
    airline: Airline, plane: Airplane, moves: list[FlightStatus]
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    for status in moves:
        made = await airline.flights.update(made.id, status=status)
        assert made.status is status
    assert (await airline.flights.get(made.id)).status is moves[-1]


async def test_status_may_be_given_by_its_value(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    updated = await airline.flights.update(made.id, status="delayed")  # type: ignore[arg-type]
    assert updated.status is FlightStatus.DELAYED


async def test_setting_the_same_status_changes_nothing(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    assert await airline.flights.update(made.id, status=FlightStatus.SCHEDULED) == made


@pytest.mark.parametrize("status", [FlightStatus.SCHEDULED, FlightStatus.DELAYED])
async def test_cancelled_flight_stays_cancelled(
    airline: Airline, plane: Airplane, status: FlightStatus
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    await airline.flights.update(made.id, status=FlightStatus.CANCELLED)
    with pytest.raises(Conflict, match="cancelled"):
        await airline.flights.update(made.id, status=status)
    assert (await airline.flights.get(made.id)).status is FlightStatus.CANCELLED


async def test_cancelled_flight_cannot_be_retimed(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    await airline.flights.update(made.id, status=FlightStatus.CANCELLED)
    with pytest.raises(Conflict, match="can no longer change"):
        await airline.flights.update(
            made.id,
            departs_at=IN_A_WEEK + timedelta(hours=1),
            arrives_at=IN_A_WEEK + timedelta(hours=9),
        )


async def test_retime_a_flight(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    updated = await airline.flights.update(
        made.id,
        departs_at=IN_A_WEEK + timedelta(hours=1),
        arrives_at=IN_A_WEEK + timedelta(hours=9, minutes=30),
    )
    assert updated.duration == timedelta(hours=8, minutes=30)
    assert await airline.flights.get(made.id) == updated


async def test_same_instant_in_another_zone_changes_nothing(
    airline: Airline, plane: Airplane
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    assert await airline.flights.update(made.id, departs_at=IN_A_WEEK.astimezone(NEW_YORK)) == made


async def test_retimed_flight_cannot_depart_in_the_past(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(InvalidRequest, match="must be in the future") as caught:
        await airline.flights.update(
            made.id, departs_at=NOW - timedelta(hours=1), arrives_at=NOW + timedelta(hours=7)
        )
    assert broken_fields(caught.value) == ["departs_at"]
    assert await airline.flights.get(made.id) == made


async def test_retimed_flight_must_still_arrive_after_it_departs(
    airline: Airline, plane: Airplane
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(InvalidRequest) as caught:
        await airline.flights.update(made.id, departs_at=IN_A_WEEK + timedelta(hours=9))
    assert broken_fields(caught.value) == ["arrives_at"]


async def test_retiming_onto_a_taken_local_date_is_rejected(
    airline: Airline, plane: Airplane
) -> None:
    await schedule(airline, plane, IN_A_WEEK)
    tomorrow = await schedule(airline, plane, IN_A_WEEK + timedelta(days=1))
    with pytest.raises(AlreadyExists):
        await airline.flights.update(
            tomorrow.id,
            departs_at=IN_A_WEEK + timedelta(hours=2),
            arrives_at=IN_A_WEEK + timedelta(hours=10),
        )


async def test_reprice_a_flight(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    fares = {Cabin.BUSINESS: Money(300_000, "GBP"), Cabin.ECONOMY: Money(49_900, "GBP")}
    assert (await airline.flights.update(made.id, fares=fares)).fares == fares


async def test_new_fares_must_price_the_airplanes_cabins(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(InvalidRequest, match="exactly the airplane's cabins") as caught:
        await airline.flights.update(made.id, fares={Cabin.ECONOMY: Money(1, "GBP")})
    assert broken_fields(caught.value) == ["fares"]


async def test_new_fares_must_follow_the_fare_rules(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(InvalidRequest) as caught:
        await airline.flights.update(
            made.id,
            fares={Cabin.BUSINESS: Money(300_000, "GBP"), Cabin.ECONOMY: Money(500, "EUR")},
        )
    assert broken_fields(caught.value) == ["fares"]


async def test_reequip_a_flight_with_matching_cabins(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    other = await add_airplane(airline, TWO_CABINS)
    assert (await airline.flights.update(made.id, airplane_id=other.id)).airplane_id == other.id


async def test_reequip_with_other_cabins_needs_new_fares(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    narrow = await add_airplane(airline, ECONOMY_ONLY)
    with pytest.raises(InvalidRequest) as caught:
        await airline.flights.update(made.id, airplane_id=narrow.id)
    assert broken_fields(caught.value) == ["fares"]
    updated = await airline.flights.update(
        made.id, airplane_id=narrow.id, fares={Cabin.ECONOMY: Money(45_000, "GBP")}
    )
    assert updated.airplane_id == narrow.id


async def test_reequip_with_an_unknown_airplane_is_rejected(
    airline: Airline, plane: Airplane
) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    with pytest.raises(InvalidRequest, match="no airplane has id") as caught:
        await airline.flights.update(made.id, airplane_id=UNKNOWN_ID)
    assert broken_fields(caught.value) == ["airplane_id"]


async def test_delete_flight_removes_it(airline: Airline, plane: Airplane) -> None:
    made = await schedule(airline, plane, IN_A_WEEK)
    await airline.flights.delete(made.id)
    with pytest.raises(NotFound):
        await airline.flights.get(made.id)
