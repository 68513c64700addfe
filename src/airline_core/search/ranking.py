"""How itineraries are ranked: the ``best`` score and the sort key of every order.

``best`` weighs what a traveller trades against money. For an itinerary and a party of ``p``::

    score = price of the party
          + p * (DURATION per minute from first departure to last arrival
                 + STOP per connection
                 + DEPARTURE per minute after local midnight of the first departure)

with the weights of :class:`BestWeights`, in the currency's major units: by default an hour
longer costs 30, a connection 50, and departing an hour later in the day 3. So a direct flight
at 380 beats a one-stop at 300 that takes two hours longer (380 against 300 + 60 + 50), and of
two equal flights the earlier one ranks first. The score depends on nothing but the itinerary
itself (never on the other results), so adding an unrelated flight never reorders the rest,
and ties fall to the itinerary id. Scores are exact integers (in 1/10,000 of the currency's major
unit), so no rounding decides an order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from attrs import field, frozen

from airline_core.money import minor_unit_exponent
from airline_core.search.itinerary import Itinerary
from airline_core.search.query import SortOrder

__all__ = ["SCORE_SCALE", "BestWeights", "best_score", "sort_key", "sort_key_shape"]

#: Scores and prices in sort keys count 1/10,000 of a major unit, whatever the currency.
SCORE_SCALE = 4

SortKey = tuple[int | str, ...]


def _scaled(amount: Decimal) -> int:
    return int(amount.scaleb(SCORE_SCALE))


@frozen(kw_only=True)
class BestWeights:
    """What ``best`` charges, in the currency's major units, per passenger."""

    per_minute_of_duration: Decimal = Decimal("0.5")
    per_stop: Decimal = Decimal(50)
    per_minute_after_midnight: Decimal = Decimal("0.05")
    #: The three weights as exact integers of the score's unit, worked out once.
    scaled: tuple[int, int, int] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self,
            "scaled",
            (
                _scaled(self.per_minute_of_duration),
                _scaled(self.per_stop),
                _scaled(self.per_minute_after_midnight),
            ),
        )


DEFAULT_WEIGHTS = BestWeights()


def scaled_price(itinerary: Itinerary) -> int:
    """The party's price in 1/10,000 of the major unit (currencies compare as amounts)."""
    factor: int = 10 ** (SCORE_SCALE - minor_unit_exponent(itinerary.currency))
    return itinerary.price.minor_units * factor


def best_score(itinerary: Itinerary, weights: BestWeights = DEFAULT_WEIGHTS) -> int:
    """The ``best`` score of an itinerary for its party (lower ranks first)."""
    duration, stop, after_midnight = weights.scaled
    per_passenger = (
        duration * itinerary.duration_minutes
        + stop * itinerary.stops
        + after_midnight * itinerary.departure_minute_of_day
    )
    return scaled_price(itinerary) + per_passenger * itinerary.passengers


def sort_key(
    order: SortOrder, weights: BestWeights = DEFAULT_WEIGHTS
) -> Callable[[Itinerary], SortKey]:
    """The key of ``order``: unique per itinerary (it ends with the id), made of ints and one
    string, so that it fits a cursor."""
    if order is SortOrder.BEST:
        return lambda it: (best_score(it, weights), it.id)
    if order is SortOrder.PRICE:
        return lambda it: (scaled_price(it), it.departs_epoch, it.id)
    if order is SortOrder.DEPARTURE:
        return lambda it: (it.departs_epoch, scaled_price(it), it.id)
    return lambda it: (it.duration_minutes, scaled_price(it), it.id)


def sort_key_shape(order: SortOrder) -> tuple[type, ...]:
    """The types of the parts of ``order``'s key, for decoding cursors."""
    return (int, str) if order is SortOrder.BEST else (int, int, str)
