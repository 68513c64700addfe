"""Prices: what a seat on a flight costs now.

Search and offers ask a :class:`Pricing` for the price of a leg in a cabin for a party. The
airline prices with :class:`DynamicPricing` (fare buckets by load factor and days to departure);
:class:`BaseFarePricing` charges the base fare always, for tests and fixed-price embedding.
"""

from airline_core.pricing.dynamic import (
    LOAD_BUCKETS,
    WINDOW_BUCKETS,
    DynamicPricing,
    LoadBucket,
    WindowBucket,
)
from airline_core.pricing.fares import BaseFarePricing, Pricing

__all__ = [
    "LOAD_BUCKETS",
    "WINDOW_BUCKETS",
    "BaseFarePricing",
    "DynamicPricing",
    "LoadBucket",
    "Pricing",
    "WindowBucket",
]
