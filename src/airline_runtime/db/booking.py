"""SQLAlchemy stores for seat inventory, offers and bookings (contracts in
:mod:`airline_core.ports`).

A hold is one write transaction of few statements (eight for a one-flight hold, then
``COMMIT``), in an order that keeps hot row locks short and never writes a seat it did not
read as free:

1. one read of the user's row, locked (so two holds of one user queue, and neither slips past
   the hold limit or past the other's idempotency key), the seats its unexpired holds take,
   the offer and the request's idempotency key;
2. the offer's flights, and their taken seats as one list per flight (plain reads: they take
   no locks);
3. the core's plan picks the seats (no I/O);
4. per flight, in id order: claim the seats with one compare-and-set ``UPDATE ... WHERE
   seat IN (...) AND state = 'available'``, and only if that claims fewer than asked, a second
   one over holds whose deadline passed; the row count says whether every seat was won. A
   claim that won none, with nothing claimed before it, lets the plan pick again;
5. insert the booking, the key's answer and the hold's event (into the outbox);
6. per flight, take the seats claimed from available ones off the flight's seats left, which
   also checks that the flight is not cancelled: last, since every hold of a flight waits for
   that row's lock until the commit.

A lost race is a row count short, never an oversold seat: the ``UPDATE`` re-checks the state on
the locked row. On SQLite the transaction is ``BEGIN IMMEDIATE`` and the user lock is implied.

A payment is three transactions (:meth:`SQLAlchemyPaymentStore.begin`, ``record``,
``confirm``): the booking read and locked with the key, the key stored as running, the lease
and the pending payment; the capture; the confirmation with the seats sold and the key's
answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from attrs import define, evolve
from sqlalchemy import (
    Integer,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from airline_core.booking.model import (
    Booking,
    BookingStatus,
    HoldContext,
    HoldPlan,
    Offer,
    Passenger,
    Payment,
    PaymentContext,
    PaymentPlan,
    PaymentStatus,
    SeatAssignment,
    SeatState,
)
from airline_core.catalog.model import Airplane, Cabin, Flight
from airline_core.errors import (
    FieldError,
    InvalidTransition,
    NotFound,
    PaymentInProgress,
    SeatUnavailable,
)
from airline_core.events import Event, encode
from airline_core.idempotency import KeyedRequest, StoredAnswer
from airline_core.money import Money
from airline_core.pagination import KeysetWindow
from airline_core.ports import CabinSeats
from airline_core.reminders.model import ReminderChanges
from airline_runtime.db.catalog import (
    _AIRPLANE_BY_ID,
    _FLIGHT_BY_ID,
    _FLIGHTS_BY_ID,
    SQLAlchemyAirplaneStore,
    _flight,
    _instant,
)
from airline_runtime.db.engine import Database, integrity_errors
from airline_runtime.db.idempotency import KEY_COLUMNS, kept_key, store_key
from airline_runtime.db.keysets import keyset, window_key
from airline_runtime.db.outbox import add_events
from airline_runtime.db.reminder_rows import cancel_planned, replan_bookings, write_changes
from airline_runtime.db.tables import bookings, flights, offers, payments, seats, users
from airline_runtime.db.tables import idempotency_keys as keys

if TYPE_CHECKING:
    from airline_core.ports import Replan

__all__ = [
    "SQLAlchemyBookingStore",
    "SQLAlchemyInventoryStore",
    "SQLAlchemyOfferStore",
    "SQLAlchemyPaymentStore",
]

_HELD = SeatState.HELD.value
_AVAILABLE = SeatState.AVAILABLE.value
_SEATS_LEFT = {cabin: flights.c[f"seats_{cabin.value}"] for cabin in Cabin}
_CAPACITY = {cabin: flights.c[f"capacity_{cabin.value}"] for cabin in Cabin}


_TAKEN = text(
    "SELECT seat, state, hold_expires_at FROM seats WHERE flight_id = :flight"
    " AND state <> 'available'"
)


@define
class SQLAlchemyInventoryStore:
    db: Database

    async def seats(self, flight_id: str) -> tuple[bool, dict[Cabin, CabinSeats]]:
        query = select(flights.c.seats_ready, *_SEATS_LEFT.values(), *_CAPACITY.values()).where(
            flights.c.id == flight_id
        )
        rows = await self.db.fetch(query)
        if not rows:
            raise NotFound(f"no flight has id {flight_id}")
        row = rows[0]._mapping
        cabins = {
            cabin: CabinSeats(row[_SEATS_LEFT[cabin]], row[_CAPACITY[cabin]])
            for cabin in Cabin
            if row[_CAPACITY[cabin]] is not None
        }
        return bool(row[flights.c.seats_ready]), cabins

    async def prepare(self, flight_id: str, airplane_id: str, labels: Sequence[str]) -> None:
        async def work(connection: AsyncConnection) -> None:
            # Whoever flips the flag makes the rows; a second preparer waits on the flight's
            # row lock, then finds the flag set and does nothing.
            claimed = await connection.execute(
                update(flights)
                .where(
                    flights.c.id == flight_id,
                    flights.c.seats_ready.is_(False),
                    # Re-equipped since the labels were read: leave it to the next offer.
                    flights.c.airplane_id == airplane_id,
                )
                .values(seats_ready=True)
            )
            if claimed.rowcount:
                await connection.execute(
                    insert(seats),
                    [
                        {"flight_id": flight_id, "seat": label, "state": _AVAILABLE}
                        for label in labels
                    ],
                )

        await self.db.write(work)

    async def taken(self, flight_id: str, now: datetime) -> dict[str, SeatState]:
        # Every hold reads this (up to a cabin's worth of rows): plain text and untyped rows,
        # compared with the deadline as the driver returns it (see _instant in db.catalog).
        rows: Sequence[tuple[str, str, Any]] = await self.db.fetch(_TAKEN, {"flight": flight_id})  # type: ignore[assignment]
        states = {_HELD: SeatState.HELD, SeatState.SOLD.value: SeatState.SOLD}
        return {
            seat: states[state]
            for seat, state, until in rows
            if not (state == _HELD and until is not None and _instant(until) <= now)
        }


def _offer(row: Any) -> Offer:
    return Offer(
        id=row.id,
        user_id=row.user_id,
        flight_ids=row.flight_ids.split(),
        cabin=row.cabin,
        passengers=row.passengers,
        unit_prices=[Money(int(units), row.currency) for units in row.unit_prices.split()],
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@define
class SQLAlchemyOfferStore:
    db: Database

    async def add(self, offer: Offer) -> None:
        await self.db.execute(
            insert(offers).values(
                id=offer.id,
                user_id=offer.user_id,
                flight_ids=" ".join(offer.flight_ids),
                cabin=offer.cabin.value,
                passengers=offer.passengers,
                unit_prices=" ".join(str(price.minor_units) for price in offer.unit_prices),
                currency=offer.total.currency,
                created_at=offer.created_at,
                expires_at=offer.expires_at,
            )
        )

    async def get(self, offer_id: str) -> Offer:
        rows = await self.db.fetch(_OFFER_BY_ID, {"id": offer_id})
        if not rows:
            raise NotFound("no offer with that id")
        return _offer(rows[0])

    async def delete_expired(self, before: datetime) -> int:
        return await self.db.execute(offers.delete().where(offers.c.expires_at < before))


def _passenger_json(passenger: Passenger) -> dict[str, Any]:
    return {
        "given_name": passenger.given_name,
        "family_name": passenger.family_name,
        "born_on": passenger.born_on.isoformat(),
        "email": passenger.email,
        "phone": passenger.phone,
    }


def _booking_values(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "reference": booking.reference,
        "user_id": booking.user_id,
        "offer_id": booking.offer_id,
        "status": booking.status.value,
        "flight_ids": " ".join(booking.flight_ids),
        "cabin": booking.cabin.value,
        "passengers": json.dumps([_passenger_json(p) for p in booking.passengers]),
        "seats": json.dumps([[s.flight_id, s.passenger, s.seat] for s in booking.seats]),
        "seat_count": booking.seat_count,
        "total": booking.total.minor_units,
        "currency": booking.total.currency,
        "created_at": booking.created_at,
        "price_guarantee_expires_at": booking.price_guarantee_expires_at,
        "payment_required_by": booking.payment_required_by,
        "updated_at": booking.updated_at,
    }


def _booking(row: Any) -> Booking:
    return Booking(
        id=row.id,
        reference=row.reference,
        user_id=row.user_id,
        offer_id=row.offer_id,
        status=row.status,
        flight_ids=row.flight_ids.split(),
        cabin=row.cabin,
        passengers=[
            Passenger(**{**item, "born_on": date.fromisoformat(item["born_on"])})
            for item in json.loads(row.passengers)
        ],
        seats=[
            SeatAssignment(flight_id=flight_id, passenger=passenger, seat=seat)
            for flight_id, passenger, seat in json.loads(row.seats)
        ],
        total=Money(row.total, row.currency),
        created_at=row.created_at,
        price_guarantee_expires_at=row.price_guarantee_expires_at,
        payment_required_by=row.payment_required_by,
        updated_at=row.updated_at,
        paying_until=row.paying_until,
    )


@cache
def _hold_context(dialect: str) -> Any:
    """The first statement of a hold: the user's row, locked on MySQL (so that two holds of
    one user queue and neither slips past the hold limit), the seats its unexpired holds take,
    the offer, and the request's idempotency key, if stored."""
    held = (
        select(func.coalesce(func.sum(bookings.c.seat_count), 0))
        .where(
            bookings.c.user_id == users.c.id,
            bookings.c.status == _HELD,
            bookings.c.payment_required_by > bindparam("now", type_=bookings.c.created_at.type),
        )
        .scalar_subquery()
    )
    query = (
        select(
            users.c.id.label("user_row"),
            held.label("held"),
            *(column for column in offers.c),
            *KEY_COLUMNS,
        )
        .select_from(
            users.outerjoin(offers, offers.c.id == bindparam("offer")).outerjoin(
                keys, (keys.c.user_id == users.c.id) & (keys.c.key == bindparam("key"))
            )
        )
        .where(users.c.id == bindparam("user"))
    )
    return query.with_for_update() if dialect == "mysql" else query


# A hold reads its flights and the seats taken on each in one statement: per flight, the
# taken seats as one list (group_concat, on MySQL/MariaDB and SQLite alike; labels have no
# commas, and NULLs are left out), not a row per seat, with expired holds left out by the
# database and counted apart (a claim tries lapsed holds' seats only if there are any). The
# seats are a grouped derived table joined to the flights, which reads each flight's seat rows
# once by their primary key (two correlated subqueries read them twice). On the hot flight of
# the booking benchmark, reading a row per seat and checking its deadline in Python took a
# quarter of a hold's time; reading the seats in a statement of their own cost a round trip,
# ~0.3 ms of the worker's CPU per hold.
_NOW = bindparam("now", type_=seats.c.hold_expires_at.type)


def _hold_flights(*, one: bool) -> Any:
    """The flights ``id`` (``one``) or ``ids``, with their taken and lapsed seats."""
    ids: BindParameter[Any] = bindparam("id") if one else bindparam("ids", expanding=True)
    taken = (
        select(
            seats.c.flight_id,
            func.group_concat(
                case(
                    (
                        or_(seats.c.state == SeatState.SOLD.value, seats.c.hold_expires_at > _NOW),
                        seats.c.seat,
                    ),
                )
            ).label("taken_seats"),
            func.sum(
                case(((seats.c.state == _HELD) & (seats.c.hold_expires_at <= _NOW), 1), else_=0)
            ).label("lapsed_seats"),
        )
        .where(
            seats.c.flight_id == ids if one else seats.c.flight_id.in_(ids),
            seats.c.state != _AVAILABLE,
        )
        .group_by(seats.c.flight_id)
        .subquery("taken")
    )
    rows = _FLIGHT_BY_ID if one else _FLIGHTS_BY_ID
    return rows.add_columns(taken.c.taken_seats, taken.c.lapsed_seats).outerjoin(
        taken, taken.c.flight_id == flights.c.id
    )


_HOLD_FLIGHT = _hold_flights(one=True)
# The same for several flights: an expanding IN is rendered on every execution.
_HOLD_FLIGHTS = _hold_flights(one=False)


def _claim(*, expired: bool, one: bool = False) -> Any:
    """Claim named seats of one flight: available ones, or (``expired``) ones whose hold's
    deadline passed; ``one`` names a single seat (``label``), without an expanding IN."""
    condition = (
        (seats.c.state == _HELD) & (seats.c.hold_expires_at <= bindparam("now"))
        if expired
        else seats.c.state == _AVAILABLE
    )
    return (
        update(seats)
        .where(
            seats.c.flight_id == bindparam("flight"),
            seats.c.seat == bindparam("label")
            if one
            else seats.c.seat.in_(bindparam("labels", expanding=True)),
            condition,
        )
        .values(
            state=_HELD,
            booking_id=bindparam("booking"),
            hold_expires_at=bindparam("until", type_=seats.c.hold_expires_at.type),
        )
    )


# Built once: a statement made per call costs SQLAlchemy a cache key walk each time.
_INSERT_BOOKING = insert(bookings)
_BOOKING_BY_REFERENCE = select(bookings).where(bookings.c.reference == bindparam("reference"))
_OFFER_BY_ID = select(offers).where(offers.c.id == bindparam("id"))
_CLAIM_AVAILABLE = _claim(expired=False)
_CLAIM_EXPIRED = _claim(expired=True)
_CLAIM_ONE_AVAILABLE = _claim(expired=False, one=True)
_CLAIM_ONE_EXPIRED = _claim(expired=True, one=True)
# How many times a hold picks seats again within its transaction before it starts afresh.
_PICKS = 4


def _take_seats(cabin: Cabin, sign: int) -> Any:
    """Move a flight's seats left in ``cabin`` by ``sign * count``; taking seats also checks
    that the flight is still on sale (no row matches a cancelled one)."""
    column = _SEATS_LEFT[cabin]
    statement = update(flights).where(flights.c.id == bindparam("flight"))
    if sign < 0:
        statement = statement.where(flights.c.status != "cancelled")
    change = bindparam("count", type_=Integer)
    return statement.values({column: column - change if sign < 0 else column + change})


_TAKE = {cabin: _take_seats(cabin, -1) for cabin in Cabin}
_GIVE_BACK = {cabin: _take_seats(cabin, +1) for cabin in Cabin}

_RELEASE_SEATS = (
    update(seats)
    .where(
        seats.c.flight_id == bindparam("flight"),
        seats.c.booking_id == bindparam("booking"),
        seats.c.state != _AVAILABLE,
    )
    .values(state=_AVAILABLE, booking_id=None, hold_expires_at=None)
)


@define
class SQLAlchemyBookingStore:
    db: Database

    async def hold(
        self,
        user_id: str,
        offer_id: str,
        now: datetime,
        plan: Callable[[HoldContext], HoldPlan],
        key: KeyedRequest[Booking] | None = None,
        *,
        known: Callable[[str], Airplane | None] = lambda airplane_id: None,
    ) -> HoldPlan:
        first = _hold_context(self.db.dialect)
        parameters = {
            "user": user_id,
            "offer": offer_id,
            "key": None if key is None else key.key,
            "now": now,
        }

        async def work(connection: AsyncConnection) -> HoldPlan:
            row = (await connection.execute(first, parameters)).first()
            if row is None:
                raise NotFound(f"no user has id {user_id}")
            offer = None if row.id is None else _offer(row)
            found: list[Flight] = []
            taken: dict[str, set[str]] = {}
            lapsed: dict[str, int] = {}  # seats of expired holds, per flight
            planes: dict[str, Airplane] = {}
            if offer is not None:
                found, taken, lapsed = await self._flights_and_seats(
                    connection, offer.flight_ids, now
                )
                for flight in found:
                    airplane = planes.get(flight.airplane_id) or known(flight.airplane_id)
                    if airplane is None:  # once a minute per airplane and process
                        read = await connection.execute(_AIRPLANE_BY_ID, {"id": flight.airplane_id})
                        airplane = SQLAlchemyAirplaneStore._airplane(read.one())
                    planes[flight.airplane_id] = airplane
            context = HoldContext(
                offer=offer,
                flights=found,
                airplanes=planes,
                taken=taken,
                held_seats=int(row.held),
                kept=kept_key(row),
            )
            decided = plan(context)
            fresh: dict[str, int] = {}
            for _ in range(_PICKS):
                booking = decided.booking
                if booking is None:
                    return decided
                fresh, lost = await self._claim_all(connection, booking, now, lapsed)
                if not lost:
                    break
                # Nothing was claimed (a seat went to a concurrent buyer, its commit unseen
                # when the seats were read): pick again in this transaction, those seats
                # taken. A chosen seat lost this way is the plan's answer.
                taken = {**taken, **{f: taken.get(f, set()) | seen for f, seen in lost.items()}}
                context = evolve(context, taken=taken)
                decided = plan(context)
            else:
                raise SeatUnavailable("the seats picked kept going to other buyers")
            assert booking is not None  # noqa: S101 - the loop ends with a booking
            with integrity_errors(duplicate=f"reference {booking.reference} is taken"):
                await connection.execute(_INSERT_BOOKING, _booking_values(booking))
            if key is not None and decided.answer is not None:
                replace = context.kept is not None
                await store_key(connection, key, now, decided.answer, replace=replace)
            await add_events(connection, [encode(event) for event in decided.events], now)
            if decided.reminders:
                await write_changes(connection, ReminderChanges(add=decided.reminders), now, "")
            for flight_id, count in fresh.items():
                counted = await connection.execute(
                    _TAKE[booking.cabin], {"flight": flight_id, "count": count}
                )
                if not counted.rowcount:
                    raise InvalidTransition("a flight of this booking is no longer on sale")
            return decided

        return await self.db.write(work)

    @staticmethod
    async def _flights_and_seats(
        connection: AsyncConnection, flight_ids: Sequence[str], now: datetime
    ) -> tuple[list[Flight], dict[str, set[str]], dict[str, int]]:
        """The flights; per flight, the labels of its taken seats and how many seats expired
        holds keep."""
        if len(flight_ids) == 1:
            rows = await connection.execute(_HOLD_FLIGHT, {"id": flight_ids[0], "now": now})
        else:
            rows = await connection.execute(_HOLD_FLIGHTS, {"ids": list(flight_ids), "now": now})
        found: list[Flight] = []
        taken: dict[str, set[str]] = {}
        lapsed: dict[str, int] = {}
        for row in rows:
            found.append(_flight(row))
            taken[row.id] = set(row.taken_seats.split(",")) if row.taken_seats else set()
            lapsed[row.id] = int(row.lapsed_seats or 0)
        return found, taken, lapsed

    @staticmethod
    async def _claim_all(
        connection: AsyncConnection, booking: Booking, now: datetime, lapsed: dict[str, int]
    ) -> tuple[dict[str, int], dict[str, set[str]]]:
        """Claim the booking's seats, flight by flight in id order: per flight, how many were
        claimed from available ones, and, when the claim of one flight won no seat at all
        and none was claimed before it, that flight's lost seats (nothing to undo: the hold
        may pick again).

        :raises SeatUnavailable: a claim won some seats but not all, or came after another
            flight's claim (``errors`` name the lost seats as ``<flight id>.<seat>``); the
            whole transaction is rolled back and the hold tried afresh.
        """
        fresh: dict[str, int] = {}
        for flight_id in sorted(set(booking.flight_ids)):
            labels = [seat.seat for seat in booking.seats_on(flight_id)]
            values = {
                "flight": flight_id,
                "booking": booking.id,
                "until": booking.payment_required_by,
                "now": now,
            }
            if len(labels) == 1:
                values["label"] = labels[0]
                claims = _CLAIM_ONE_AVAILABLE, _CLAIM_ONE_EXPIRED
            else:
                values["labels"] = labels
                claims = _CLAIM_AVAILABLE, _CLAIM_EXPIRED
            fresh[flight_id] = (await connection.execute(claims[0], values)).rowcount
            won = fresh[flight_id]
            if won < len(labels) and lapsed.get(flight_id, 0):
                won += (await connection.execute(claims[1], values)).rowcount
            if won == len(labels):
                continue
            if won == 0 and len(fresh) == 1:
                return {}, {flight_id: set(labels)}
            mine = select(seats.c.seat).where(
                seats.c.flight_id == flight_id, seats.c.booking_id == booking.id
            )
            claimed = {row.seat for row in await connection.execute(mine)}
            raise SeatUnavailable(
                "a seat is taken",
                errors=[
                    FieldError(f"{flight_id}.{label}", "taken")
                    for label in labels
                    if label not in claimed
                ],
            )
        return fresh, {}

    async def get(self, reference: str) -> Booking:
        rows = await self.db.fetch(_BOOKING_BY_REFERENCE, {"reference": reference})
        if not rows:
            raise NotFound("no booking with that reference")
        return _booking(rows[0])

    async def list(self, user_id: str | None, window: KeysetWindow) -> Sequence[Booking]:
        query = select(bookings)
        if user_id is not None:
            query = query.where(bookings.c.user_id == user_id)
        query = keyset(query, [bookings.c.id], window, window_key(window))
        return [_booking(row) for row in await self.db.fetch(query)]

    async def release(
        self,
        booking: Booking,
        status: BookingStatus,
        now: datetime,
        events: Sequence[Event] = (),
    ) -> bool:
        encoded = [encode(event) for event in events]
        deadline = bookings.c.payment_required_by
        move = update(bookings).where(
            bookings.c.id == booking.id, bookings.c.status == booking.status.value
        )
        if booking.status is BookingStatus.HELD and status is BookingStatus.EXPIRED:
            # Not while a payment has the booking: it may be capturing the money right now.
            lease = bookings.c.paying_until
            move = move.where(deadline <= now, lease.is_(None) | (lease <= now))
        elif booking.status is BookingStatus.HELD:
            move = move.where(deadline > now)
        move = move.values(status=status.value, updated_at=now, paying_id=None, paying_until=None)

        async def work(connection: AsyncConnection) -> bool:
            if not (await connection.execute(move)).rowcount:
                return False
            for flight_id in sorted(set(booking.flight_ids)):
                values = {"flight": flight_id, "booking": booking.id}
                freed = (await connection.execute(_RELEASE_SEATS, values)).rowcount
                if freed:
                    await connection.execute(
                        _GIVE_BACK[booking.cabin], {"flight": flight_id, "count": freed}
                    )
            await add_events(connection, encoded, now)
            # After the seats: a flight update re-planning this booking locks its seats and
            # then its reminders, so the other order would deadlock with it.
            await cancel_planned(connection, booking.id, now, f"the booking was {status}")
            return True

        return await self.db.write(work)

    async def expiring(self, now: datetime, limit: int) -> Sequence[Booking]:
        query = (
            select(bookings)
            .where(
                bookings.c.status == _HELD,
                bookings.c.payment_required_by <= now,
                bookings.c.paying_until.is_(None) | (bookings.c.paying_until <= now),
            )
            .order_by(bookings.c.payment_required_by, bookings.c.id)
            .limit(limit)
        )
        return [_booking(row) for row in await self.db.fetch(query)]


def _payment_values(payment: Payment) -> dict[str, Any]:
    return {
        "amount": payment.amount.minor_units,
        "currency": payment.amount.currency,
        "method": payment.method,
        "status": payment.status.value,
        "reference": payment.reference,
        "failure_code": payment.failure_code,
        "refunded": None if payment.refunded is None else payment.refunded.minor_units,
        "updated_at": payment.updated_at,
    }


_PAYMENT_COLUMNS = (
    "amount",
    "currency",
    "method",
    "status",
    "reference",
    "failure_code",
    "refunded",
    "updated_at",
)
# Built once (a payment request runs each of these): the values are bound as ``v_<column>``.
_UPDATE_PAYMENT = (
    update(payments)
    .where(payments.c.id == bindparam("payment"))
    .values(
        {name: bindparam(f"v_{name}", type_=payments.c[name].type) for name in _PAYMENT_COLUMNS}
    )
)
_INSERT_PAYMENT = insert(payments)


def _update_payment(payment: Payment) -> tuple[Any, dict[str, Any]]:
    """The statement storing how far ``payment`` got, and its parameters."""
    values = {f"v_{name}": value for name, value in _payment_values(payment).items()}
    return _UPDATE_PAYMENT, {"payment": payment.id, **values}


def _payment(row: Any) -> Payment:
    return Payment(
        id=row.id,
        booking_id=row.booking_id,
        amount=Money(row.amount, row.currency),
        method=row.method,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reference=row.reference,
        failure_code=row.failure_code,
        refunded=None if row.refunded is None else Money(row.refunded, row.currency),
    )


_SELL_SEATS = (
    update(seats)
    .where(
        seats.c.flight_id == bindparam("flight"),
        seats.c.booking_id == bindparam("booking"),
        seats.c.state == _HELD,
    )
    .values(state=SeatState.SOLD.value, hold_expires_at=None)
)


# Whether a flight of the booking (``flights``, expanding) is cancelled: a condition for the
# booking's row.
_CANCELLED_FLIGHT = exists().where(
    flights.c.id.in_(bindparam("flights", expanding=True)), flights.c.status == "cancelled"
)
_LEASE = bookings.c.paying_until
_TAKE_LEASE = (
    update(bookings)
    .where(
        bookings.c.id == bindparam("booking"),
        bookings.c.status == _HELD,
        bookings.c.payment_required_by > bindparam("now"),
        _LEASE.is_(None) | (bindparam("now") >= _LEASE),
        ~_CANCELLED_FLIGHT,
    )
    .values(
        paying_id=bindparam("payment"),
        paying_until=bindparam("lease_until", type_=_LEASE.type),
    )
)
_CONFIRM = (
    update(bookings)
    .where(
        bookings.c.id == bindparam("booking"),
        bookings.c.status == _HELD,
        bookings.c.paying_id == bindparam("payment"),
        # A flight cancelled while the money was taken: not confirmed, refunded.
        ~_CANCELLED_FLIGHT,
    )
    .values(
        status=BookingStatus.CONFIRMED.value,
        total=bindparam("amount", type_=Integer),
        paying_id=None,
        paying_until=None,
        updated_at=bindparam("now", type_=bookings.c.updated_at.type),
    )
)
_BOOKING_BY_ID = select(bookings).where(bookings.c.id == bindparam("booking"))
# The confirmation's first statement on MySQL: the booking's row locked by its primary key, the
# order in which a concurrent payment's lease takes it. Without it the confirming UPDATE could
# lock the (status, payment_required_by) index entry first and the lease the row first, a
# deadlock that a burst of concurrent payments repeated past the retries (a 503 for the payment
# that had just been captured).
_LOCK_BOOKING = select(bookings.c.id).where(bookings.c.id == bindparam("booking")).with_for_update()


@cache
def _payment_context(dialect: str) -> Any:
    """The first statement of a payment: the booking's row, locked on MySQL (payments of one
    booking queue here instead of racing for its lease), and the request's idempotency key."""
    query = (
        select(bookings, *KEY_COLUMNS)
        .select_from(
            bookings.outerjoin(
                keys, (keys.c.user_id == bindparam("user")) & (keys.c.key == bindparam("key"))
            )
        )
        .where(bookings.c.reference == bindparam("reference"))
    )
    return query.with_for_update() if dialect == "mysql" else query


_PAYMENTS_OF = (
    select(payments).where(payments.c.booking_id == bindparam("booking")).order_by(payments.c.id)
)


@define
class SQLAlchemyPaymentStore:
    """Payments; a running payment leases its booking (``bookings.paying_id``/``paying_until``)
    so that a second payment and the expiry sweep keep off it."""

    db: Database

    async def begin(
        self,
        reference: str,
        now: datetime,
        plan: Callable[[PaymentContext], PaymentPlan],
        key: KeyedRequest[Any] | None = None,
    ) -> PaymentPlan:
        first = _payment_context(self.db.dialect)
        parameters = {
            "reference": reference,
            "user": None if key is None else key.user_id,
            "key": None if key is None else key.key,
        }

        async def work(connection: AsyncConnection) -> PaymentPlan:
            row = (await connection.execute(first, parameters)).first()
            booking = None if row is None else _booking(row)
            earlier: list[Payment] = []
            if booking is not None and booking.paying_until is not None:
                found = await connection.execute(_PAYMENTS_OF, {"booking": booking.id})
                earlier = [_payment(r) for r in found]
            kept = None if row is None else kept_key(row)
            decided = plan(PaymentContext(booking=booking, kept=kept, payments=earlier))
            payment, leased, until = decided.payment, decided.booking, decided.lease_until
            if payment is None or leased is None or until is None:
                return decided
            if key is not None:
                await store_key(connection, key, now, None, replace=kept is not None)
            await self._lease(connection, payment, leased, now, until, resume=decided.resume)
            return decided

        return await self.db.write(work)

    async def start(
        self,
        payment: Payment,
        booking: Booking,
        now: datetime,
        lease_until: datetime,
        *,
        resume: bool = False,
    ) -> None:
        async def work(connection: AsyncConnection) -> None:
            await self._lease(connection, payment, booking, now, lease_until, resume=resume)

        await self.db.write(work)

    @staticmethod
    async def _lease(
        connection: AsyncConnection,
        payment: Payment,
        booking: Booking,
        now: datetime,
        lease_until: datetime,
        *,
        resume: bool,
    ) -> None:
        lease = {
            "booking": booking.id,
            "now": now,
            "payment": payment.id,
            "lease_until": lease_until,
            "flights": sorted(set(booking.flight_ids)),
        }
        if not (await connection.execute(_TAKE_LEASE, lease)).rowcount:
            found = await connection.execute(_BOOKING_BY_ID, {"booking": booking.id})
            current = _booking(found.one())
            status = current.status_at(now)
            if status is not BookingStatus.HELD:
                raise InvalidTransition(f"a {status} booking cannot be paid")
            if current.paying_until is not None and current.paying_until > now:
                raise PaymentInProgress("another payment of this booking is running")
            raise InvalidTransition("a flight of this booking was cancelled")
        if not resume:
            await connection.execute(
                _INSERT_PAYMENT,
                {
                    "id": payment.id,
                    "booking_id": payment.booking_id,
                    "created_at": payment.created_at,
                    **_payment_values(payment),
                },
            )

    async def record(self, payment: Payment) -> None:
        statement, values = _update_payment(payment)
        await self.db.execute(statement, [values])

    async def refunds_due(self, limit: int) -> Sequence[Payment]:
        query = (
            select(payments)
            .where(payments.c.status == PaymentStatus.REFUND_PENDING.value)
            .order_by(payments.c.id)
            .limit(limit)
        )
        return [_payment(row) for row in await self.db.fetch(query)]

    async def finish(self, payment: Payment, events: Sequence[Event] = ()) -> None:
        encoded = [encode(event) for event in events]

        async def work(connection: AsyncConnection) -> None:
            await connection.execute(*_update_payment(payment))
            await connection.execute(
                update(bookings)
                .where(bookings.c.id == payment.booking_id, bookings.c.paying_id == payment.id)
                .values(paying_id=None, paying_until=None)
            )
            await add_events(connection, encoded, payment.updated_at)

        await self.db.write(work)

    async def confirm(
        self,
        payment: Payment,
        booking: Booking,
        now: datetime,
        *,
        key: KeyedRequest[Any] | None = None,
        answer: StoredAnswer | None = None,
        events: Sequence[Event] = (),
        replan: Replan | None = None,
    ) -> bool:
        encoded = [encode(event) for event in events]
        confirm = {
            "booking": booking.id,
            "payment": payment.id,
            "amount": payment.amount.minor_units,
            "now": now,
            "flights": sorted(set(booking.flight_ids)),
        }

        class _Lost(Exception):
            """Roll the transaction back: a seat is no longer the booking's."""

        lock_first = self.db.dialect == "mysql"

        async def work(connection: AsyncConnection) -> None:
            if lock_first:
                await connection.execute(_LOCK_BOOKING, confirm)
            if not (await connection.execute(_CONFIRM, confirm)).rowcount:
                raise _Lost
            for flight_id in sorted(set(booking.flight_ids)):
                values = {"flight": flight_id, "booking": booking.id}
                sold = (await connection.execute(_SELL_SEATS, values)).rowcount
                if sold != len(booking.seats_on(flight_id)):
                    raise _Lost
            await connection.execute(*_update_payment(payment))
            if key is not None and answer is not None:
                await store_key(connection, key, now, answer, replace=True)
            await add_events(connection, encoded, now)
            if replan is not None:
                # After the seats were sold: a flight change re-planning this booking's
                # reminders locks them first, so the flights read here are its new ones.
                confirmed = booking.confirmed_by(payment.amount, now)
                await replan_bookings(connection, [confirmed], replan, now, "the booking was paid")

        try:
            await self.db.write(work)
        except _Lost:
            return False
        return True

    async def for_booking(self, booking_id: str) -> Sequence[Payment]:
        query = select(payments).where(payments.c.booking_id == booking_id).order_by(payments.c.id)
        return [_payment(row) for row in await self.db.fetch(query)]
