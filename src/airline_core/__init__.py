"""airline_core: the pure domain of an airline booking backend, behind ports.

Everything an application needs is importable from here::

    from airline_core import Airline, Cabin, CabinLayout, Money, SeatLayout
"""

from airline_core.airline import Airline, BookingView
from airline_core.booking import (
    Booking,
    BookingRules,
    BookingStatus,
    Offer,
    Passenger,
    SeatChoice,
    SeatMap,
    SeatState,
)
from airline_core.booking.gateway import TestPaymentGateway
from airline_core.booking.model import Payment, PaymentStatus
from airline_core.catalog import (
    Airplane,
    AirplaneFilter,
    Airport,
    AirportFilter,
    Cabin,
    CabinLayout,
    City,
    CityFilter,
    Flight,
    FlightDraft,
    FlightFilter,
    FlightStatus,
    Seat,
    SeatKind,
    SeatLayout,
)
from airline_core.clock import FakeClock, SystemClock
from airline_core.errors import (
    AirlineError,
    AlreadyExists,
    Conflict,
    FieldError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    StillReferenced,
    Unavailable,
)
from airline_core.identity import Principal, Role, TokenPair, User
from airline_core.money import Money
from airline_core.pagination import Page, PageRequest
from airline_core.pricing import BaseFarePricing, DynamicPricing, Pricing
from airline_core.search import (
    BestWeights,
    ConnectionRules,
    FlightSearch,
    Itinerary,
    Leg,
    LegQuery,
    SearchQuery,
    SortOrder,
)

__version__ = "0.1.0"

__all__ = [
    "Airline",
    "AirlineError",
    "Airplane",
    "AirplaneFilter",
    "Airport",
    "AirportFilter",
    "AlreadyExists",
    "BaseFarePricing",
    "BestWeights",
    "Booking",
    "BookingRules",
    "BookingStatus",
    "BookingView",
    "Cabin",
    "CabinLayout",
    "City",
    "CityFilter",
    "Conflict",
    "ConnectionRules",
    "DynamicPricing",
    "FakeClock",
    "FieldError",
    "Flight",
    "FlightDraft",
    "FlightFilter",
    "FlightSearch",
    "FlightStatus",
    "Forbidden",
    "InvalidRequest",
    "Itinerary",
    "Leg",
    "LegQuery",
    "Money",
    "NotAuthenticated",
    "NotFound",
    "Offer",
    "Page",
    "PageRequest",
    "Passenger",
    "Payment",
    "PaymentStatus",
    "Pricing",
    "Principal",
    "Role",
    "SearchQuery",
    "Seat",
    "SeatChoice",
    "SeatKind",
    "SeatLayout",
    "SeatMap",
    "SeatState",
    "SortOrder",
    "StillReferenced",
    "SystemClock",
    "TestPaymentGateway",
    "TokenPair",
    "Unavailable",
    "User",
    "__version__",
]
