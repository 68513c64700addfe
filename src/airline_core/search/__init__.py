"""Flight search: direct and connecting itineraries, filtered, ranked and paginated.

>>> query = SearchQuery(origin="LON", destination="NYC", date=day)  # doctest: +SKIP
>>> page = await airline.search(query)  # doctest: +SKIP
"""

from airline_core.search.connections import ConnectionRules
from airline_core.search.itinerary import Itinerary
from airline_core.search.legs import Leg, LegQuery
from airline_core.search.query import MAX_PASSENGERS, MAX_STOPS, SearchQuery, SortOrder, parse_price
from airline_core.search.ranking import BestWeights, best_score, sort_key
from airline_core.search.service import FlightSearch

__all__ = [
    "MAX_PASSENGERS",
    "MAX_STOPS",
    "BestWeights",
    "ConnectionRules",
    "FlightSearch",
    "Itinerary",
    "Leg",
    "LegQuery",
    "SearchQuery",
    "SortOrder",
    "best_score",
    "parse_price",
    "sort_key",
]
