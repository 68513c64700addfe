"""Cities and airports check their own rules, and name each broken field."""

from __future__ import annotations

import math

import attrs
import pytest

from airline_core import Airport, InvalidRequest
from airline_core.catalog.model import MAX_NAME_LENGTH, time_zone
from tests.core.samples import airport, broken_fields, city


def test_valid_city_keeps_its_fields() -> None:
    london = city()
    assert (london.code, london.name, london.country) == ("LON", "London", "GB")


@pytest.mark.parametrize("code", ["lon", "LO", "LOND", "L0N", "", " LON"])
def test_city_code_must_be_three_upper_case_letters(code: str) -> None:
    with pytest.raises(InvalidRequest, match="three upper-case letters") as caught:
        city(code=code)
    assert broken_fields(caught.value) == ["code"]


def test_city_code_with_a_trailing_newline_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        city(code="LON\n")


@pytest.mark.parametrize("name", ["", "   ", " London", "London ", "x" * (MAX_NAME_LENGTH + 1)])
def test_city_name_must_be_trimmed_non_empty_and_short(name: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        city(name=name)
    assert broken_fields(caught.value) == ["name"]


def test_city_name_may_be_120_characters() -> None:
    assert len(city(name="x" * MAX_NAME_LENGTH).name) == MAX_NAME_LENGTH


@pytest.mark.parametrize("country", ["gb", "GBR", "G", "", "G1"])
def test_city_country_must_be_an_iso_alpha_2_code(country: str) -> None:
    with pytest.raises(InvalidRequest, match="ISO 3166-1") as caught:
        city(country=country)
    assert broken_fields(caught.value) == ["country"]


def test_city_reports_every_broken_field_at_once() -> None:
    with pytest.raises(InvalidRequest, match="invalid city") as caught:
        city(code="x", name="", country="gbr")
    assert broken_fields(caught.value) == ["code", "name", "country"]


def test_city_is_immutable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        city().name = "Londres"  # type: ignore[misc]


def test_valid_airport_exposes_its_zone() -> None:
    heathrow = airport()
    assert heathrow.zone.key == "Europe/London"


@pytest.mark.parametrize("code", ["lhr", "LH", "LHRX", "1HR"])
def test_airport_code_must_be_three_upper_case_letters(code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        airport(code=code)
    assert broken_fields(caught.value) == ["code"]


@pytest.mark.parametrize("name", ["", " Heathrow", "x" * (MAX_NAME_LENGTH + 1)])
def test_airport_name_must_be_trimmed_non_empty_and_short(name: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        airport(name=name)
    assert broken_fields(caught.value) == ["name"]


def test_airport_city_must_be_an_iata_city_code() -> None:
    with pytest.raises(InvalidRequest, match="IATA city code") as caught:
        airport(city="London")
    assert broken_fields(caught.value) == ["city"]


def test_airport_country_must_be_an_iso_alpha_2_code() -> None:
    with pytest.raises(InvalidRequest) as caught:
        airport(country="GBR")
    assert broken_fields(caught.value) == ["country"]


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus_Mons",
        "",
        " Europe/London",
        "Europe/London ",
        "/etc/passwd",
        "../../etc/passwd",
        "Europe/../Europe/London",
        "zone.tab",
        "+05:00",
    ],
)
def test_airport_time_zone_must_be_an_iana_zone(zone: str) -> None:
    with pytest.raises(InvalidRequest, match="not an IANA time zone") as caught:
        airport(time_zone=zone)
    assert broken_fields(caught.value) == ["time_zone"]


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc"])
def test_time_zone_area_without_a_city_is_rejected_as_invalid_input(zone: str) -> None:
    # "Europe" is a folder of the tz database, not a zone: bad input, not a crash.
    with pytest.raises(InvalidRequest) as caught:
        airport(time_zone=zone)
    assert broken_fields(caught.value) == ["time_zone"]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires"])
def test_airport_accepts_any_iana_zone(zone: str) -> None:
    assert airport(time_zone=zone).zone.key == zone


def test_time_zone_lookup_names_the_time_zone_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        time_zone("Nowhere/Town")
    assert broken_fields(caught.value) == ["time_zone"]


@pytest.mark.parametrize("latitude", [-90.01, 90.01, math.nan, math.inf, -math.inf])
def test_airport_latitude_must_be_between_minus_90_and_90(latitude: float) -> None:
    with pytest.raises(InvalidRequest, match="between -90 and 90") as caught:
        airport(latitude=latitude)
    assert broken_fields(caught.value) == ["latitude"]


@pytest.mark.parametrize("longitude", [-180.01, 180.01, math.nan, math.inf])
def test_airport_longitude_must_be_between_minus_180_and_180(longitude: float) -> None:
    with pytest.raises(InvalidRequest, match="between -180 and 180") as caught:
        airport(longitude=longitude)
    assert broken_fields(caught.value) == ["longitude"]


@pytest.mark.parametrize(("latitude", "longitude"), [(-90, -180), (90, 180), (0, 0)])
def test_airport_accepts_the_edges_of_the_globe(latitude: float, longitude: float) -> None:
    assert airport(latitude=latitude, longitude=longitude).latitude == latitude


def test_airport_reports_every_broken_field_at_once() -> None:
    with pytest.raises(InvalidRequest, match="invalid airport") as caught:
        Airport(
            code="x",
            name="",
            city="y",
            country="z",
            time_zone="Nowhere",
            latitude=100,
            longitude=200,
        )
    assert broken_fields(caught.value) == [
        "code",
        "name",
        "city",
        "country",
        "time_zone",
        "latitude",
        "longitude",
    ]
