"""Prices: what a seat on a flight costs now.

Search and offers ask a :class:`Pricing` for the price of a leg in a cabin for a party; the core
ships :class:`BaseFarePricing`, the base fare times the passengers. Dynamic pricing (load
factor, days to departure) plugs in here without search changing.
"""

from airline_core.pricing.fares import BaseFarePricing, Pricing

__all__ = ["BaseFarePricing", "Pricing"]
