"""Cities, airports, airplanes with seat layouts, and scheduled flights."""

from airline_core.catalog.filters import AirplaneFilter, AirportFilter, CityFilter, FlightFilter
from airline_core.catalog.model import (
    Airplane,
    Airport,
    Cabin,
    CabinLayout,
    City,
    Flight,
    FlightStatus,
    Seat,
    SeatKind,
    SeatLayout,
)
from airline_core.catalog.service import Airplanes, Airports, Cities, FlightDraft, Flights

__all__ = [
    "Airplane",
    "AirplaneFilter",
    "Airplanes",
    "Airport",
    "AirportFilter",
    "Airports",
    "Cabin",
    "CabinLayout",
    "Cities",
    "City",
    "CityFilter",
    "Flight",
    "FlightDraft",
    "FlightFilter",
    "FlightStatus",
    "Flights",
    "Seat",
    "SeatKind",
    "SeatLayout",
]
