"""The search use case: itineraries for a query, ranked and paginated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from attrs import define, field

from airline_core.catalog.model import Airport, Cabin, time_zone
from airline_core.errors import FieldError, InvalidRequest, NotFound
from airline_core.pagination import KeysetWindow, Page, PageRequest, make_page, select_window
from airline_core.ports import AirportStore, Clock, FlightStore
from airline_core.pricing import BaseFarePricing, Pricing
from airline_core.search.connections import ConnectionRules, Successors
from airline_core.search.itinerary import Itinerary
from airline_core.search.legs import Leg, LegQuery
from airline_core.search.query import SearchQuery
from airline_core.search.ranking import DEFAULT_WEIGHTS, BestWeights, sort_key, sort_key_shape

__all__ = ["FlightSearch"]

_FIRST_PAGE = PageRequest()
#: Codes remembered at most (the IATA has about 10,000 airports and cities).
_REMEMBERED_CODES = 20_000


@define
class FlightSearch:
    """Finds itineraries: direct flights and connections of up to two stops.

    For a query it reads, through :meth:`FlightStore.legs`, at most three sets of flights, each
    narrowed by the store's indexes: the departures from the origin's airports on the date;
    the flights leaving the airports those reach, within the connection window of their
    arrivals; with two stops, the flights into the destination leaving where those reach; and
    joins them in memory (:class:`~airline_core.search.connections.Successors`).
    """

    flights: FlightStore
    airports: AirportStore
    clock: Clock
    pricing: Pricing = field(factory=BaseFarePricing)
    connections: ConnectionRules = field(factory=ConnectionRules)
    weights: BestWeights = DEFAULT_WEIGHTS
    #: How long what a code means is remembered: an airport added, moved to another city or
    #: removed shows in search at most this much later.
    airports_ttl: timedelta = timedelta(seconds=60)
    _serving: dict[str, tuple[list[Airport], datetime]] = field(factory=dict, init=False)

    async def search(self, query: SearchQuery, page: PageRequest = _FIRST_PAGE) -> Page[Itinerary]:
        """One page of the itineraries answering ``query``, in its sort order.

        :raises NotFound: the origin or destination is no airport or city code we know.
        :raises InvalidRequest: the date is past at the origin, origin and destination share an
            airport, or the cursor is malformed or belongs to another query.
        """
        scope = query.fingerprint  # made only if a cursor is read or written
        window = KeysetWindow.open(page, scope, sort_key_shape(query.sort))
        key = sort_key(query.sort, self.weights)
        found = await self.itineraries(query)
        return make_page(select_window(found, key, window), window, key, scope)

    async def itineraries(self, query: SearchQuery) -> list[Itinerary]:
        """Every itinerary answering ``query``, in no particular order."""
        origins = await self._airports(query.origin, "origin")
        destinations = await self._airports(query.destination, "destination")
        origin_codes = frozenset(airport.code for airport in origins)
        destination_codes = frozenset(airport.code for airport in destinations)
        if origin_codes & destination_codes:
            raise InvalidRequest.for_field("destination", "shares an airport with the origin")
        now = self.clock.now()
        if all(query.date < now.astimezone(airport.zone).date() for airport in origins):
            raise InvalidRequest.for_field("date", "is in the past at the origin")

        base = _LegBase(query.cabin, query.passengers, now, query.airlines)
        firsts = [
            leg
            for leg in await self.flights.legs(
                base.where(
                    origins=origin_codes,
                    departs_on=query.date,
                    destinations=None if query.max_stops else destination_codes,
                )
            )
            if _departs_in_window(leg, query.depart_after, query.depart_before)
        ]
        ends = origin_codes | destination_codes
        successors = await self._successors(query, base, firsts, ends, destination_codes)

        found: list[Itinerary] = []
        for first in firsts:
            if first.destination in destination_codes:
                self._keep(found, query, (first,), now)
                continue
            if successors is None or first.destination in ends:
                continue
            for second in successors.after(first):
                if second.destination in destination_codes:
                    self._keep(found, query, (first, second), now)
                elif query.max_stops == 2 and second.destination not in ends:
                    for third in successors.after(second):
                        if third.destination in destination_codes:
                            self._keep(found, query, (first, second, third), now)
        return found

    async def _successors(
        self,
        query: SearchQuery,
        base: _LegBase,
        firsts: Sequence[Leg],
        ends: frozenset[str],
        destinations: frozenset[str],
    ) -> Successors | None:
        """The legs that may follow the first ones, indexed for the join; ``None`` for a
        direct-only search."""
        if not query.max_stops:
            return None
        connecting = [leg for leg in firsts if leg.destination not in ends]
        window = self.connections.window_after(connecting)
        if window is None:
            return Successors((), self.connections)
        latest = self._latest(window[1], connecting, query.max_duration)
        hubs = frozenset(leg.destination for leg in connecting)
        seconds = await self.flights.legs(
            base.where(
                origins=hubs,
                # With two stops the second flight may go anywhere but back.
                destinations=destinations if query.max_stops == 1 else None,
                departs_from=window[0],
                departs_until=latest,
            )
        )
        following = list(seconds)
        if query.max_stops == 2:
            middles = [leg for leg in seconds if leg.destination not in ends]
            window = self.connections.window_after(middles)
            if window is not None:
                thirds = await self.flights.legs(
                    base.where(
                        origins=frozenset(leg.destination for leg in middles),
                        destinations=destinations,
                        departs_from=window[0],
                        departs_until=self._latest(window[1], connecting, query.max_duration),
                    )
                )
                known = {leg.flight_id for leg in following}
                following.extend(leg for leg in thirds if leg.flight_id not in known)
        return Successors(following, self.connections)

    @staticmethod
    def _latest(latest: datetime, firsts: Sequence[Leg], max_duration: int | None) -> datetime:
        """``latest``, or earlier when no itinerary may last beyond ``max_duration``."""
        if max_duration is None:
            return latest
        bound = max(leg.departs_at for leg in firsts) + timedelta(minutes=max_duration)
        return min(latest, bound)

    def _keep(
        self, found: list[Itinerary], query: SearchQuery, legs: tuple[Leg, ...], now: datetime
    ) -> None:
        """Add the itinerary of ``legs`` to ``found`` if it passes the query's remaining
        rules: one currency, the duration and the price range."""
        currency = legs[0].currency
        if any(leg.currency != currency for leg in legs[1:]):
            return
        if query.max_duration is not None:
            minutes = (legs[-1].arrives_at - legs[0].departs_at).total_seconds() / 60
            if minutes > query.max_duration:
                return
        price = self.pricing.price(legs[0], query.passengers, now)
        for leg in legs[1:]:
            price = price + self.pricing.price(leg, query.passengers, now)
        if query.min_price is not None or query.max_price is not None:
            amount = price.decimal
            if (query.min_price is not None and amount < query.min_price) or (
                query.max_price is not None and amount > query.max_price
            ):
                return
        found.append(
            Itinerary(
                segments=legs,
                price=price,
                passengers=query.passengers,
                seats_available=(
                    legs[0].seats_left if len(legs) == 1 else min([leg.seats_left for leg in legs])
                ),
            )
        )

    async def _airports(self, code: str, field_name: str) -> list[Airport]:
        """The airports ``code`` means, remembered for :attr:`airports_ttl` (airports change
        seldom, and a search would otherwise spend two of its three queries here). Unknown
        codes are not remembered, so a new airport is found at once."""
        now = self.clock.now()
        known = self._serving.get(code)
        if known is not None and known[1] > now:
            return known[0]
        airports = list(await self.airports.serving(code))
        if airports:
            if len(self._serving) >= _REMEMBERED_CODES:
                self._serving.clear()
            self._serving[code] = (airports, now + self.airports_ttl)
        else:
            error = FieldError(field_name, f"no airport or city has code {code}")
            raise NotFound(str(error), errors=[error])
        return airports


@define
class _LegBase:
    """What every leg query of one search shares; :meth:`where` adds the rest (cheaper than
    ``attrs.evolve``, which a search would call up to three times)."""

    cabin: Cabin
    seats: int
    departs_after: datetime
    airlines: frozenset[str] | None

    def where(
        self,
        *,
        origins: frozenset[str] | None = None,
        destinations: frozenset[str] | None = None,
        departs_on: date | None = None,
        departs_from: datetime | None = None,
        departs_until: datetime | None = None,
    ) -> LegQuery:
        return LegQuery(
            cabin=self.cabin,
            seats=self.seats,
            departs_after=self.departs_after,
            airlines=self.airlines,
            origins=origins,
            destinations=destinations,
            departs_on=departs_on,
            departs_from=departs_from,
            departs_until=departs_until,
        )


def _departs_in_window(leg: Leg, after: time | None, before: time | None) -> bool:
    if after is None and before is None:
        return True
    local = leg.departs_at.astimezone(time_zone(leg.origin_time_zone)).time()
    return (after is None or local >= after) and (before is None or local <= before)
