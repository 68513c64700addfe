"""The pricing port and the base-fare pricing."""

from __future__ import annotations

from typing import Protocol

from attrs import frozen

from airline_core.money import Money
from airline_core.search.legs import Leg

__all__ = ["BaseFarePricing", "Pricing"]


class Pricing(Protocol):
    def price(self, leg: Leg, passengers: int) -> Money:
        """What ``passengers`` seats on ``leg`` (in the cabin the leg was read for) cost now,
        in the leg's currency."""


@frozen
class BaseFarePricing:
    """The base fare, the same for every seat and every day."""

    def price(self, leg: Leg, passengers: int) -> Money:
        return Money(leg.fare_minor_units * passengers, leg.currency)
