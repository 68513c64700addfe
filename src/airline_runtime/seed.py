"""Real catalog data for ``airline seed`` and ``airline demo``: airports, airplanes and a schedule.

Airports, their cities and IANA time zones come from the ``airportsdata`` package, so a seeded
catalog answers searches for real places with real local times. The network joins the world's
busiest airports the way airlines do: short hops between neighbours many times a day, long-haul
trunks between big hubs once or twice, each flown by the carrier based at one end, on an airplane
fit for the distance, with a block time derived from the great-circle distance.

Everything random is drawn from one :class:`random.Random` while the *network* is planned, never
while days are laid out, so the same seed gives the same flight numbers at the same local times on
every day. That is what makes re-running safe: :func:`seed_catalog` is idempotent. It creates the
cities, airports (by code) and airplanes (by model) that are missing, reuses the ones that exist,
and skips every flight whose number already departs on that local date (the rule the core
enforces anyway), so running it again tomorrow adds only the new last day.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING

from attrs import frozen

from airline_core import (
    Airline,
    Airplane,
    AirplaneFilter,
    Airport,
    AlreadyExists,
    Cabin,
    CabinLayout,
    FlightDraft,
    FlightFilter,
    PageRequest,
    SeatLayout,
)
from airline_core.money import Money, minor_unit_exponent

if TYPE_CHECKING:
    from airportsdata import Airport as AirportRecord

__all__ = [
    "AIRBUS_A320NEO",
    "BOEING_737_MAX_8",
    "BOEING_777_300ER",
    "BOEING_787_9",
    "BUSIEST_AIRPORTS",
    "DEMO_AIRPORTS",
    "DEMO_DAYS",
    "FLEET",
    "AirplaneSpec",
    "CitySpec",
    "Progress",
    "SeedReport",
    "busiest_airports",
    "cities_of",
    "great_circle_km",
    "schedule_flights",
    "seed_catalog",
    "seed_demo",
]

#: Reports what a stage has done so far: ``progress("flights", 2000, 11000)``.
Progress = Callable[[str, int, int], None]

# The world's busiest passenger airports, busiest first: ACI World's airport traffic ranking for
# 2023 (total passengers, published April 2024), about the top 60, then the busiest airports of
# the continents the top 60 leaves thin (Oceania, South America, Africa) so that every continent
# is served when more airports are asked for. The order within close ranks is approximate.
BUSIEST_AIRPORTS: tuple[str, ...] = (
    "ATL", "DXB", "DFW", "LHR", "HND", "DEN", "IST", "LAX", "ORD", "DEL",
    "CDG", "JFK", "CAN", "AMS", "MAD", "FRA", "LAS", "SIN", "ICN", "CLT",
    "MCO", "PVG", "SZX", "CTU", "BOM", "MIA", "SEA", "PHX", "BCN", "DOH",
    "BKK", "EWR", "SFO", "PEK", "CKG", "IAH", "FCO", "KMG", "HKG", "MUC",
    "CGK", "BOS", "JED", "MEX", "SGN", "LGW", "MSP", "TPE", "YYZ", "KUL",
    "MNL", "NRT", "BLR", "SHA", "SYD", "GRU", "FLL", "RUH", "DTW", "PHL",
    "LGA", "BOG", "AUH", "DUB", "ZRH", "CPH", "MEL", "LIS", "VIE", "OSL",
    "LIM", "JNB", "SCL", "CAI", "ADD", "AKL", "CMN", "EZE", "NBO",
)  # fmt: skip

# The carrier whose hub or main base each airport is: it flies that airport's share of a route.
_HUB_CARRIERS: dict[str, str] = {
    "ATL": "DL", "DXB": "EK", "DFW": "AA", "LHR": "BA", "HND": "NH", "DEN": "UA", "IST": "TK",
    "LAX": "AS", "ORD": "UA", "DEL": "AI", "CDG": "AF", "JFK": "B6", "CAN": "CZ", "AMS": "KL",
    "MAD": "IB", "FRA": "LH", "LAS": "WN", "SIN": "SQ", "ICN": "KE", "CLT": "AA", "MCO": "WN",
    "PVG": "MU", "SZX": "ZH", "CTU": "3U", "BOM": "6E", "MIA": "AA", "SEA": "AS", "PHX": "AA",
    "BCN": "VY", "DOH": "QR", "BKK": "TG", "EWR": "UA", "SFO": "UA", "PEK": "CA", "CKG": "3U",
    "IAH": "UA", "FCO": "AZ", "KMG": "MU", "HKG": "CX", "MUC": "LH", "CGK": "GA", "BOS": "B6",
    "JED": "SV", "MEX": "AM", "SGN": "VN", "LGW": "U2", "MSP": "DL", "TPE": "CI", "YYZ": "AC",
    "KUL": "MH", "MNL": "PR", "NRT": "JL", "BLR": "6E", "SHA": "MU", "SYD": "QF", "GRU": "LA",
    "FLL": "NK", "RUH": "SV", "DTW": "DL", "PHL": "AA", "LGA": "DL", "BOG": "AV", "AUH": "EY",
    "DUB": "EI", "ZRH": "LX", "CPH": "SK", "MEL": "VA", "LIS": "TP", "VIE": "OS", "OSL": "DY",
    "LIM": "LA", "JNB": "SA", "SCL": "LA", "CAI": "MS", "ADD": "ET", "AKL": "NZ", "CMN": "AT",
    "EZE": "AR", "NBO": "KQ",
}  # fmt: skip

# For an airport missing above (a caller's own list): the country's flag carrier.
_FLAG_CARRIERS: dict[str, str] = {
    "US": "AA", "GB": "BA", "FR": "AF", "DE": "LH", "NL": "KL", "ES": "IB", "IT": "AZ",
    "IE": "EI", "CH": "LX", "AT": "OS", "PT": "TP", "TR": "TK", "AE": "EK", "QA": "QR",
    "SA": "SV", "IN": "AI", "CN": "CA", "JP": "JL", "KR": "KE", "SG": "SQ", "HK": "CX",
    "TW": "CI", "TH": "TG", "MY": "MH", "ID": "GA", "PH": "PR", "VN": "VN", "AU": "QF",
    "NZ": "NZ", "CA": "AC", "MX": "AM", "BR": "LA", "CO": "AV", "PE": "LA", "CL": "LA",
    "AR": "AR", "ZA": "SA", "EG": "MS", "ET": "ET", "MA": "AT", "KE": "KQ", "DK": "SK",
    "NO": "SK", "SE": "SK", "FI": "AY", "BE": "SN", "PL": "LO", "GR": "A3", "IL": "LY",
}  # fmt: skip

# Low-cost carriers fly one all-economy cabin; network carriers sell business on short hops too.
_LOW_COST_CARRIERS = frozenset({"WN", "U2", "FR", "VY", "NK", "6E", "DY", "B6", "G3", "PC"})

# Fares are set in the origin country's currency for a few well-known ones, USD elsewhere.
# Rough mid-2024 rates per US dollar: these are list prices for a demo, not a forex feed.
_EURO_COUNTRIES = frozenset(
    {"AT", "BE", "DE", "ES", "FI", "FR", "GR", "IE", "IT", "LU", "NL", "PT"}
)
_USD_RATES: dict[str, float] = {
    "USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 155.0, "CHF": 0.89,
    "CAD": 1.37, "AUD": 1.51, "SGD": 1.35, "AED": 3.6725,
}  # fmt: skip
_COUNTRY_CURRENCIES: dict[str, str] = {
    "US": "USD", "GB": "GBP", "JP": "JPY", "CH": "CHF",
    "CA": "CAD", "AU": "AUD", "SG": "SGD", "AE": "AED",
}  # fmt: skip

# Economy costs a base plus a rate per great-circle km (LHR-JFK, 5,540 km: about USD 480);
# the other cabins are multiples of it, roughly as published fares compare.
_ECONOMY_BASE_USD = 39.0
_ECONOMY_USD_PER_KM = 0.08
_CABIN_FARE_FACTORS: dict[Cabin, float] = {
    Cabin.ECONOMY: 1.0,
    Cabin.PREMIUM_ECONOMY: 1.6,
    Cabin.BUSINESS: 3.5,
    Cabin.FIRST: 6.0,
}

_EARTH_RADIUS_KM = 6371.0088
# Block time: cruise at ~840 km/h over the great circle, plus taxi, climb and descent.
_CRUISE_KM_PER_HOUR = 840.0
_TAXI_AND_CLIMB_MINUTES = 30
# Closer than this, travellers take the train (and LHR-LGW is the same city anyway).
_SHORTEST_ROUTE_KM = 300.0
# Beyond this, nobody flies nonstop: SIN-JFK, the longest route flown today, is 15,349 km.
_LONGEST_ROUTE_KM = 15_500.0
# From this distance on, a route needs a twin-aisle airplane.
_LONG_HAUL_KM = 4_000.0
# Trunks between two top-20 hubs up to this distance get the big 777; the rest the 787.
_TRUNK_HUBS = 20
_TRUNK_MAX_KM = 13_000.0
# Departures leave in the local daytime banks of the origin: 06:00 to 22:30, on the 5 minutes.
_FIRST_DEPARTURE = 6 * 60
_LAST_DEPARTURE = 22 * 60 + 30
# A departure closer to "now" than this is skipped: the core checks "in the future" on insert,
# which can be a while after planning on a slow database.
_PAST_MARGIN = timedelta(minutes=30)
_BATCH_SIZE = 2_000
_LAST_FLIGHT_NUMBER = 9_999


@frozen(kw_only=True)
class CitySpec:
    """A city to create: its IATA city code, name and ISO country."""

    code: str
    name: str
    country: str


@frozen(kw_only=True)
class AirplaneSpec:
    """An airplane model to create, in one seat configuration."""

    model: str
    layout: SeatLayout


AIRBUS_A320NEO = AirplaneSpec(
    model="Airbus A320neo",
    layout=SeatLayout(
        cabins=(
            # 180 seats 3-3, all economy; the two overwing exits are rows 12 and 13.
            CabinLayout(
                cabin=Cabin.ECONOMY, first_row=1, last_row=30, seats="ABC-DEF", exit_rows=(12, 13)
            ),
        )
    ),
)
BOEING_737_MAX_8 = AirplaneSpec(
    model="Boeing 737 MAX 8",
    layout=SeatLayout(
        cabins=(
            # 16 business seats 2-2 and 156 economy 3-3: 172, as US network carriers fly it.
            CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=4, seats="AC-DF"),
            CabinLayout(
                cabin=Cabin.ECONOMY, first_row=5, last_row=30, seats="ABC-DEF", exit_rows=(16, 17)
            ),
        )
    ),
)
BOEING_787_9 = AirplaneSpec(
    model="Boeing 787-9",
    layout=SeatLayout(
        cabins=(
            # 28 business suites 1-2-1, 35 premium economy 2-3-2, 234 economy 3-3-3: 297.
            # Rows jump between cabins as airlines number them (a row number per seat pitch).
            CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=7, seats="A-DG-K"),
            CabinLayout(cabin=Cabin.PREMIUM_ECONOMY, first_row=20, last_row=24, seats="AC-DEG-HK"),
            CabinLayout(
                cabin=Cabin.ECONOMY,
                first_row=30,
                last_row=55,
                seats="ABC-DEF-HJK",
                exit_rows=(30, 44),
            ),
        )
    ),
)
BOEING_777_300ER = AirplaneSpec(
    model="Boeing 777-300ER",
    layout=SeatLayout(
        cabins=(
            # 40 business suites 1-2-1 and 260 economy 3-4-3: 300.
            CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=10, seats="A-DG-K"),
            CabinLayout(
                cabin=Cabin.ECONOMY,
                first_row=20,
                last_row=45,
                seats="ABC-DEFG-HJK",
                exit_rows=(20, 33),
            ),
        )
    ),
)
#: Every airplane the seed creates; flights name them by model.
FLEET: tuple[AirplaneSpec, ...] = (
    AIRBUS_A320NEO,
    BOEING_737_MAX_8,
    BOEING_787_9,
    BOEING_777_300ER,
)


@frozen(kw_only=True)
class SeedReport:
    """What a seed created, and the local dates its schedule covers (inclusive)."""

    cities: int
    airports: int
    airplanes: int
    flights: int
    skipped_flights: int
    first_day: date
    last_day: date

    @property
    def created_anything(self) -> bool:
        return any((self.cities, self.airports, self.airplanes, self.flights))

    def __str__(self) -> str:
        span = f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"
        skipped = (
            f" ({self.skipped_flights:,} already scheduled or too soon)"
            if self.skipped_flights
            else ""
        )
        if not self.created_anything:
            return f"nothing new to seed for {span}{skipped}"
        return (
            f"seeded {self.cities:,} cities, {self.airports:,} airports, "
            f"{self.airplanes:,} airplanes and {self.flights:,} flights for {span}{skipped}"
        )


@cache
def _airport_records() -> dict[str, AirportRecord]:
    # Loaded on first use, not at import: the CLI starts without paying for 7,000 airports.
    import airportsdata

    return airportsdata.load("IATA")


@cache
def _city_codes() -> dict[str, CitySpec]:
    """The IATA multi-airport city of each airport that is in one (LHR -> London, LON)."""
    import airportsdata

    cities: dict[str, CitySpec] = {}
    for code, entry in airportsdata.load_iata_macs().items():
        city = CitySpec(code=code, name=entry["name"].strip(), country=entry["country"])
        for airport in entry["airports"]:
            cities[airport] = city
    return cities


def _city_of(code: str) -> CitySpec:
    """The airport's IATA city: its multi-airport city, or one of its own code, as IATA does."""
    city = _city_codes().get(code)
    if city is not None:
        return city
    record = _airport_records()[code]
    name = record["city"].strip() or record["name"].strip()
    return CitySpec(code=code, name=name, country=record["country"])


def busiest_airports(count: int, codes: Sequence[str] = BUSIEST_AIRPORTS) -> list[Airport]:
    """The ``count`` busiest airports that ``airportsdata`` knows, busiest first.

    Each is a core :class:`Airport` value whose ``city`` is its IATA city code (:func:`cities_of`
    gives the cities themselves).
    """
    if count < 2:
        raise ValueError("a network needs at least 2 airports")
    records = _airport_records()
    airports: list[Airport] = []
    for code in codes:
        record = records.get(code)
        if record is None:
            continue
        airports.append(
            Airport(
                code=code,
                name=record["name"].strip(),
                city=_city_of(code).code,
                country=record["country"],
                time_zone=record["tz"],
                latitude=float(record["lat"]),
                longitude=float(record["lon"]),
            )
        )
        if len(airports) == count:
            break
    return airports


def cities_of(airports: Iterable[Airport]) -> list[CitySpec]:
    """The cities the airports are in, each once, in the airports' order."""
    cities: dict[str, CitySpec] = {}
    for airport in airports:
        if airport.city not in cities:
            city = _city_of(airport.code)
            cities[city.code] = city
    return list(cities.values())


def great_circle_km(origin: Airport, destination: Airport) -> float:
    """The haversine distance between two airports, in kilometres."""
    lat1, lon1 = math.radians(origin.latitude), math.radians(origin.longitude)
    lat2, lon2 = math.radians(destination.latitude), math.radians(destination.longitude)
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _block_minutes(distance_km: float) -> int:
    """Gate to gate, rounded up to 5 minutes as timetables show it."""
    minutes = _TAXI_AND_CLIMB_MINUTES + distance_km / _CRUISE_KM_PER_HOUR * 60
    return math.ceil(minutes / 5) * 5


def _hub_weight(rank: int) -> float:
    """How big a hub is, 1.0 for the busiest, falling slowly with its rank."""
    return 1 / (1 + rank / 15)


def _route_appeal(distance_km: float) -> float:
    """How likely a route this long is flown: short and medium hops most, long-haul less."""
    return 1.0 if distance_km <= 2_500 else (2_500 / distance_km) ** 0.7


def _daily_frequency(distance_km: float, hubs: float, density: int = 1) -> int:
    """Departures a day in each direction, 1-4 (times ``density``): shuttles between big
    hubs, one long-haul."""
    if distance_km < 1_000:
        base = 4.0
    elif distance_km < 2_000:
        base = 3.0
    elif distance_km < 8_000:
        base = 2.0
    else:
        base = 1.0
    return max(1, min(4 * density, round(base * (0.5 + hubs) * density)))


def _carrier_of(airport: Airport) -> str:
    return (
        _HUB_CARRIERS.get(airport.code) or _FLAG_CARRIERS.get(airport.country) or airport.code[:2]
    )


def _currency_of(airport: Airport) -> str:
    if airport.country in _EURO_COUNTRIES:
        return "EUR"
    return _COUNTRY_CURRENCIES.get(airport.country, "USD")


def _money(usd: float, currency: str) -> Money:
    """A list price in whole units of ``currency`` (hundreds for the yen)."""
    amount = usd * _USD_RATES[currency]
    step = 100 if currency == "JPY" else 1
    whole = max(step, round(amount / step) * step)
    return Money(whole * 10 ** minor_unit_exponent(currency), currency)


@frozen(kw_only=True)
class _Service:
    """One daily departure of a flight number: the same local time and airplane every day."""

    airline: str
    number: str
    origin: Airport
    destination: Airport
    departs_minutes: int  # local minutes after midnight at the origin
    block_minutes: int
    model: str
    economy_usd: float


@frozen(kw_only=True)
class _Route:
    first: Airport
    second: Airport
    distance_km: float
    hubs: float  # the product of both ends' hub weights


def _choose_routes(airports: Sequence[Airport], rng: random.Random) -> list[_Route]:
    """City pairs the way networks look: each airport keeps its most appealing partners.

    A pair appeals by both ends' hub size and by its distance (jittered, so seeds differ); each
    airport keeps the top 6-12 (more for bigger hubs) and a route exists when either end keeps it.
    """
    weights = {airport.code: _hub_weight(rank) for rank, airport in enumerate(airports)}
    scores: dict[tuple[int, int], float] = {}
    routes: dict[tuple[int, int], _Route] = {}
    for i, first in enumerate(airports):
        for j in range(i + 1, len(airports)):
            second = airports[j]
            distance = great_circle_km(first, second)
            jitter = rng.uniform(0.7, 1.3)
            if first.city == second.city or not (
                _SHORTEST_ROUTE_KM <= distance <= _LONGEST_ROUTE_KM
            ):
                continue
            hubs = weights[first.code] * weights[second.code]
            scores[i, j] = hubs * _route_appeal(distance) * jitter
            routes[i, j] = _Route(first=first, second=second, distance_km=distance, hubs=hubs)
    kept: set[tuple[int, int]] = set()
    for i, airport in enumerate(airports):
        partners = sorted(
            (pair for pair in scores if i in pair), key=lambda pair: (-scores[pair], pair)
        )
        kept.update(partners[: 5 + round(7 * weights[airport.code])])
    return [routes[pair] for pair in sorted(kept)]


def _model_for(route: _Route, carrier: str, ranks: Mapping[str, int]) -> str:
    if route.distance_km < _LONG_HAUL_KM:
        return (AIRBUS_A320NEO if carrier in _LOW_COST_CARRIERS else BOEING_737_MAX_8).model
    trunk = (
        route.distance_km <= _TRUNK_MAX_KM
        and ranks[route.first.code] < _TRUNK_HUBS
        and ranks[route.second.code] < _TRUNK_HUBS
    )
    return (BOEING_777_300ER if trunk else BOEING_787_9).model


def _bank_departures(count: int, rng: random.Random) -> list[int]:
    """``count`` local departure times spread over the day's banks, one in each equal share."""
    slots = range(_FIRST_DEPARTURE, _LAST_DEPARTURE + 1, 5)
    share = len(slots) / count
    return [
        slots[rng.randrange(math.floor(index * share), math.floor((index + 1) * share))]
        for index in range(count)
    ]


def _plan_services(
    airports: Sequence[Airport], rng: random.Random, density: int = 1
) -> list[_Service]:
    """Every daily departure of the network, with its flight number.

    A route flown ``n`` times a day has ``n`` rotations out and back; they alternate between the
    carriers based at either end, bigger hub first. Each carrier numbers its rotations from 1,
    longest routes first (as airlines give their flagship long-hauls low numbers), the way out odd
    and the way back even: BA1 and BA2.
    """
    ranks = {airport.code: rank for rank, airport in enumerate(airports)}
    routes = sorted(
        _choose_routes(airports, rng),
        key=lambda route: (-route.distance_km, route.first.code, route.second.code),
    )
    next_number: dict[str, int] = {}
    services: list[_Service] = []
    for route in routes:
        frequency = _daily_frequency(route.distance_km, route.hubs, density)
        block = _block_minutes(route.distance_km)
        economy = (_ECONOMY_BASE_USD + _ECONOMY_USD_PER_KM * route.distance_km) * rng.uniform(
            0.85, 1.15
        )
        outbound = _bank_departures(frequency, rng)
        inbound = _bank_departures(frequency, rng)
        for rotation in range(frequency):
            home, away = (
                (route.first, route.second) if rotation % 2 == 0 else (route.second, route.first)
            )
            carrier = _carrier_of(home)
            number = next_number.get(carrier, 1)
            if number + 1 > _LAST_FLIGHT_NUMBER:
                raise ValueError(f"{carrier} ran out of flight numbers; seed fewer airports")
            next_number[carrier] = number + 2
            model = _model_for(route, carrier, ranks)
            legs = (
                (home, away, outbound[rotation], number),
                (away, home, inbound[rotation], number + 1),
            )
            for origin, destination, departs, leg_number in legs:
                services.append(
                    _Service(
                        airline=carrier,
                        number=f"{carrier}{leg_number}",
                        origin=origin,
                        destination=destination,
                        departs_minutes=departs,
                        block_minutes=block,
                        model=model,
                        economy_usd=economy,
                    )
                )
    return services


def _fares(service: _Service, airplane: Airplane) -> dict[Cabin | str, Money]:
    """A fare for each cabin the airplane actually has, in the origin's currency."""
    currency = _currency_of(service.origin)
    return {
        cabin: _money(service.economy_usd * _CABIN_FARE_FACTORS[cabin], currency)
        for cabin in sorted(airplane.layout.cabin_classes, key=lambda cabin: cabin.rank)
    }


def _drafts_on(
    day: date,
    services: Sequence[_Service],
    fares: Sequence[Mapping[Cabin | str, Money]],
    airplanes: Mapping[str, Airplane],
) -> list[FlightDraft]:
    """The departures of every service on one local date, in order of departure."""
    drafts: list[FlightDraft] = []
    for service, service_fares in zip(services, fares, strict=True):
        local = datetime.combine(
            day,
            time(service.departs_minutes // 60, service.departs_minutes % 60),
            tzinfo=service.origin.zone,
        )
        departs_at = local.astimezone(UTC)
        drafts.append(
            FlightDraft(
                number=service.number,
                airline=service.airline,
                airplane_id=airplanes[service.model].id,
                origin=service.origin.code,
                destination=service.destination.code,
                departs_at=departs_at,
                arrives_at=departs_at + timedelta(minutes=service.block_minutes),
                fares=service_fares,
            )
        )
    drafts.sort(key=lambda draft: (draft.departs_at, draft.number))
    return drafts


def _schedule_by_day(
    airports: Sequence[Airport],
    airplanes: Mapping[str, Airplane],
    *,
    start: date,
    days: int,
    rng: random.Random,
    density: int = 1,
) -> list[tuple[date, list[FlightDraft]]]:
    if days < 1:
        raise ValueError("days must be at least 1")
    services = _plan_services(airports, rng, density)
    # Priced once per service: a flight number keeps its list price every day (the core's
    # dynamic pricing moves what travellers pay).
    fares = [_fares(service, airplanes[service.model]) for service in services]
    schedule = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        schedule.append((day, _drafts_on(day, services, fares, airplanes)))
    return schedule


def schedule_flights(
    airports: Sequence[Airport],
    airplanes: Mapping[str, Airplane],
    *,
    start: date,
    days: int,
    rng: random.Random,
) -> list[FlightDraft]:
    """The flights of the network between ``airports`` for ``days`` local dates from ``start``.

    ``airports`` are busiest first (their order sizes the hubs); ``airplanes`` maps each
    :data:`FLEET` model to the stored airplane that flies it, whose cabins the fares follow.
    Drafts come in order of local date, then departure instant; past ones are not filtered here.
    All randomness is drawn from ``rng`` before the first day is laid out, so every day repeats
    the same numbers at the same local times.
    """
    schedule = _schedule_by_day(airports, airplanes, start=start, days=days, rng=rng)
    return [draft for _day, drafts in schedule for draft in drafts]


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


async def _create_cities(
    airline: Airline, cities: Sequence[CitySpec], progress: Progress | None
) -> int:
    created = 0
    _report(progress, "cities", 0, len(cities))
    for done, city in enumerate(cities, start=1):
        try:
            await airline.cities.create(code=city.code, name=city.name, country=city.country)
            created += 1
        except AlreadyExists:
            pass  # seeded before, or made by an admin: theirs stands
        _report(progress, "cities", done, len(cities))
    return created


async def _create_airports(
    airline: Airline, airports: Sequence[Airport], progress: Progress | None
) -> int:
    created = 0
    _report(progress, "airports", 0, len(airports))
    for done, airport in enumerate(airports, start=1):
        try:
            await airline.airports.create(
                code=airport.code,
                name=airport.name,
                city=airport.city,
                country=airport.country,
                time_zone=airport.time_zone,
                latitude=airport.latitude,
                longitude=airport.longitude,
            )
            created += 1
        except AlreadyExists:
            pass
        _report(progress, "airports", done, len(airports))
    return created


async def _existing_airplanes(airline: Airline, model: str) -> list[Airplane]:
    found: list[Airplane] = []
    page = await airline.airplanes.list(AirplaneFilter(model=model), PageRequest(limit=200))
    while True:
        found.extend(airplane for airplane in page.items if airplane.model == model)
        if page.after is None:
            return found
        page = await airline.airplanes.list(
            AirplaneFilter(model=model), PageRequest(limit=200, after=page.after)
        )


async def _create_airplanes(
    airline: Airline, progress: Progress | None
) -> tuple[int, dict[str, Airplane]]:
    """The fleet by model: the stored airplane of each model (the first made), else a new one."""
    created = 0
    fleet: dict[str, Airplane] = {}
    _report(progress, "airplanes", 0, len(FLEET))
    for done, spec in enumerate(FLEET, start=1):
        existing = await _existing_airplanes(airline, spec.model)
        if existing:
            fleet[spec.model] = existing[0]
        else:
            fleet[spec.model] = await airline.airplanes.create(model=spec.model, layout=spec.layout)
            created += 1
        _report(progress, "airplanes", done, len(FLEET))
    return created, fleet


async def _scheduled_numbers(airline: Airline, day: date) -> set[str]:
    """The flight numbers already departing on ``day`` (local date at their origin)."""
    criteria = FlightFilter(departs_on=day)
    page = await airline.flights.list(criteria, PageRequest(limit=200))
    numbers: set[str] = set()
    while True:
        numbers.update(flight.number for flight in page.items)
        if page.after is None:
            return numbers
        page = await airline.flights.list(criteria, PageRequest(limit=200, after=page.after))


async def seed_catalog(
    airline: Airline,
    *,
    airports: int = 40,
    days: int = 14,
    start: date | None = None,
    seed: int = 7,
    density: int = 1,
    progress: Progress | None = None,
) -> SeedReport:
    """Seed the catalog with the ``airports`` busiest airports and ``days`` days of flights.

    ``airports`` counts from the top of :data:`BUSIEST_AIRPORTS` (at most its length).

    ``start`` is the first local date of the schedule, tomorrow (UTC) by default; departures
    closer than half an hour to the airline's clock are skipped, so every flight is bookable.
    ``seed`` fixes the network: the same seed and airports give the same flights.
    ``density`` multiplies each route's daily departures (1: 1-4 a day; the benchmark's year
    of 79 airports at 2 has 1.2 million flights).
    ``progress(stage, done, total)`` is called as each stage (``cities``, ``airports``,
    ``airplanes``, ``flights``) moves on, to drive a progress bar.

    Idempotent: existing cities, airports (by code) and airplanes (by model) are kept as they
    are, and a flight whose number already departs on that local date is skipped, so a second
    run adds only what is missing (the days past the last run's, typically).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    now = airline.clock.now()
    first_day = start if start is not None else (now + timedelta(days=1)).date()
    last_day = first_day + timedelta(days=days - 1)
    chosen = busiest_airports(airports)
    cities_created = await _create_cities(airline, cities_of(chosen), progress)
    airports_created = await _create_airports(airline, chosen, progress)
    # The stored airports may differ (an admin's edits, or the city an earlier run used):
    # flights follow what is stored, since the core derives local dates from stored zones.
    network = [await airline.airports.get(airport.code) for airport in chosen]
    airplanes_created, fleet = await _create_airplanes(airline, progress)

    schedule = _schedule_by_day(
        network, fleet, start=first_day, days=days, rng=random.Random(seed), density=density
    )
    earliest = now + _PAST_MARGIN
    fresh: list[FlightDraft] = []
    planned = 0
    for day, drafts in schedule:
        planned += len(drafts)
        taken = await _scheduled_numbers(airline, day)
        fresh.extend(
            draft for draft in drafts if draft.number not in taken and draft.departs_at > earliest
        )
    total = len(fresh)
    _report(progress, "flights", 0, total)
    for begin in range(0, total, _BATCH_SIZE):
        await airline.flights.create_many(fresh[begin : begin + _BATCH_SIZE])
        _report(progress, "flights", min(begin + _BATCH_SIZE, total), total)
    return SeedReport(
        cities=cities_created,
        airports=airports_created,
        airplanes=airplanes_created,
        flights=total,
        skipped_flights=planned - total,
        first_day=first_day,
        last_day=last_day,
    )


#: The demo's size: enough for connections on every continent pair it touches, loaded in seconds.
DEMO_AIRPORTS = 12
DEMO_DAYS = 7


async def seed_demo(airline: Airline, *, progress: Progress | None = None) -> SeedReport | None:
    """Load the demo data set on first start: ``None`` when the catalog already has airports."""
    existing = await airline.airports.list(page=PageRequest(limit=1))
    if existing.items:
        return None
    return await seed_catalog(airline, airports=DEMO_AIRPORTS, days=DEMO_DAYS, progress=progress)
