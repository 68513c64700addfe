"""The seed: real airports, realistic airplanes, a schedule the core accepts, safe to re-run."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from airline_core import (
    Airline,
    Airplane,
    Cabin,
    FakeClock,
    Flight,
    FlightFilter,
    PageRequest,
    SeatKind,
)
from airline_runtime.seed import (
    AIRBUS_A320NEO,
    BOEING_737_MAX_8,
    BOEING_777_300ER,
    BOEING_787_9,
    BUSIEST_AIRPORTS,
    FLEET,
    AirplaneSpec,
    SeedReport,
    busiest_airports,
    cities_of,
    great_circle_km,
    schedule_flights,
    seed_catalog,
    seed_demo,
)

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
TOMORROW = date(2030, 3, 2)
SINGLE_AISLES = {AIRBUS_A320NEO.model, BOEING_737_MAX_8.model}
TWIN_AISLES = {BOEING_787_9.model, BOEING_777_300ER.model}


@pytest.fixture
async def airline() -> AsyncIterator[Airline]:
    async with Airline.in_memory(clock=FakeClock(NOW)) as airline:
        yield airline


async def all_flights(airline: Airline, criteria: FlightFilter | None = None) -> list[Flight]:
    criteria = criteria or FlightFilter()
    page = await airline.flights.list(criteria, PageRequest(limit=200))
    flights = list(page.items)
    while page.after is not None:
        page = await airline.flights.list(criteria, PageRequest(limit=200, after=page.after))
        flights.extend(page.items)
    return flights


async def all_airplanes(airline: Airline) -> dict[str, Airplane]:
    page = await airline.airplanes.list(page=PageRequest(limit=200))
    return {airplane.id: airplane for airplane in page.items}


def seeded(seed: int) -> random.Random:
    return random.Random(seed)


def paper_fleet() -> dict[str, Airplane]:
    return {
        spec.model: Airplane(id=f"plane-{index}", model=spec.model, layout=spec.layout)
        for index, spec in enumerate(FLEET)
    }


@pytest.mark.parametrize(
    ("spec", "capacity", "cabins"),
    [
        (AIRBUS_A320NEO, 180, {Cabin.ECONOMY}),
        (BOEING_737_MAX_8, 172, {Cabin.BUSINESS, Cabin.ECONOMY}),
        (BOEING_787_9, 297, {Cabin.BUSINESS, Cabin.PREMIUM_ECONOMY, Cabin.ECONOMY}),
        (BOEING_777_300ER, 300, {Cabin.BUSINESS, Cabin.ECONOMY}),
    ],
)
def test_layouts_have_realistic_capacities(
    spec: AirplaneSpec, capacity: int, cabins: set[Cabin]
) -> None:
    assert spec.layout.capacity == capacity
    assert spec.layout.cabin_classes == cabins


def test_a320neo_is_single_aisle_with_overwing_exits() -> None:
    economy = AIRBUS_A320NEO.layout.cabin(Cabin.ECONOMY)
    assert economy is not None
    assert (economy.first_row, economy.last_row, economy.seats) == (1, 30, "ABC-DEF")
    assert economy.exit_rows == (12, 13)
    kinds = {seat.letter: seat.kind for seat in economy.iter_seats() if seat.row == 1}
    assert kinds == {
        "A": SeatKind.WINDOW,
        "B": SeatKind.MIDDLE,
        "C": SeatKind.AISLE,
        "D": SeatKind.AISLE,
        "E": SeatKind.MIDDLE,
        "F": SeatKind.WINDOW,
    }


def test_twin_aisle_business_gives_every_seat_an_aisle() -> None:
    business = BOEING_787_9.layout.cabin(Cabin.BUSINESS)
    assert business is not None
    assert {business.kind_of(letter) for letter in "DG"} == {SeatKind.AISLE}
    assert {business.kind_of(letter) for letter in "AK"} == {SeatKind.WINDOW}


def test_busiest_airports_come_from_airportsdata_with_their_cities() -> None:
    airports = busiest_airports(12)
    assert [airport.code for airport in airports][:4] == ["ATL", "DXB", "DFW", "LHR"]
    by_code = {airport.code: airport for airport in airports}
    assert by_code["LHR"].city == "LON"
    assert by_code["LHR"].time_zone == "Europe/London"
    assert by_code["JFK"].city == "NYC"
    assert by_code["ATL"].city == "ATL"  # a single-airport city has the airport's code
    cities = {city.code: city for city in cities_of(airports)}
    assert cities["LON"].name == "London"
    assert cities["LON"].country == "GB"
    assert cities["TYO"].name == "Tokyo"
    assert len(cities) == len({airport.city for airport in airports})


def test_the_busiest_airports_span_every_continent() -> None:
    airports = busiest_airports(len(BUSIEST_AIRPORTS))
    assert len(airports) == len(BUSIEST_AIRPORTS) == len(set(BUSIEST_AIRPORTS))
    regions = {airport.time_zone.split("/")[0] for airport in airports}
    assert {"America", "Europe", "Asia", "Africa", "Australia", "Pacific"} <= regions


def test_great_circle_distance_matches_published_figures() -> None:
    by_code = {airport.code: airport for airport in busiest_airports(12)}
    assert 5_500 < great_circle_km(by_code["LHR"], by_code["JFK"]) < 5_600
    assert great_circle_km(by_code["LHR"], by_code["JFK"]) == pytest.approx(
        great_circle_km(by_code["JFK"], by_code["LHR"])
    )


def test_the_same_seed_gives_the_same_schedule() -> None:
    airports = busiest_airports(20)

    def plan(seed: int) -> list[tuple[str, str, str, datetime]]:
        drafts = schedule_flights(airports, paper_fleet(), start=TOMORROW, days=2, rng=seeded(seed))
        return [(d.number, d.origin, d.destination, d.departs_at) for d in drafts]

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)


def test_every_day_repeats_the_same_numbers_at_the_same_local_times() -> None:
    drafts = schedule_flights(
        busiest_airports(15), paper_fleet(), start=TOMORROW, days=3, rng=seeded(1)
    )
    airports = {airport.code: airport for airport in busiest_airports(15)}

    def local_time(number: str, day: int) -> str:
        draft = next(
            d
            for d in drafts
            if d.number == number
            and d.departs_at.astimezone(airports[d.origin].zone).date()
            == TOMORROW + timedelta(days=day)
        )
        return draft.departs_at.astimezone(airports[draft.origin].zone).strftime("%H:%M")

    number = drafts[0].number
    assert local_time(number, 0) == local_time(number, 1) == local_time(number, 2)


def test_schedule_picks_airplanes_by_distance_and_prices_each_cabin() -> None:
    fleet = paper_fleet()
    models = {airplane.id: airplane for airplane in fleet.values()}
    airports = {airport.code: airport for airport in busiest_airports(30)}
    drafts = schedule_flights(list(airports.values()), fleet, start=TOMORROW, days=1, rng=seeded(7))
    assert drafts
    for draft in drafts:
        airplane = models[draft.airplane_id]
        distance = great_circle_km(airports[draft.origin], airports[draft.destination])
        assert airplane.model in (TWIN_AISLES if distance >= 4_000 else SINGLE_AISLES)
        assert set(draft.fares) == set(airplane.layout.cabin_classes)
        assert len({money.currency for money in draft.fares.values()}) == 1
        economy = draft.fares[Cabin.ECONOMY]
        for cabin, money in draft.fares.items():
            if cabin is not Cabin.ECONOMY:
                assert money.minor_units > economy.minor_units
    long_haul = [d for d in drafts if models[d.airplane_id].model in TWIN_AISLES]
    short_haul = [d for d in drafts if models[d.airplane_id].model in SINGLE_AISLES]
    assert long_haul
    assert short_haul
    # Fares grow with distance: the average long-haul economy fare beats the short-haul one.
    usd = [d for d in drafts if d.fares[Cabin.ECONOMY].currency == "USD"]
    long_usd = [d.fares[Cabin.ECONOMY].minor_units for d in usd if d in long_haul]
    short_usd = [d.fares[Cabin.ECONOMY].minor_units for d in usd if d in short_haul]
    assert sum(long_usd) / len(long_usd) > 3 * sum(short_usd) / len(short_usd)


async def test_seed_catalog_creates_a_valid_bookable_network(airline: Airline) -> None:
    report = await seed_catalog(airline, airports=20, days=3)

    assert report.airports == 20
    assert report.airplanes == len(FLEET)
    assert report.cities == len(cities_of(busiest_airports(20)))
    assert (report.first_day, report.last_day) == (TOMORROW, TOMORROW + timedelta(days=2))
    flights = await all_flights(airline)
    assert len(flights) == report.flights > 0
    airplanes = await all_airplanes(airline)
    for flight in flights:
        assert flight.departs_at > NOW
        assert set(flight.fares) == set(airplanes[flight.airplane_id].layout.cabin_classes)
        local = flight.departs_at_local
        minutes = local.hour * 60 + local.minute
        assert 6 * 60 <= minutes <= 22 * 60 + 30, flight
        assert local.minute % 5 == 0
        assert timedelta(minutes=45) <= flight.duration <= timedelta(hours=20)
    departures = Counter((flight.number, flight.departs_on) for flight in flights)
    assert max(departures.values()) == 1
    assert {flight.departs_on for flight in flights} == {
        TOMORROW + timedelta(days=offset) for offset in range(3)
    }


async def test_transatlantic_flights_take_between_six_and_nine_hours(airline: Airline) -> None:
    await seed_catalog(airline, airports=12, days=2)

    flights = await all_flights(airline, FlightFilter(origin="LHR", destination="JFK"))
    flights += await all_flights(airline, FlightFilter(origin="JFK", destination="LHR"))
    assert flights
    for flight in flights:
        assert timedelta(hours=6) <= flight.duration <= timedelta(hours=9)
        assert flight.airline in {"BA", "B6"}  # flown by the carriers based at either end
    assert {flight.currency for flight in flights if flight.origin == "LHR"} == {"GBP"}


async def test_frequencies_fall_with_distance(airline: Airline) -> None:
    await seed_catalog(airline, airports=40, days=1)

    per_route = Counter((f.origin, f.destination) for f in await all_flights(airline))
    assert set(per_route.values()) <= {1, 2, 3, 4}
    airports = {airport.code: airport for airport in busiest_airports(40)}
    long_haul = [
        count
        for (origin, destination), count in per_route.items()
        if great_circle_km(airports[origin], airports[destination]) > 8_000
    ]
    assert max(long_haul) <= 2
    assert max(per_route.values()) == 4


async def test_running_again_adds_nothing_twice(airline: Airline) -> None:
    first = await seed_catalog(airline, airports=12, days=3)

    again = await seed_catalog(airline, airports=12, days=3)

    assert (again.cities, again.airports, again.airplanes, again.flights) == (0, 0, 0, 0)
    assert again.skipped_flights == first.flights
    assert str(again).startswith("nothing new to seed")
    assert len(await all_flights(airline)) == first.flights


async def test_running_later_adds_only_the_new_days(airline: Airline) -> None:
    first = await seed_catalog(airline, airports=12, days=3)

    later = await seed_catalog(airline, airports=12, days=3, start=TOMORROW + timedelta(days=1))

    assert later.airplanes == 0
    assert later.flights == first.flights // 3
    newest = TOMORROW + timedelta(days=3)
    assert len(await all_flights(airline, FlightFilter(departs_on=newest))) == later.flights


async def test_departures_too_close_to_now_are_skipped(airline: Airline) -> None:
    report = await seed_catalog(airline, airports=12, days=1, start=NOW.date())

    assert report.skipped_flights > 0
    flights = await all_flights(airline)
    assert len(flights) == report.flights > 0
    assert min(flight.departs_at for flight in flights) > NOW + timedelta(minutes=30)


async def test_progress_is_reported_for_each_stage(airline: Airline) -> None:
    calls: list[tuple[str, int, int]] = []

    report = await seed_catalog(
        airline, airports=40, days=3, progress=lambda *call: calls.append(call)
    )

    stages = list(dict.fromkeys(stage for stage, _done, _total in calls))
    assert stages == ["cities", "airports", "airplanes", "flights"]
    for stage in stages:
        mine = [(done, total) for name, done, total in calls if name == stage]
        assert mine[0][0] == 0
        assert mine[-1][0] == mine[-1][1]
        assert [done for done, _total in mine] == sorted(done for done, _total in mine)
    flight_calls = [call for call in calls if call[0] == "flights"]
    assert flight_calls[-1] == ("flights", report.flights, report.flights)
    assert len(flight_calls) > 2  # more than one batch at this size


async def test_seed_demo_loads_once(airline: Airline) -> None:
    report = await seed_demo(airline)

    assert report is not None
    assert report.airports == 12
    assert report.last_day - report.first_day == timedelta(days=6)
    assert await seed_demo(airline) is None


async def test_seed_demo_leaves_a_catalog_with_airports_alone(airline: Airline) -> None:
    await airline.cities.create(code="LON", name="London", country="GB")
    await airline.airports.create(
        code="LCY",
        name="London City Airport",
        city="LON",
        country="GB",
        time_zone="Europe/London",
        latitude=51.5053,
        longitude=0.055,
    )

    assert await seed_demo(airline) is None


async def test_existing_cities_and_airports_are_kept(airline: Airline) -> None:
    london = await airline.cities.create(code="LON", name="Greater London", country="GB")

    report = await seed_catalog(airline, airports=12, days=1)

    assert report.cities == len(cities_of(busiest_airports(12))) - 1
    assert (await airline.cities.get_by_code("LON")) == london


def test_report_reads_as_one_line() -> None:
    report = SeedReport(
        cities=10,
        airports=12,
        airplanes=4,
        flights=1_234,
        skipped_flights=0,
        first_day=TOMORROW,
        last_day=TOMORROW + timedelta(days=6),
    )
    assert str(report) == (
        "seeded 10 cities, 12 airports, 4 airplanes and 1,234 flights for 2030-03-02 to 2030-03-08"
    )
    assert "\n" not in str(report)


def test_defaults_are_rejected_when_meaningless() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        busiest_airports(1)
    with pytest.raises(ValueError, match="days"):
        schedule_flights(busiest_airports(3), paper_fleet(), start=TOMORROW, days=0, rng=seeded(0))
