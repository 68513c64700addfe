"""SQLAlchemy stores for the catalog ports (contracts in :mod:`airline_core.ports`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import cattrs
from attrs import define
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    TextClause,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from airline_core.catalog.filters import AirplaneFilter, AirportFilter, CityFilter, FlightFilter
from airline_core.catalog.model import (
    Airplane,
    Airport,
    Cabin,
    City,
    Flight,
    SeatLayout,
)
from airline_core.errors import NotFound, StillReferenced
from airline_core.events import Event, encode
from airline_core.money import Money
from airline_core.pagination import KeysetWindow
from airline_core.search.legs import Leg, LegQuery
from airline_runtime.db.engine import Database, integrity_errors
from airline_runtime.db.keysets import keyset, window_key
from airline_runtime.db.outbox import add_events
from airline_runtime.db.tables import airplanes, airports, cities, flights, seats

if TYPE_CHECKING:
    from airline_core.ports import Replan

__all__ = [
    "SQLAlchemyAirplaneStore",
    "SQLAlchemyAirportStore",
    "SQLAlchemyCityStore",
    "SQLAlchemyFlightStore",
]

_layouts = cattrs.Converter()
_FARE_COLUMNS = {cabin: f"fare_{cabin.value}" for cabin in Cabin}
_SEAT_COLUMNS = {cabin: f"seats_{cabin.value}" for cabin in Cabin}
_CAPACITY_COLUMNS = {cabin: f"capacity_{cabin.value}" for cabin in Cabin}
_NO_SEATS: dict[str, int | None] = dict.fromkeys(
    [*_SEAT_COLUMNS.values(), *_CAPACITY_COLUMNS.values()]
)


@define
class SQLAlchemyCityStore:
    db: Database

    @staticmethod
    def _city(row: Any) -> City:
        return City(id=row.id, code=row.code, name=row.name, country=row.country)

    async def add(self, city: City) -> None:
        with integrity_errors(duplicate=f"city {city.code} already exists"):
            await self.db.execute(
                insert(cities).values(
                    id=city.id, code=city.code, name=city.name, country=city.country
                )
            )

    async def get(self, city_id: str) -> City:
        found = await self._first(cities.c.id == city_id)
        if found is None:
            raise NotFound(f"no city has id {city_id}")
        return found

    async def find_by_code(self, code: str) -> City | None:
        return await self._first(cities.c.code == code)

    async def _first(self, condition: ColumnElement[bool]) -> City | None:
        async with self.db.read() as connection:
            row = (await connection.execute(select(cities).where(condition))).first()
        return None if row is None else self._city(row)

    async def update(self, city: City) -> None:
        statement = (
            update(cities)
            .where(cities.c.id == city.id)
            .values(name=city.name, country=city.country)
        )
        if not await self.db.execute(statement):
            raise NotFound(f"no city has id {city.id}")

    async def delete(self, city_id: str) -> None:
        with integrity_errors(reference="the city still has airports"):
            deleted = await self.db.execute(delete(cities).where(cities.c.id == city_id))
        if not deleted:
            raise NotFound(f"no city has id {city_id}")

    async def list(self, criteria: CityFilter, window: KeysetWindow) -> Sequence[City]:
        query = select(cities)
        if criteria.code is not None:
            query = query.where(cities.c.code == criteria.code)
        if criteria.name is not None:
            query = query.where(cities.c.name.icontains(criteria.name, autoescape=True))
        if criteria.country is not None:
            query = query.where(cities.c.country == criteria.country)
        query = keyset(query, [cities.c.code], window, window_key(window))
        async with self.db.read() as connection:
            return [self._city(row) for row in await connection.execute(query)]


def _airport_values(airport: Airport) -> dict[str, Any]:
    return {
        "name": airport.name,
        "city_code": airport.city,
        "country": airport.country,
        "time_zone": airport.time_zone,
        "latitude": airport.latitude,
        "longitude": airport.longitude,
    }


_SERVING = (
    select(airports)
    .where(or_(airports.c.code == bindparam("code"), airports.c.city_code == bindparam("code")))
    .order_by(airports.c.code)
)


@define
class SQLAlchemyAirportStore:
    db: Database

    @staticmethod
    def _airport(row: Any) -> Airport:
        return Airport(
            code=row.code,
            name=row.name,
            city=row.city_code,
            country=row.country,
            time_zone=row.time_zone,
            latitude=row.latitude,
            longitude=row.longitude,
        )

    async def add(self, airport: Airport) -> None:
        with integrity_errors(
            duplicate=f"airport {airport.code} already exists",
            reference=f"city {airport.city} does not exist",
        ):
            await self.db.execute(
                insert(airports).values(code=airport.code, **_airport_values(airport))
            )

    async def get(self, code: str) -> Airport:
        found = await self.get_many([code])
        if code not in found:
            raise NotFound(f"no airport has code {code}")
        return found[code]

    async def get_many(self, codes: Sequence[str]) -> dict[str, Airport]:
        if not codes:
            return {}
        async with self.db.read() as connection:
            rows = await connection.execute(select(airports).where(airports.c.code.in_(codes)))
            return {row.code: self._airport(row) for row in rows}

    async def serving(self, code: str) -> Sequence[Airport]:
        found = [self._airport(row) for row in await self.db.fetch(_SERVING, {"code": code})]
        exact = [airport for airport in found if airport.code == code]
        return exact or found

    async def update(self, airport: Airport) -> None:
        statement = (
            update(airports)
            .where(airports.c.code == airport.code)
            .values(**_airport_values(airport))
        )
        with integrity_errors(reference=f"city {airport.city} does not exist"):
            updated = await self.db.execute(statement)
        if not updated:
            raise NotFound(f"no airport has code {airport.code}")

    async def delete(self, code: str) -> None:
        with integrity_errors(reference=f"airport {code} still has flights"):
            deleted = await self.db.execute(delete(airports).where(airports.c.code == code))
        if not deleted:
            raise NotFound(f"no airport has code {code}")

    async def list(self, criteria: AirportFilter, window: KeysetWindow) -> Sequence[Airport]:
        query = select(airports)
        if criteria.code is not None:
            query = query.where(airports.c.code == criteria.code)
        if criteria.name is not None:
            query = query.where(airports.c.name.icontains(criteria.name, autoescape=True))
        if criteria.city is not None:
            query = query.where(airports.c.city_code == criteria.city)
        if criteria.country is not None:
            query = query.where(airports.c.country == criteria.country)
        query = keyset(query, [airports.c.code], window, window_key(window))
        async with self.db.read() as connection:
            return [self._airport(row) for row in await connection.execute(query)]


def _airplane_values(airplane: Airplane) -> dict[str, Any]:
    return {
        "model": airplane.model,
        "seat_count": airplane.layout.capacity,
        "layout": json.dumps(_layouts.unstructure(airplane.layout), separators=(",", ":")),
    }


@define
class SQLAlchemyAirplaneStore:
    db: Database

    @staticmethod
    def _airplane(row: Any) -> Airplane:
        layout = _layouts.structure(json.loads(row.layout), SeatLayout)
        return Airplane(id=row.id, model=row.model, layout=layout)

    async def add(self, airplane: Airplane) -> None:
        with integrity_errors(duplicate=f"airplane {airplane.id} already exists"):
            await self.db.execute(
                insert(airplanes).values(id=airplane.id, **_airplane_values(airplane))
            )

    async def get(self, airplane_id: str) -> Airplane:
        async with self.db.read() as connection:
            row = (await connection.execute(_AIRPLANE_BY_ID, {"id": airplane_id})).first()
        if row is None:
            raise NotFound(f"no airplane has id {airplane_id}")
        return self._airplane(row)

    async def update(self, airplane: Airplane) -> None:
        statement = (
            update(airplanes)
            .where(airplanes.c.id == airplane.id)
            .values(**_airplane_values(airplane))
        )
        if not await self.db.execute(statement):
            raise NotFound(f"no airplane has id {airplane.id}")

    async def delete(self, airplane_id: str) -> None:
        with integrity_errors(reference=f"airplane {airplane_id} still flies flights"):
            deleted = await self.db.execute(delete(airplanes).where(airplanes.c.id == airplane_id))
        if not deleted:
            raise NotFound(f"no airplane has id {airplane_id}")

    async def list(self, criteria: AirplaneFilter, window: KeysetWindow) -> Sequence[Airplane]:
        query = select(airplanes)
        if criteria.model is not None:
            query = query.where(airplanes.c.model.icontains(criteria.model, autoescape=True))
        query = keyset(query, [airplanes.c.id], window, window_key(window))
        async with self.db.read() as connection:
            return [self._airplane(row) for row in await connection.execute(query)]


_origins = airports.alias("origin_airport")
_destinations = airports.alias("destination_airport")
_FLIGHT_ROWS = select(
    flights,
    _origins.c.time_zone.label("origin_time_zone"),
    _destinations.c.time_zone.label("destination_time_zone"),
).select_from(
    flights.join(_origins, _origins.c.code == flights.c.origin).join(
        _destinations, _destinations.c.code == flights.c.destination
    )
)


# Built once: booking reads a flight and its airplane on every hold.
_FLIGHT_BY_ID = _FLIGHT_ROWS.where(flights.c.id == bindparam("id"))
_FLIGHTS_BY_ID = _FLIGHT_ROWS.where(flights.c.id.in_(bindparam("ids", expanding=True)))
_AIRPLANE_BY_ID = select(airplanes).where(airplanes.c.id == bindparam("id"))


def _flight_values(flight: Flight) -> dict[str, Any]:
    values: dict[str, Any] = {
        "airplane_id": flight.airplane_id,
        "departs_at": flight.departs_at,
        "arrives_at": flight.arrives_at,
        "departs_on": flight.departs_on,
        "status": flight.status.value,
        "currency": flight.currency,
    }
    for cabin, column in _FARE_COLUMNS.items():
        fare = flight.fares.get(cabin)
        values[column] = None if fare is None else fare.minor_units
    return values


def _flight(row: Any) -> Flight:
    fares = {
        cabin: Money(getattr(row, column), row.currency)
        for cabin, column in _FARE_COLUMNS.items()
        if getattr(row, column) is not None
    }
    return Flight(
        id=row.id,
        number=row.number,
        airline=row.airline,
        airplane_id=row.airplane_id,
        origin=row.origin,
        destination=row.destination,
        departs_at=row.departs_at,
        arrives_at=row.arrives_at,
        origin_time_zone=row.origin_time_zone,
        destination_time_zone=row.destination_time_zone,
        fares=fares,
        status=row.status,
    )


_ONE_OF = {"origins": "origin", "destinations": "destination", "airlines": "airline"}


@cache
def _legs_statement(cabin: Cabin, given: frozenset[str], dialect: str) -> TextClause:
    """The legs query for ``cabin`` with a condition for each parameter in ``given``.

    Written as SQL text, built once per shape: SQLAlchemy works out a cache key for every
    execution of a Core ``select()`` by walking its whole expression (the joins, the labels, each
    condition), which measured 200 us a query here, as much as the query itself; a text
    statement's key is its string. The statement is untyped (see the end): the store binds
    instants as UTC text and reads them back itself (:func:`_instant`).

    On MySQL/MariaDB the flights are read first (``STRAIGHT_JOIN``), then each leg's two
    airports by primary key. Left to itself, MariaDB began some queries from the airports
    table and then read each airport's flights by an index whose statistics it misjudged: on
    the benchmark data a two-stop search read 16,000 index entries per hub, the whole year of
    its departures, and took 5 to 13 seconds instead of milliseconds.
    """
    fare, seats = _FARE_COLUMNS[cabin], _SEAT_COLUMNS[cabin]
    capacity = _CAPACITY_COLUMNS[cabin]
    conditions = [
        "f.status <> 'cancelled'",
        f"f.{fare} IS NOT NULL",
        f"f.{seats} >= :seats",
    ]
    if "after" in given:
        conditions.append("f.departs_at > :after")
    expanding: list[BindParameter[Any]] = []
    for name, column in (
        ("origins", "origin"),
        ("destinations", "destination"),
        ("airlines", "airline"),
    ):
        if name in given:
            conditions.append(f"f.{column} IN :{name}")
            expanding.append(bindparam(name, expanding=True))
        elif _ONE_OF[name] in given:
            # One value (the usual case: an airport, not a city) compares with "=": an
            # expanding IN is rendered anew for each execution.
            conditions.append(f"f.{column} = :{_ONE_OF[name]}")
    for name, condition in (
        ("day", "f.departs_on = :day"),
        ("from", "f.departs_at >= :from"),
        ("until", "f.departs_at <= :until"),
    ):
        if name in given:
            conditions.append(condition)
    # Only our own column names and fixed fragments go into the text; every value is bound.
    columns = (
        "f.id, f.number, f.airline, f.origin, f.destination, f.departs_at, f.arrives_at,"
        f" f.currency, f.{fare} AS fare, f.{seats} AS seats,"
        " o.time_zone AS origin_time_zone, d.time_zone AS destination_time_zone,"
        f" f.{capacity} AS capacity"
    )
    joins = (
        "flights f JOIN airports o ON o.code = f.origin JOIN airports d ON d.code = f.destination"
    )
    select = "SELECT STRAIGHT_JOIN" if dialect == "mysql" else "SELECT"
    sql = " ".join((select, columns, "FROM", joins, "WHERE", " AND ".join(conditions)))
    # Untyped on purpose: type processing of binds and results measured 170k instructions a
    # query.
    return text(sql).bindparams(*expanding)


def _naive(instant: datetime, dialect: str) -> str:
    """An aware instant as text the flights table compares with its UTC column: on SQLite the
    text SQLAlchemy's DateTime writes there (so that text comparisons order correctly), on
    MySQL a DATETIME literal (asyncmy escapes a text in a tenth of the time of a datetime)."""
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else naive.isoformat(" ")


_last_now: tuple[datetime, str, str] = (datetime.min.replace(tzinfo=UTC), "", "")


def _naive_now(now: datetime, dialect: str) -> str:
    """:func:`_naive` of the lower bound "departs after now", to the whole second below it:
    every search passes the current instant, and its text is made once a second, not once a
    query (flights depart on whole seconds, so one that leaves before ``now`` stays out)."""
    global _last_now  # noqa: PLW0603 - a one-entry memo
    second = now.replace(microsecond=0)
    remembered, dialect_then, text = _last_now
    if remembered != second or dialect_then != dialect:
        text = _naive(second, dialect)
        _last_now = (second, dialect, text)
    return text


def _instant(value: datetime | str) -> datetime:
    """A UTC instant as a driver returns a DATETIME: naive (MySQL) or text (SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


_new_leg = tuple.__new__


def _leg(row: Any) -> Leg:
    (
        flight_id,
        number,
        airline,
        origin,
        destination,
        departs_at,
        arrives_at,
        currency,
        fare,
        seats,
        origin_zone,
        destination_zone,
        capacity,
    ) = row
    # Made as the tuple it is: a named tuple's __new__ is Python code, and a search makes a
    # leg of every row it reads (the fields in Leg's order).
    return _new_leg(
        Leg,
        (
            flight_id,
            number,
            airline,
            origin,
            destination,
            _instant(departs_at),
            _instant(arrives_at),
            origin_zone,
            destination_zone,
            fare,
            currency,
            seats,
            capacity,
        ),
    )


def _taken_seats(flight_id: str) -> ColumnElement[bool]:
    """Whether any seat of the flight is held or sold."""
    return exists().where(seats.c.flight_id == flight_id, seats.c.state != "available")


@define
class SQLAlchemyFlightStore:
    db: Database

    async def add(self, flight: Flight) -> None:
        await self.add_many([flight])

    async def add_many(self, batch: Sequence[Flight]) -> None:
        if not batch:
            return
        seats = await self._seats_of({flight.airplane_id for flight in batch})
        rows = [
            {
                "id": flight.id,
                "number": flight.number,
                "airline": flight.airline,
                "origin": flight.origin,
                "destination": flight.destination,
                **_flight_values(flight),
                **seats.get(flight.airplane_id, _NO_SEATS),
            }
            for flight in batch
        ]
        first = batch[0]
        with integrity_errors(
            duplicate=(
                f"{first.number} already departs on {first.departs_on}"
                if len(batch) == 1
                else "a flight number already departs on one of these dates"
            ),
            reference="an airplane or airport of these flights does not exist",
        ):
            await self.db.execute(insert(flights), rows)

    async def get(self, flight_id: str) -> Flight:
        async with self.db.read() as connection:
            row = (await connection.execute(_FLIGHT_BY_ID, {"id": flight_id})).first()
        if row is None:
            raise NotFound(f"no flight has id {flight_id}")
        return _flight(row)

    async def _seats_of(self, airplane_ids: set[str]) -> dict[str, dict[str, int | None]]:
        """The seats and capacity columns of a new flight, per airplane: its layout's seats
        per cabin, all of them left."""
        query = select(airplanes.c.id, airplanes.c.layout).where(
            airplanes.c.id.in_(sorted(airplane_ids))
        )
        async with self.db.read() as connection:
            rows = list(await connection.execute(query))
        seats = {}
        for row in rows:
            layout = _layouts.structure(json.loads(row.layout), SeatLayout)
            counts = {
                cabin: None
                if (cabin_layout := layout.cabin(cabin)) is None
                else cabin_layout.seat_count
                for cabin in Cabin
            }
            seats[row.id] = {
                **{_SEAT_COLUMNS[cabin]: count for cabin, count in counts.items()},
                **{_CAPACITY_COLUMNS[cabin]: count for cabin, count in counts.items()},
            }
        return seats

    async def update(
        self, flight: Flight, events: Sequence[Event] = (), replan: Replan | None = None
    ) -> None:
        values = _flight_values(flight)
        encoded = [encode(event) for event in events]
        current = await self.get(flight.id)
        statement = update(flights).where(flights.c.id == flight.id)
        re_equipped = current.airplane_id != flight.airplane_id
        if re_equipped:
            # A new airplane brings all of its seats, so none may be held or sold.
            values.update((await self._seats_of({flight.airplane_id})).get(flight.airplane_id, {}))
            values["seats_ready"] = False
            statement = statement.where(~_taken_seats(flight.id))

        async def work(connection: AsyncConnection) -> int:
            # The travellers' seat rows are locked before the flight's row, in the order a
            # hold or a release takes them (its seats, then the flight's seats left): the
            # other order deadlocked with a hold on the flight.
            travellers = [] if replan is None else await _lock_travellers(connection, flight.id)
            with integrity_errors(
                duplicate=f"{flight.number} already departs on {flight.departs_on}",
                reference=f"airplane {flight.airplane_id} does not exist",
            ):
                updated = (await connection.execute(statement.values(**values))).rowcount
            if updated and re_equipped:
                await connection.execute(delete(seats).where(seats.c.flight_id == flight.id))
            if updated and encoded:
                await add_events(connection, encoded, encoded[0].occurred_at)
            if updated and replan is not None and travellers:
                now = encoded[0].occurred_at if encoded else datetime.now(UTC)
                await _replan_travellers(connection, flight, travellers, replan, now)
            return updated

        if not await self.db.write(work):
            await self.get(flight.id)  # NotFound when it went meanwhile
            raise StillReferenced("seats of the flight are held or sold: keep its airplane")

    async def delete(self, flight_id: str) -> None:
        statement = delete(flights).where(flights.c.id == flight_id, ~_taken_seats(flight_id))
        if not await self.db.execute(statement):
            await self.get(flight_id)
            raise StillReferenced("seats of the flight are held or sold")

    async def list(self, criteria: FlightFilter, window: KeysetWindow) -> Sequence[Flight]:
        query = _FLIGHT_ROWS
        for column, value in (
            (flights.c.number, criteria.number),
            (flights.c.airline, criteria.airline),
            (flights.c.origin, criteria.origin),
            (flights.c.destination, criteria.destination),
            (flights.c.departs_on, criteria.departs_on),
            (flights.c.status, None if criteria.status is None else criteria.status.value),
        ):
            if value is not None:
                query = query.where(column == value)
        key: tuple[Any, ...] | None = window_key(window)
        if key is not None:
            # The cursor holds the departure as epoch seconds (see flight_key).
            key = (datetime.fromtimestamp(int(key[0]), UTC), key[1])
        query = keyset(query, [flights.c.departs_at, flights.c.id], window, key)
        async with self.db.read() as connection:
            return [_flight(row) for row in await connection.execute(query)]

    async def legs(self, query: LegQuery) -> Sequence[Leg]:
        dialect = self.db.dialect
        values: dict[str, Any] = {"seats": query.seats}
        # One lower bound on the departure, the later of the two: two of them on one column
        # leave the planner to guess which one narrows the range.
        if query.departs_from is not None and query.departs_from > query.departs_after:
            values["from"] = _naive(query.departs_from, dialect)
        else:
            values["after"] = _naive_now(query.departs_after, dialect)
        for name, codes in (
            ("origins", query.origins),
            ("destinations", query.destinations),
            ("airlines", query.airlines),
        ):
            if codes is not None and len(codes) == 1:
                values[_ONE_OF[name]] = next(iter(codes))
            elif codes is not None:
                values[name] = sorted(codes)
        if query.departs_on is not None:
            values["day"] = query.departs_on.isoformat()
        if query.departs_until is not None:
            values["until"] = _naive(query.departs_until, dialect)
        statement = _legs_statement(query.cabin, frozenset(values), dialect)
        rows = await self.db.fetch(statement, values)
        return [_leg(row) for row in rows]

    async def uses_airplane(self, airplane_id: str) -> bool:
        return await self._exists(flights.c.airplane_id == airplane_id)

    async def uses_airport(self, code: str) -> bool:
        return await self._exists(or_(flights.c.origin == code, flights.c.destination == code))

    async def _exists(self, condition: ColumnElement[bool]) -> bool:
        async with self.db.read() as connection:
            found = await connection.scalar(select(exists().where(condition)))
        return bool(found)


async def _lock_travellers(connection: AsyncConnection, flight_id: str) -> list[str]:
    """The ids of the bookings with seats on the flight, their seat rows read with a shared
    lock: a payment confirming one of them sells its seats first, so either it waits for this
    transaction (and then plans on the flight's new time) or this waits for it (and then sees
    the booking confirmed and re-plans it)."""
    holders = (
        select(seats.c.booking_id)
        .where(seats.c.flight_id == flight_id, seats.c.booking_id.is_not(None))
        .with_for_update(read=True)
    )
    return sorted({row.booking_id for row in await connection.execute(holders)})


async def _replan_travellers(
    connection: AsyncConnection,
    flight: Flight,
    booking_ids: Sequence[str],
    replan: Replan,
    now: datetime,
) -> None:
    """Re-plan the reminders of the held or confirmed bookings among ``booking_ids``."""
    # Imported here: the booking store imports this module.
    from airline_runtime.db.booking import _booking
    from airline_runtime.db.reminder_rows import replan_bookings
    from airline_runtime.db.tables import bookings

    rows = await connection.execute(
        select(bookings).where(
            bookings.c.id.in_(booking_ids), bookings.c.status.in_(("held", "confirmed"))
        )
    )
    found = [_booking(row) for row in rows]
    await replan_bookings(connection, found, replan, now, f"flight {flight.number} changed")
