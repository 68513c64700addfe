"""Booking: seat maps, offers, holds with a price guarantee, cancellation and expiry."""

from airline_core.booking.model import (
    MAX_PASSENGERS,
    TRANSITIONS,
    Booking,
    BookingStatus,
    Offer,
    Passenger,
    SeatAssignment,
    SeatChoice,
    SeatState,
    new_locator,
)
from airline_core.booking.seating import SeatMap, SeatMapEntry, choose_seats
from airline_core.booking.service import BookingRules, Bookings, Offers, SeatMaps

__all__ = [
    "MAX_PASSENGERS",
    "TRANSITIONS",
    "Booking",
    "BookingRules",
    "BookingStatus",
    "Bookings",
    "Offer",
    "Offers",
    "Passenger",
    "SeatAssignment",
    "SeatChoice",
    "SeatMap",
    "SeatMapEntry",
    "SeatMaps",
    "SeatState",
    "choose_seats",
    "new_locator",
]
