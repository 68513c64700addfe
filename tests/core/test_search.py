"""Flight search on memory stores: what it finds, how it ranks and pages, what it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from airline_core import (
    Airline,
    Airplane,
    BaseFarePricing,
    Cabin,
    CabinLayout,
    ConnectionRules,
    FakeClock,
    InvalidRequest,
    Money,
    NotFound,
    PageRequest,
    SearchQuery,
    SeatLayout,
    SortOrder,
)
from airline_core.search import Itinerary, best_score
from tests.core.samples import NOW, PLACES, add_airplane, add_airports, schedule

pytestmark = pytest.mark.anyio

DAY = (NOW + timedelta(days=3)).date()
#: 09:00 in London on DAY (London is on GMT in March before the 31st).
MORNING = datetime.combine(DAY, time(9, 0), tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)

PLACES.update(
    {
        "AMS": ("AMS", "Amsterdam", "NL", "Europe/Amsterdam"),
        "FRA": ("FRA", "Frankfurt", "DE", "Europe/Berlin"),
        "MAD": ("MAD", "Madrid", "ES", "Europe/Madrid"),
    }
)


@pytest.fixture
async def airline() -> AsyncIterator[Airline]:
    # Base fares: these tests rank and filter by the fares they schedule.
    async with Airline.in_memory(clock=FakeClock(NOW), pricing=BaseFarePricing()) as memory_airline:
        await add_airports(memory_airline, "LHR", "LGW", "JFK", "CDG", "AMS", "FRA", "MAD")
        yield memory_airline


@pytest.fixture
async def plane(airline: Airline) -> Airplane:
    return await add_airplane(airline)


def query(
    origin: str = "LON", destination: str = "NYC", day: date = DAY, **changes: Any
) -> SearchQuery:
    return SearchQuery(origin=origin, destination=destination, date=day, **changes)


async def found(airline: Airline, search: SearchQuery) -> list[list[str]]:
    """Every itinerary's flight numbers, in rank order, from one big page."""
    page = await airline.search(search, PageRequest(limit=200))
    assert page.after is None
    return [[leg.number for leg in itinerary.segments] for itinerary in page.items]


async def all_pages(airline: Airline, search: SearchQuery, limit: int) -> list[Itinerary]:
    items: list[Itinerary] = []
    page = await airline.search(search, PageRequest(limit=limit))
    items.extend(page.items)
    while page.after is not None:
        page = await airline.search(search, PageRequest(limit=limit, after=page.after))
        items.extend(page.items)
    return items


# What it finds ---------------------------------------------------------------------------------


async def test_direct_flights_on_the_local_date(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, MORNING, number="BA117")
    await schedule(airline, plane, MORNING + timedelta(days=1), number="BA115")  # another day
    await schedule(airline, plane, MORNING, number="BA201", destination="CDG", hours=1)
    assert await found(airline, query("LHR", "JFK")) == [["BA117"]]


async def test_a_city_code_means_each_of_its_airports(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, MORNING, number="BA117", origin="LHR")
    await schedule(airline, plane, MORNING + H, number="BA2273", origin="LGW")
    assert sorted(await found(airline, query("LON", "JFK"))) == [["BA117"], ["BA2273"]]
    assert await found(airline, query("LGW", "NYC")) == [["BA2273"]]


async def test_the_local_date_is_the_origins(airline: Airline, plane: Airplane) -> None:
    # 23:30 in New York on DAY is already the next day in UTC.
    late = datetime.combine(DAY, time(23, 30), tzinfo=UTC) + timedelta(hours=5)
    await schedule(airline, plane, late, number="BA178", origin="JFK", destination="LHR")
    assert await found(airline, query("JFK", "LHR")) == [["BA178"]]
    assert await found(airline, query("JFK", "LHR", DAY + timedelta(days=1))) == []


async def test_connections_within_the_minimum_and_maximum(
    airline: Airline, plane: Airplane
) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    arrival = MORNING + H
    await schedule(airline, plane, arrival + 45 * M, number="AF1", origin="CDG")
    await schedule(airline, plane, arrival + 44 * M, number="AF2", origin="CDG")
    await schedule(airline, plane, arrival + 6 * H, number="AF3", origin="CDG")
    await schedule(airline, plane, arrival + 6 * H + M, number="AF4", origin="CDG")
    assert sorted(await found(airline, query())) == [["BA304", "AF1"], ["BA304", "AF3"]]


async def test_an_airport_may_need_a_longer_connection(plane: Airplane) -> None:
    rules = ConnectionRules(minimum_at={"CDG": timedelta(minutes=90)})
    async with Airline.in_memory(clock=FakeClock(NOW), connections=rules) as airline:
        await add_airports(airline, "LHR", "JFK", "CDG", "AMS")
        plane = await add_airplane(airline)
        await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
        await schedule(airline, plane, MORNING, number="BA428", destination="AMS", hours=1)
        await schedule(airline, plane, MORNING + H + 60 * M, number="AF1", origin="CDG")
        await schedule(airline, plane, MORNING + H + 90 * M, number="AF3", origin="CDG")
        await schedule(airline, plane, MORNING + H + 60 * M, number="KL1", origin="AMS")
        assert sorted(await found(airline, query())) == [["BA304", "AF3"], ["BA428", "KL1"]]


async def test_a_connection_may_leave_on_the_next_day(airline: Airline, plane: Airplane) -> None:
    evening = datetime.combine(DAY, time(21, 0), tzinfo=UTC)
    await schedule(airline, plane, evening, number="BA304", destination="CDG", hours=1)
    await schedule(airline, plane, evening + 4 * H, number="AF1", origin="CDG")  # 02:00 next day
    assert await found(airline, query()) == [["BA304", "AF1"]]
    # ...but the first flight must leave on the date searched.
    assert await found(airline, query(day=DAY + timedelta(days=1))) == []


async def test_connections_never_revisit_an_airport_or_the_end_cities(
    airline: Airline, plane: Airplane
) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    await schedule(
        airline, plane, MORNING + 3 * H, number="AF10", origin="CDG", destination="LGW", hours=1
    )
    await schedule(airline, plane, MORNING + 5 * H, number="BA2273", origin="LGW")
    await schedule(
        airline, plane, MORNING + 3 * H, number="AF20", origin="CDG", destination="LHR", hours=1
    )
    await schedule(airline, plane, MORNING + 5 * H, number="BA117", origin="LHR")
    two_stops = query(max_stops=2)
    # Through London again (either airport) is never offered; straight from London is.
    assert sorted(await found(airline, two_stops)) == [["BA117"], ["BA2273"]]


async def test_two_stops_only_when_asked(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    await schedule(
        airline, plane, MORNING + 2 * H, number="AF10", origin="CDG", destination="AMS", hours=1
    )
    await schedule(airline, plane, MORNING + 4 * H, number="KL641", origin="AMS")
    assert await found(airline, query()) == []
    assert await found(airline, query(max_stops=2)) == [["BA304", "AF10", "KL641"]]


async def test_no_stops_means_direct_only(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, MORNING, number="BA117")
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    await schedule(airline, plane, MORNING + 2 * H, number="AF22", origin="CDG")
    assert sorted(await found(airline, query())) == [["BA117"], ["BA304", "AF22"]]
    assert await found(airline, query(max_stops=0)) == [["BA117"]]


async def test_the_cabin_must_exist_and_have_the_seats(airline: Airline) -> None:
    small = SeatLayout(
        cabins=(
            CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=1, seats="AC-DF"),
            CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=30, seats="ABC-DEF"),
        )
    )
    plane = await add_airplane(airline, small)
    await schedule(airline, plane, MORNING, number="BA117")
    assert await found(airline, query(cabin="business", passengers=4)) == [["BA117"]]
    assert await found(airline, query(cabin="business", passengers=5)) == []
    assert await found(airline, query(cabin="first")) == []
    [itinerary] = (await airline.search(query(cabin="business", passengers=3))).items
    assert itinerary.seats_available == 4


async def test_cancelled_and_departed_flights_are_not_offered(
    airline: Airline, plane: Airplane
) -> None:
    cancelled = await schedule(airline, plane, MORNING, number="BA117")
    await airline.flights.update(cancelled.id, status="cancelled")
    soon = await schedule(airline, plane, NOW + H, number="BA115")
    today = SearchQuery(origin="LHR", destination="JFK", date=NOW.date())
    assert await found(airline, query()) == []
    assert await found(airline, today) == [["BA115"]]
    airline.clock.advance(hours=1)  # type: ignore[attr-defined] # the FakeClock of the fixture
    assert soon.departs_at <= airline.clock.now()
    assert await found(airline, today) == []


async def test_price_is_for_the_party_and_filters_on_it(airline: Airline, plane: Airplane) -> None:
    def fares(economy: int) -> dict[str, Money]:
        return {"business": Money(100_000, "GBP"), "economy": Money(economy, "GBP")}

    await schedule(airline, plane, MORNING, number="BA117", fares=fares(30_000))
    await schedule(airline, plane, MORNING + H, number="BA115", fares=fares(50_000))
    pair = query("LHR", "JFK", passengers=2, sort="price")
    page = await airline.search(pair)
    assert [it.price for it in page.items] == [Money(60_000, "GBP"), Money(100_000, "GBP")]
    assert await found(airline, attrs.evolve(pair, max_price=Decimal(600))) == [["BA117"]]
    assert await found(airline, attrs.evolve(pair, min_price=Decimal("600.01"))) == [["BA115"]]
    between = attrs.evolve(pair, min_price=Decimal(601), max_price=Decimal(999))
    assert await found(airline, between) == []


async def test_departure_window_is_local_time_at_the_origin(
    airline: Airline, plane: Airplane
) -> None:
    # March 31st 2030: London moves to BST at 01:00 UTC.
    switch_day = date(2030, 3, 31)
    before_switch = datetime(2030, 3, 31, 0, 30, tzinfo=UTC)  # 00:30 GMT
    after_switch = datetime(2030, 3, 31, 1, 30, tzinfo=UTC)  # 02:30 BST
    await schedule(airline, plane, before_switch, number="BA1")
    await schedule(airline, plane, after_switch, number="BA3")
    night = SearchQuery(origin="LHR", destination="JFK", date=switch_day, sort="departure")
    assert await found(airline, night) == [["BA1"], ["BA3"]]
    early = attrs.evolve(night, depart_before=time(2, 0))
    assert await found(airline, early) == [["BA1"]]
    late = attrs.evolve(night, depart_after=time(2, 30), depart_before=time(2, 30))
    assert await found(airline, late) == [["BA3"]]


async def test_every_segment_must_be_one_of_the_airlines(airline: Airline, plane: Airplane) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    await schedule(airline, plane, MORNING + 2 * H, number="AF22", origin="CDG")
    await schedule(airline, plane, MORNING + 3 * H, number="BA229", origin="CDG")
    assert await found(airline, query(airlines=["BA"])) == [["BA304", "BA229"]]
    assert sorted(await found(airline, query(airlines=["BA", "AF"]))) == [
        ["BA304", "AF22"],
        ["BA304", "BA229"],
    ]
    assert await found(airline, query(airlines=["AF"])) == []


async def test_max_duration_is_first_departure_to_last_arrival(
    airline: Airline, plane: Airplane
) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    await schedule(airline, plane, MORNING + 2 * H, number="AF22", origin="CDG", hours=8)
    assert await found(airline, query(max_duration=600)) == [["BA304", "AF22"]]
    assert await found(airline, query(max_duration=599)) == []


async def test_flights_sold_in_other_currencies_are_not_combined(
    airline: Airline, plane: Airplane
) -> None:
    await schedule(airline, plane, MORNING, number="BA304", destination="CDG", hours=1)
    euros = {cabin: Money(20_000, "EUR") for cabin in plane.layout.cabin_classes}
    await schedule(airline, plane, MORNING + 2 * H, number="AF22", origin="CDG", fares=euros)
    assert await found(airline, query()) == []


# How it ranks and pages --------------------------------------------------------------------------


async def test_best_trades_price_against_time_as_documented(
    airline: Airline, plane: Airplane
) -> None:
    def economy(pounds: int) -> dict[str, Money]:
        return {"business": Money(200_000, "GBP"), "economy": Money(pounds * 100, "GBP")}

    # The worked example of docs/search.md: a direct flight at 380 against a one-stop at 300
    # (150 + 150) that takes two hours longer.
    direct = await schedule(airline, plane, MORNING, number="BA117", hours=8, fares=economy(380))
    await schedule(
        airline, plane, MORNING, number="BA304", destination="CDG", hours=1, fares=economy(150)
    )
    await schedule(
        airline, plane, MORNING + 2 * H, number="BA229", origin="CDG", hours=8, fares=economy(150)
    )
    page = await airline.search(query("LHR", "JFK"))
    assert [[leg.number for leg in it.segments] for it in page.items] == [
        ["BA117"],
        ["BA304", "BA229"],
    ]
    best, other = page.items
    # 380 + 480 min x 0.5 + 540 min after midnight x 0.05, in 1/10,000 of a pound.
    assert best_score(best) == (380 + 240 + 27) * 10_000
    assert best_score(other) == (300 + 300 + 50 + 27) * 10_000
    assert best.segments[0].flight_id == direct.id
    by_price = await airline.search(query("LHR", "JFK", sort="price"))
    assert [it.stops for it in by_price.items] == [1, 0]


async def test_each_order_and_ties_broken_by_id(airline: Airline, plane: Airplane) -> None:
    same = {"business": Money(100_000, "GBP"), "economy": Money(40_000, "GBP")}
    first = await schedule(airline, plane, MORNING, number="BA117", hours=8, fares=same)
    second = await schedule(airline, plane, MORNING, number="BA119", hours=8, fares=same)
    later = await schedule(airline, plane, MORNING + H, number="BA115", hours=7, fares=same)

    def ids(page: Any) -> list[str]:
        return [it.id for it in page.items]

    expected_tie = sorted([first.id, second.id])
    assert ids(await airline.search(query("LHR", "JFK", sort="departure"))) == [
        *expected_tie,
        later.id,
    ]
    assert ids(await airline.search(query("LHR", "JFK", sort="duration"))) == [
        later.id,
        *expected_tie,
    ]
    assert ids(await airline.search(query("LHR", "JFK", sort="price")))[:2] == expected_tie


async def many_itineraries(airline: Airline, plane: Airplane) -> None:
    for index in range(12):
        await schedule(airline, plane, MORNING + index * 10 * M, number=f"BA{100 + index}")
        await schedule(
            airline,
            plane,
            MORNING + index * 10 * M,
            number=f"BA{300 + index}",
            destination="CDG",
            hours=1,
        )
        await schedule(
            airline, plane, MORNING + 2 * H + index * 15 * M, number=f"AF{index + 1}", origin="CDG"
        )


@pytest.mark.parametrize("order", list(SortOrder))
@pytest.mark.parametrize("limit", [1, 7, 200])
async def test_paging_forwards_and_back_shows_each_itinerary_once(
    airline: Airline, plane: Airplane, order: SortOrder, limit: int
) -> None:
    await many_itineraries(airline, plane)
    search = query(sort=order)
    everything = (await airline.search(search, PageRequest(limit=200))).items
    assert len(everything) > 20
    assert [it.id for it in await all_pages(airline, search, limit)] == [it.id for it in everything]
    page = await airline.search(search, PageRequest(limit=limit))
    while page.after is not None:
        page = await airline.search(search, PageRequest(limit=limit, after=page.after))
    backwards = list(page.items)
    while page.before is not None:
        page = await airline.search(search, PageRequest(limit=limit, before=page.before))
        backwards[:0] = page.items
    assert [it.id for it in backwards] == [it.id for it in everything]


async def test_a_cursor_only_continues_its_own_query(airline: Airline, plane: Airplane) -> None:
    await many_itineraries(airline, plane)
    page = await airline.search(query(), PageRequest(limit=2))
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="another query"):
        await airline.search(query(passengers=2), PageRequest(limit=2, after=page.after))
    with pytest.raises(InvalidRequest, match="another query"):
        await airline.search(query(sort="price"), PageRequest(limit=2, after=page.after))
    with pytest.raises(InvalidRequest, match="not a cursor"):
        await airline.search(query(), PageRequest(limit=2, after="not-a-cursor"))


async def test_pages_stay_put_when_unrelated_flights_are_added(
    airline: Airline, plane: Airplane
) -> None:
    await many_itineraries(airline, plane)
    search = query()
    first = await airline.search(search, PageRequest(limit=5))
    second_before = await airline.search(search, PageRequest(limit=5, after=first.after))
    await schedule(airline, plane, MORNING, number="AF900", origin="CDG", destination="MAD")
    await schedule(airline, plane, MORNING, number="BA900", destination="MAD")
    second_after = await airline.search(search, PageRequest(limit=5, after=first.after))
    assert [it.id for it in second_after.items] == [it.id for it in second_before.items]


# What it refuses ---------------------------------------------------------------------------------


async def test_unknown_codes_are_not_found_by_name(airline: Airline) -> None:
    with pytest.raises(NotFound, match="XYZ") as raised:
        await airline.search(query("XYZ", "NYC"))
    assert [error.field for error in raised.value.errors] == ["origin"]
    with pytest.raises(NotFound, match="QQQ"):
        await airline.search(query("LON", "QQQ"))


async def test_a_city_and_one_of_its_airports_are_one_place(airline: Airline) -> None:
    with pytest.raises(InvalidRequest, match="shares an airport"):
        await airline.search(query("LON", "LHR"))


async def test_a_past_date_is_refused(airline: Airline) -> None:
    with pytest.raises(InvalidRequest, match="past"):
        await airline.search(query(day=NOW.date() - timedelta(days=1)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"destination": "LON"}, "destination"),
        ({"origin": "lhr"}, "origin"),
        ({"passengers": 0}, "passengers"),
        ({"passengers": 10}, "passengers"),
        ({"max_stops": 3}, "max_stops"),
        ({"cabin": "steerage"}, "cabin"),
        ({"sort": "cheapest"}, "sort"),
        ({"min_price": Decimal(500), "max_price": Decimal(100)}, "min_price"),
        ({"min_price": Decimal(-1)}, "min_price"),
        ({"depart_after": time(18), "depart_before": time(6)}, "depart_after"),
        ({"airlines": ["B"]}, "airlines"),
        ({"airlines": []}, "airlines"),
        ({"max_duration": 0}, "max_duration"),
    ],
)
def test_bad_queries_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        SearchQuery(**{"origin": "LON", "destination": "NYC", "date": DAY, **changes})
    assert field in [error.field for error in raised.value.errors]


def test_several_bad_fields_are_named_at_once() -> None:
    with pytest.raises(InvalidRequest) as raised:
        SearchQuery(origin="LON", destination="LON", date=DAY, passengers=12, max_stops=-1)
    assert [error.field for error in raised.value.errors] == [
        "destination",
        "passengers",
        "max_stops",
    ]


def test_connection_rules_are_checked() -> None:
    with pytest.raises(InvalidRequest):
        ConnectionRules(minimum=timedelta(hours=7))
    with pytest.raises(InvalidRequest):
        ConnectionRules(minimum_at={"LHR": timedelta(hours=9)})
    assert ConnectionRules(minimum_at={"LHR": timedelta(minutes=90)}).minimum_for("LHR") == 90 * M
    assert ConnectionRules().minimum_for("LHR") == 45 * M
