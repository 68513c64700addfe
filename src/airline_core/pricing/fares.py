"""The pricing port and the base-fare pricing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from attrs import frozen

from airline_core.money import Money

if TYPE_CHECKING:
    # Annotations only: search imports pricing.
    from airline_core.search.legs import Leg

__all__ = ["BaseFarePricing", "Pricing"]


class Pricing(Protocol):
    def price(self, leg: Leg, passengers: int, now: datetime) -> Money:
        """What ``passengers`` seats on ``leg`` (in the cabin the leg was read for) cost at
        ``now``, in the leg's currency. Pure: the same leg, party and instant give the same
        price, so a search and the offer made from it agree."""


@frozen
class BaseFarePricing:
    """The base fare, the same for every seat and every day."""

    def price(self, leg: Leg, passengers: int, now: datetime) -> Money:
        return Money(leg.fare_minor_units * passengers, leg.currency)
