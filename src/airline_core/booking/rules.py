"""The commercial rules of booking: how long offers, guarantees and holds last, the hold
limit, when sales close, and what a cancellation refunds."""

from __future__ import annotations

from datetime import timedelta

from attrs import field, frozen

from airline_core.catalog.model import Cabin
from airline_core.validation import Rules

__all__ = ["REFUND_PERCENT", "BookingRules"]


#: The default fare rules: premium cabins refund in full, premium economy less a 20% fee,
#: economy not at all.
REFUND_PERCENT: dict[Cabin, int] = {
    Cabin.FIRST: 100,
    Cabin.BUSINESS: 100,
    Cabin.PREMIUM_ECONOMY: 80,
    Cabin.ECONOMY: 0,
}


@frozen(kw_only=True)
class BookingRules:
    """The commercial rules of booking, all configurable (see docs/configuration.md)."""

    #: How long an offer's price may be booked.
    offer_lifetime: timedelta = timedelta(minutes=20)
    #: How long a hold keeps its total, whatever the flight's price does.
    price_guarantee: timedelta = timedelta(minutes=15)
    #: How long a hold keeps its seats unpaid.
    payment_window: timedelta = timedelta(minutes=30)
    #: Seats one user may hold in unpaid bookings at once.
    max_held_seats: int = 9
    #: Sales of a flight close this long before it departs.
    sales_close: timedelta = timedelta(minutes=30)
    #: Rounds of read-pick-claim for auto-assigned seats before giving up.
    claim_attempts: int = 8
    #: How long a payment has a booking to itself (longer than any provider call takes):
    #: meanwhile another payment answers 409 and the expiry sweep leaves the booking alone.
    payment_lease: timedelta = timedelta(minutes=2)
    #: Share of the total refunded when a confirmed booking is cancelled, per cabin; a cabin
    #: not listed is not refundable.
    refund_percent: dict[Cabin, int] = field(factory=lambda: dict(REFUND_PERCENT))

    def __attrs_post_init__(self) -> None:
        rules = Rules("booking rules")
        for name in ("offer_lifetime", "price_guarantee", "payment_window"):
            rules.require(getattr(self, name) > timedelta(0), name, "must be positive")
        rules.require(
            self.price_guarantee <= self.payment_window,
            "price_guarantee",
            "must not outlast the payment window",
        )
        rules.require(self.max_held_seats >= 1, "max_held_seats", "must be at least 1")
        rules.require(self.sales_close >= timedelta(0), "sales_close", "must not be negative")
        rules.require(self.claim_attempts >= 1, "claim_attempts", "must be at least 1")
        rules.require(
            all(0 <= percent <= 100 for percent in self.refund_percent.values()),
            "refund_percent",
            "must be 0..100",
        )
        rules.check()
