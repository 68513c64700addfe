"""Dynamic pricing by fare buckets, and choosing seats for a party."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airline_core import Cabin, CabinLayout, InvalidRequest, Leg
from airline_core.booking import choose_seats
from airline_core.pricing import DynamicPricing, LoadBucket, WindowBucket

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
LAYOUT = CabinLayout(cabin=Cabin.ECONOMY, first_row=10, last_row=13, seats="ABC-DEF")


def leg(*, left: int, capacity: int = 100, days: float = 30, fare: int = 10_000) -> Leg:
    departs = NOW + timedelta(days=days)
    return Leg(
        "F1", "BA1", "BA", "LHR", "JFK", departs, departs + timedelta(hours=8),
        "Europe/London", "America/New_York", fare, "GBP", left, capacity,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("left", "percent"),
    [(100, 100), (61, 100), (60, 115), (41, 115), (40, 135), (26, 135), (25, 160), (11, 160),
     (10, 200), (0, 200)],
)  # fmt: skip
def test_the_load_bucket_follows_the_share_taken(left: int, percent: int) -> None:
    pricing = DynamicPricing()
    assert pricing.load_bucket(leg(left=left)).percent == percent
    assert pricing.price(leg(left=left), 1, NOW).minor_units == 10_000 * percent // 100


@pytest.mark.parametrize(
    ("days", "percent"),
    [(90, 90), (60, 90), (59.9, 100), (21, 100), (20.5, 115), (7, 115), (6, 130), (3, 130),
     (2.9, 150), (0.01, 150)],
)  # fmt: skip
def test_the_window_bucket_follows_whole_days_to_departure(days: float, percent: int) -> None:
    assert DynamicPricing().window_bucket(leg(left=100, days=days), NOW).percent == percent


def test_both_factors_multiply_and_round_half_up() -> None:
    pricing = DynamicPricing()
    # 12,345 * 160% * 130% = 25,677.6 -> 25,678; for three, three times that.
    price = pricing.price(leg(left=20, days=5, fare=12_345), 3, NOW)
    assert price.minor_units == 3 * 25_678
    assert price.currency == "GBP"


@given(
    st.integers(0, 100),
    st.integers(0, 100),
    st.floats(0, 400),
    st.integers(0, 1_000_000),
)
def test_a_fuller_cabin_never_costs_less(a: int, b: int, days: float, fare: int) -> None:
    pricing = DynamicPricing()
    fuller, emptier = sorted((a, b))
    assert pricing.unit_price(leg(left=fuller, days=days, fare=fare), NOW) >= pricing.unit_price(
        leg(left=emptier, days=days, fare=fare), NOW
    )


def test_bucket_tables_are_checked() -> None:
    with pytest.raises(InvalidRequest, match="load_buckets"):
        DynamicPricing(load_buckets=(LoadBucket("all", 0.5, 100),))
    with pytest.raises(InvalidRequest, match="window_buckets"):
        DynamicPricing(window_buckets=(WindowBucket("late", 3, 100), WindowBucket("early", 9, 90)))


def free_except(*taken: str) -> set[str]:
    return {seat.label for seat in LAYOUT.iter_seats()} - set(taken)


def test_a_party_sits_in_one_section_when_it_can() -> None:
    for seed in range(20):
        seats = choose_seats(LAYOUT, free_except(), 3, rng=random.Random(seed))
        assert seats is not None
        assert len({s[:-1] for s in seats}) == 1
        assert {s[-1] for s in seats} in ({"A", "B", "C"}, {"D", "E", "F"})


def test_a_party_crosses_the_aisle_before_splitting_rows() -> None:
    # Each row keeps only C, D and E free: three together only across the aisle.
    taken = [f"{row}{letter}" for row in range(10, 14) for letter in "ABF"]
    seats = choose_seats(LAYOUT, free_except(*taken), 3, rng=random.Random(1))
    assert seats is not None
    assert sorted(s[-1] for s in seats) == ["C", "D", "E"]
    assert len({s[:-1] for s in seats}) == 1


def test_a_party_that_fits_no_row_takes_the_fewest_rows() -> None:
    free = {"10A", "10F", "12B", "12C", "13A"}
    seats = choose_seats(LAYOUT, free, 3, rng=random.Random(3))
    assert seats is not None
    assert set(seats) <= free
    rows = sorted({int(s[:-1]) for s in seats})
    assert rows[-1] - rows[0] <= 2


def test_a_single_traveller_gets_a_window_or_an_aisle() -> None:
    for seed in range(30):
        [seat] = choose_seats(LAYOUT, free_except(), 1, rng=random.Random(seed)) or []
        assert seat[-1] in "ACDF"
    assert choose_seats(LAYOUT, {"11B"}, 1) == ["11B"]


def test_the_rest_of_a_party_sits_beside_those_who_chose() -> None:
    seats = choose_seats(LAYOUT, free_except("12A"), 2, near=["12A"], rng=random.Random(5))
    assert seats == ["12B", "12C"]


def test_too_few_free_seats_is_none() -> None:
    assert choose_seats(LAYOUT, {"10A", "10B"}, 3) is None
    assert choose_seats(LAYOUT, {"99Z", "10A"}, 2) is None  # unknown labels do not count
    assert choose_seats(LAYOUT, set(), 0) == []


@given(st.sets(st.sampled_from(sorted(free_except()))), st.integers(1, 9), st.integers(0, 99))
def test_chosen_seats_are_free_distinct_and_enough(free: set[str], n: int, seed: int) -> None:
    seats = choose_seats(LAYOUT, free, n, rng=random.Random(seed))
    if len(free) < n:
        assert seats is None
    else:
        assert seats is not None
        assert len(seats) == n == len(set(seats))
        assert set(seats) <= free


def test_a_hold_picks_away_from_seats_others_in_this_process_are_claiming() -> None:
    from airline_core.booking import Offer
    from airline_core.booking.service import Bookings, _Picking
    from airline_core.money import Money
    from tests.contract import samples

    layout = CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=1, seats="AB")
    flight = samples.flight(samples.airplane(), datetime(2030, 3, 1, 9, tzinfo=UTC))
    now = datetime(2030, 2, 1, tzinfo=UTC)
    offer = Offer(
        id="o",
        user_id="u",
        flight_ids=[flight.id],
        cabin=Cabin.ECONOMY,
        passengers=1,
        unit_prices=[Money(100, "GBP")],
        created_at=now,
        expires_at=now + timedelta(minutes=20),
    )
    picking = _Picking()
    picking.add(flight.id, "1A")
    layouts = {flight.id: layout}
    for _ in range(20):
        (seat,) = Bookings._assign(offer, [flight], layouts, (), {}, {}, picking)
        assert seat.seat == "1B"
    # With only the busy seat free, it is still picked: the claim decides.
    (seat,) = Bookings._assign(offer, [flight], layouts, (), {}, {flight.id: {"1B"}}, picking)
    assert seat.seat == "1A"
    picking.done(flight.id, "1A", won=False)
    assert not picking.on(flight.id)
    # A seat won stays known for a moment (reads that began before its commit miss it).
    picking.add(flight.id, "1B")
    picking.done(flight.id, "1B", won=True)
    assert set(picking.on(flight.id)) == {"1B"}
    brief = _Picking(recent=0.0)
    brief.add(flight.id, "1B")
    brief.done(flight.id, "1B", won=True)
    assert not brief.on(flight.id)


def test_airplane_layouts_are_remembered_for_a_minute() -> None:
    from airline_core.booking.service import AirplaneLayouts
    from airline_core.clock import FakeClock
    from tests.contract import samples

    plane = samples.airplane()
    clock = FakeClock()
    layouts = AirplaneLayouts(clock)
    assert layouts.known(plane.id) is None  # the hold's store reads it, in the hold
    layouts.remember(plane)
    assert layouts.known(plane.id) is plane
    clock.advance(seconds=59)
    assert layouts.known(plane.id) is plane
    clock.advance(seconds=1)
    assert layouts.known(plane.id) is None  # read again by the next hold


def test_one_traveller_is_drawn_a_free_window_or_aisle_seat_or_told_to_look_further() -> None:
    from airline_core.booking.seating import pick_one

    layout = CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=2, seats="ABC-DEF")
    preferred = set(layout.window_and_aisle_labels)
    assert preferred == {"1A", "1C", "1D", "1F", "2A", "2C", "2D", "2F"}
    seen = {pick_one(layout, {"1A"}, {"2F"}, rng=random.Random(n)) for n in range(200)}
    assert seen == preferred - {"1A", "2F"}  # every other preferred seat, and only those
    # Only middle seats free: no draw finds one, choose_seats decides.
    assert pick_one(layout, preferred) is None
    assert choose_seats(layout, layout.label_set - preferred, 1) in (["1B"], ["1E"], ["2B"], ["2E"])
