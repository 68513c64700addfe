"""A flight checks its own rules: number, times, route, fares and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from airline_core import Cabin, FlightStatus, InvalidRequest, Money
from airline_core.catalog.model import MAX_FLIGHT_DURATION, is_airline_code
from tests.core.samples import broken_fields, flight

DEPARTS = datetime(2030, 3, 5, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("code", ["BA", "U2", "9W", "LH"])
def test_airline_code_is_two_letters_or_a_letter_and_a_digit(code: str) -> None:
    assert is_airline_code(code)


@pytest.mark.parametrize("code", ["B", "BAW", "ba", "99", "B-", ""])
def test_airline_code_rejects_other_shapes(code: str) -> None:
    assert not is_airline_code(code)


def test_flight_rejects_a_bad_airline_code() -> None:
    with pytest.raises(InvalidRequest, match="two-character IATA designator") as caught:
        flight(airline="BAW", number="BAW117")
    assert broken_fields(caught.value) == ["airline"]


@pytest.mark.parametrize(
    ("airline", "number"),
    [
        ("BA", "BA1"),
        ("BA", "BA117"),
        ("BA", "BA1234"),
        ("BA", "BA117A"),
        ("U2", "U21"),
        ("9W", "9W7"),
    ],
)
def test_flight_number_is_airline_code_and_one_to_four_digits(airline: str, number: str) -> None:
    assert flight(airline=airline, number=number).number == number


@pytest.mark.parametrize("number", ["LH117", "ba117", "117", "B117", "XBA117"])
def test_flight_number_must_start_with_airline_code(number: str) -> None:
    with pytest.raises(InvalidRequest, match="airline code and 1-4 digits") as caught:
        flight(number=number)
    assert broken_fields(caught.value) == ["number"]


@pytest.mark.parametrize("number", ["BA", "BA12345", "BAX", "BA 117", "BA117AB", "BA-117"])
def test_flight_number_needs_one_to_four_digits_after_the_code(number: str) -> None:
    with pytest.raises(InvalidRequest, match="airline code and 1-4 digits") as caught:
        flight(number=number)
    assert broken_fields(caught.value) == ["number"]


def test_arrival_must_be_after_departure() -> None:
    with pytest.raises(InvalidRequest, match="must be after departs_at") as caught:
        flight(departs_at=DEPARTS, arrives_at=DEPARTS)
    assert broken_fields(caught.value) == ["arrives_at"]


def test_arrival_before_departure_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        flight(departs_at=DEPARTS, arrives_at=DEPARTS - timedelta(minutes=1))
    assert broken_fields(caught.value) == ["arrives_at"]


def test_flight_may_last_22_hours() -> None:
    assert flight(departs_at=DEPARTS, arrives_at=DEPARTS + MAX_FLIGHT_DURATION).duration == (
        timedelta(hours=22)
    )


def test_flight_lasts_at_most_22_hours() -> None:
    with pytest.raises(InvalidRequest, match="at most 22 hours") as caught:
        flight(departs_at=DEPARTS, arrives_at=DEPARTS + MAX_FLIGHT_DURATION + timedelta(seconds=1))
    assert broken_fields(caught.value) == ["arrives_at"]


def test_origin_must_differ_from_destination() -> None:
    with pytest.raises(InvalidRequest, match="must differ from the origin") as caught:
        flight(origin="LHR", destination="LHR", destination_time_zone="Europe/London")
    assert broken_fields(caught.value) == ["destination"]


@pytest.mark.parametrize(("name", "value"), [("origin", "lhr"), ("destination", "JFKX")])
def test_route_needs_iata_airport_codes(name: str, value: str) -> None:
    with pytest.raises(InvalidRequest, match="IATA airport code") as caught:
        flight(**{name: value})
    assert broken_fields(caught.value) == [name]


def test_naive_departure_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="needs a UTC offset") as caught:
        flight(departs_at=datetime(2030, 3, 5, 9, 30))  # noqa: DTZ001 - naive on purpose
    assert broken_fields(caught.value) == ["departs_at"]


def test_naive_arrival_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="needs a UTC offset") as caught:
        flight(departs_at=DEPARTS, arrives_at=datetime(2030, 3, 5, 18, 0))  # noqa: DTZ001
    assert broken_fields(caught.value) == ["arrives_at"]


def test_instants_are_held_in_utc_to_the_second() -> None:
    tokyo = timezone(timedelta(hours=9))
    made = flight(
        departs_at=datetime(2030, 3, 5, 18, 30, 15, 999_999, tzinfo=tokyo),
        arrives_at=datetime(2030, 3, 5, 23, 0, 0, 1, tzinfo=tokyo),
    )
    assert made.departs_at == datetime(2030, 3, 5, 9, 30, 15, tzinfo=UTC)
    assert made.departs_at.tzinfo is UTC
    assert made.arrives_at == datetime(2030, 3, 5, 14, 0, tzinfo=UTC)
    assert made.duration == timedelta(hours=4, minutes=29, seconds=45)


def test_local_times_use_each_airports_zone() -> None:
    made = flight(departs_at=DEPARTS, arrives_at=DEPARTS + timedelta(hours=8))
    assert made.departs_at_local.isoformat() == "2030-03-05T09:30:00+00:00"
    assert made.arrives_at_local.isoformat() == "2030-03-05T12:30:00-05:00"


def test_departs_on_is_the_origins_local_date() -> None:
    # 22:30 in New York on 5 March is 03:30 UTC on 6 March.
    late = datetime(2030, 3, 6, 3, 30, tzinfo=UTC)
    made = flight(
        origin="JFK",
        destination="LHR",
        origin_time_zone="America/New_York",
        destination_time_zone="Europe/London",
        departs_at=late,
        arrives_at=late + timedelta(hours=7),
    )
    assert made.departs_on == date(2030, 3, 5)
    assert made.departs_at.date() == date(2030, 3, 6)


def test_fares_need_at_least_one_cabin() -> None:
    with pytest.raises(InvalidRequest, match="at least one cabin") as caught:
        flight(fares={})
    assert broken_fields(caught.value) == ["fares"]


def test_fares_must_share_one_currency() -> None:
    with pytest.raises(InvalidRequest, match="one currency") as caught:
        flight(fares={Cabin.BUSINESS: Money(200_000, "GBP"), Cabin.ECONOMY: Money(500, "EUR")})
    assert broken_fields(caught.value) == ["fares"]


def test_fares_must_not_be_negative() -> None:
    with pytest.raises(InvalidRequest, match="must not be negative") as caught:
        flight(fares={Cabin.ECONOMY: Money(-1, "GBP")})
    assert broken_fields(caught.value) == ["fares.economy"]


def test_free_fare_is_allowed() -> None:
    assert flight(fares={Cabin.ECONOMY: Money(0, "GBP")}).currency == "GBP"


def test_fares_may_be_keyed_by_cabin_name_and_are_ordered_front_to_back() -> None:
    made = flight(fares={"economy": Money(500, "JPY"), "first": Money(9000, "JPY")})
    assert list(made.fares) == [Cabin.FIRST, Cabin.ECONOMY]
    assert made.currency == "JPY"


def test_fares_for_an_unknown_cabin_are_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        flight(fares={"galley": Money(500, "GBP")})
    assert broken_fields(caught.value) == ["fares"]


@pytest.mark.parametrize("name", ["origin_time_zone", "destination_time_zone"])
def test_time_zones_must_be_iana_zones(name: str) -> None:
    with pytest.raises(InvalidRequest, match="not an IANA time zone") as caught:
        flight(**{name: "Atlantis/Capital"})
    assert broken_fields(caught.value) == [name]


def test_status_defaults_to_scheduled_and_accepts_its_value() -> None:
    assert flight().status is FlightStatus.SCHEDULED
    assert flight(status="delayed").status is FlightStatus.DELAYED


def test_unknown_status_is_rejected_naming_the_field() -> None:
    # Bad input must be an InvalidRequest (a 422), never a bare ValueError (a 500).
    with pytest.raises(InvalidRequest) as caught:
        flight(status="boarding")
    assert broken_fields(caught.value) == ["status"]


def test_flight_reports_every_broken_field_at_once() -> None:
    with pytest.raises(InvalidRequest, match="invalid flight") as caught:
        flight(
            number="LH1",
            origin="JFK",
            destination="JFK",
            departs_at=DEPARTS,
            arrives_at=DEPARTS,
            fares={Cabin.ECONOMY: Money(-5, "GBP")},
            origin_time_zone="Nowhere",
        )
    assert broken_fields(caught.value) == [
        "number",
        "destination",
        "arrives_at",
        "fares.economy",
        "origin_time_zone",
    ]
