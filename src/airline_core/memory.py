"""In-memory adapters for every port: for tests, examples and embedding without a database.

The stores of one :class:`MemoryCatalog` share its tables, so they enforce references the way a
database's foreign keys do. Each method runs without awaiting anything, which makes it atomic on
the event loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
from attrs import define, field

from airline_core.booking.model import (
    Booking,
    BookingStatus,
    HoldContext,
    HoldPlan,
    Offer,
    Payment,
    PaymentContext,
    PaymentPlan,
    SeatState,
)
from airline_core.catalog.filters import (
    AirplaneFilter,
    AirportFilter,
    CityFilter,
    FlightFilter,
    airplane_key,
    airport_key,
    city_key,
    flight_key,
)
from airline_core.catalog.model import Airplane, Airport, Cabin, City, Flight, FlightStatus
from airline_core.clock import SystemClock
from airline_core.errors import (
    AlreadyExists,
    FieldError,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    PaymentInProgress,
    SeatUnavailable,
    StillReferenced,
)
from airline_core.events import ClaimedEvent, EncodedEvent, Event, OutboxStatus, encode
from airline_core.idempotency import KeptKey, KeyClaim, KeyedRequest, KeyState, StoredAnswer
from airline_core.identity.model import Principal, RefreshToken, RefreshUse, Role, User
from airline_core.notifications import InboxProgress, NoticeRecord, NoticeStatus, Settlement
from airline_core.pagination import KeysetWindow, select_window
from airline_core.ports import CabinSeats, Clock
from airline_core.reminders.model import (
    DueReminder,
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderQuery,
    ReminderStatus,
)
from airline_core.search.legs import Leg, LegQuery

if TYPE_CHECKING:
    from airline_core.ports import Replan

__all__ = [
    "MemoryAccessTokens",
    "MemoryAirplaneStore",
    "MemoryAirportStore",
    "MemoryBookingStore",
    "MemoryCatalog",
    "MemoryCityStore",
    "MemoryFlightStore",
    "MemoryIdempotencyStore",
    "MemoryInboxStore",
    "MemoryInventoryStore",
    "MemoryOfferStore",
    "MemoryOutboxStore",
    "MemoryPaymentStore",
    "MemoryRefreshTokenStore",
    "MemoryReminderStore",
    "MemoryUserStore",
]


@define
class SeatRow:
    """One seat of one flight: its state, and the booking holding it until when."""

    state: SeatState = SeatState.AVAILABLE
    booking_id: str | None = None
    hold_expires_at: datetime | None = None

    def free_at(self, now: datetime) -> bool:
        return self.state is SeatState.AVAILABLE or (
            self.state is SeatState.HELD
            and self.hold_expires_at is not None
            and self.hold_expires_at <= now
        )


@define
class MemoryCatalog:
    """The tables the memory stores share."""

    cities: dict[str, City] = field(factory=dict)
    airports: dict[str, Airport] = field(factory=dict)
    airplanes: dict[str, Airplane] = field(factory=dict)
    flights: dict[str, Flight] = field(factory=dict)
    #: Seat rows per flight, made when the flight is first offered.
    seat_rows: dict[str, dict[str, SeatRow]] = field(factory=dict)
    #: Seats left per flight and cabin, where they differ from the cabin's capacity.
    seats_left: dict[tuple[str, Cabin], int] = field(factory=dict)
    bookings: dict[str, Booking] = field(factory=dict)
    payments: dict[str, Payment] = field(factory=dict)
    #: The payment leasing each booking being paid.
    paying: dict[str, str] = field(factory=dict)
    #: Events the stores' changes made, for the relay.
    outbox: MemoryOutboxStore = field(factory=lambda: MemoryOutboxStore())  # noqa: PLW0108 - defined below
    #: Reminders of bookings, by id.
    reminders: dict[str, Reminder] = field(factory=dict)

    def city_code_exists(self, code: str) -> bool:
        return any(city.code == code for city in self.cities.values())

    def cabin_seats(self, flight: Flight) -> dict[Cabin, CabinSeats]:
        layout = self.airplanes[flight.airplane_id].layout
        return {
            cabin.cabin: CabinSeats(
                self.seats_left.get((flight.id, cabin.cabin), cabin.seat_count),
                cabin.seat_count,
            )
            for cabin in layout.cabins
        }

    def flies_no_longer(self, booking: Booking) -> bool:
        """Whether a flight of ``booking`` is cancelled (or gone)."""
        return any(
            (flight := self.flights.get(flight_id)) is None
            or flight.status is FlightStatus.CANCELLED
            for flight_id in booking.flight_ids
        )

    def has_taken_seats(self, flight_id: str) -> bool:
        rows = self.seat_rows.get(flight_id, {})
        return any(row.state is not SeatState.AVAILABLE for row in rows.values())

    def forget_seats(self, flight_id: str) -> None:
        self.seat_rows.pop(flight_id, None)
        for key in [key for key in self.seats_left if key[0] == flight_id]:
            del self.seats_left[key]

    def reminders_of(self, booking_id: str) -> list[Reminder]:
        found = [r for r in self.reminders.values() if r.booking_id == booking_id]
        return sorted(found, key=lambda reminder: (reminder.due_at, reminder.id))

    def cancel_reminders(self, booking_id: str, now: datetime, note: str) -> None:
        """Cancel the booking's planned reminders."""
        for reminder in self.reminders_of(booking_id):
            if reminder.status is ReminderStatus.PLANNED:
                self.settle_reminder(reminder, ReminderStatus.CANCELLED, now, note)

    def settle_reminder(
        self, reminder: Reminder, status: ReminderStatus, now: datetime, note: str | None
    ) -> None:
        self.reminders[reminder.id] = attrs.evolve(
            reminder,
            status=status,
            settled_at=now,
            note=note,
            claimed_by=None,
            claimed_until=None,
        )

    def flights_of(self, booking: Booking | None) -> dict[str, Flight]:
        """The booking's flights that still exist, by id."""
        ids = () if booking is None else booking.flight_ids
        return {f: self.flights[f] for f in ids if f in self.flights}

    def replan(self, booking: Booking, replan: Replan, now: datetime, note: str) -> None:
        """Run ``replan`` on the booking as stored now and write its changes."""
        context = ReminderContext(
            booking=booking,
            flights=self.flights_of(booking),
            reminders=self.reminders_of(booking.id),
        )
        self.apply(replan(context), now, note)

    def apply(self, changes: ReminderChanges, now: datetime, note: str) -> None:
        for reminder_id in changes.cancel:
            reminder = self.reminders.get(reminder_id)
            if reminder is not None and reminder.status is ReminderStatus.PLANNED:
                self.settle_reminder(reminder, ReminderStatus.CANCELLED, now, note)
        for reminder in changes.add:
            self.reminders[reminder.id] = reminder


@define
class MemoryCityStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    async def add(self, city: City) -> None:
        if city.id in self.catalog.cities or self.catalog.city_code_exists(city.code):
            raise AlreadyExists(f"city {city.code} already exists")
        self.catalog.cities[city.id] = city

    async def get(self, city_id: str) -> City:
        try:
            return self.catalog.cities[city_id]
        except KeyError:
            raise NotFound(f"no city has id {city_id}") from None

    async def find_by_code(self, code: str) -> City | None:
        return next((city for city in self.catalog.cities.values() if city.code == code), None)

    async def update(self, city: City) -> None:
        await self.get(city.id)
        self.catalog.cities[city.id] = city

    async def delete(self, city_id: str) -> None:
        city = await self.get(city_id)
        if any(airport.city == city.code for airport in self.catalog.airports.values()):
            raise StillReferenced(f"city {city.code} still has airports")
        del self.catalog.cities[city_id]

    async def list(self, criteria: CityFilter, window: KeysetWindow) -> Sequence[City]:
        matching = [city for city in self.catalog.cities.values() if criteria.matches(city)]
        return select_window(matching, city_key, window)


@define
class MemoryAirportStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    async def add(self, airport: Airport) -> None:
        if airport.code in self.catalog.airports:
            raise AlreadyExists(f"airport {airport.code} already exists")
        self._require_city(airport)
        self.catalog.airports[airport.code] = airport

    def _require_city(self, airport: Airport) -> None:
        if not self.catalog.city_code_exists(airport.city):
            raise StillReferenced(f"city {airport.city} does not exist")

    async def get(self, code: str) -> Airport:
        try:
            return self.catalog.airports[code]
        except KeyError:
            raise NotFound(f"no airport has code {code}") from None

    async def get_many(self, codes: Sequence[str]) -> dict[str, Airport]:
        airports = self.catalog.airports
        return {code: airports[code] for code in codes if code in airports}

    async def update(self, airport: Airport) -> None:
        await self.get(airport.code)
        self._require_city(airport)
        self.catalog.airports[airport.code] = airport

    async def delete(self, code: str) -> None:
        await self.get(code)
        if any(code in (f.origin, f.destination) for f in self.catalog.flights.values()):
            raise StillReferenced(f"airport {code} still has flights")
        del self.catalog.airports[code]

    async def serving(self, code: str) -> Sequence[Airport]:
        airport = self.catalog.airports.get(code)
        if airport is not None:
            return [airport]
        return sorted(
            (a for a in self.catalog.airports.values() if a.city == code), key=airport_key
        )

    async def list(self, criteria: AirportFilter, window: KeysetWindow) -> Sequence[Airport]:
        matching = [a for a in self.catalog.airports.values() if criteria.matches(a)]
        return select_window(matching, airport_key, window)


@define
class MemoryAirplaneStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    async def add(self, airplane: Airplane) -> None:
        if airplane.id in self.catalog.airplanes:
            raise AlreadyExists(f"airplane {airplane.id} already exists")
        self.catalog.airplanes[airplane.id] = airplane

    async def get(self, airplane_id: str) -> Airplane:
        try:
            return self.catalog.airplanes[airplane_id]
        except KeyError:
            raise NotFound(f"no airplane has id {airplane_id}") from None

    async def update(self, airplane: Airplane) -> None:
        await self.get(airplane.id)
        self.catalog.airplanes[airplane.id] = airplane

    async def delete(self, airplane_id: str) -> None:
        await self.get(airplane_id)
        if any(flight.airplane_id == airplane_id for flight in self.catalog.flights.values()):
            raise StillReferenced(f"airplane {airplane_id} still flies flights")
        del self.catalog.airplanes[airplane_id]

    async def list(self, criteria: AirplaneFilter, window: KeysetWindow) -> Sequence[Airplane]:
        matching = [a for a in self.catalog.airplanes.values() if criteria.matches(a)]
        return select_window(matching, airplane_key, window)


@define
class MemoryFlightStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    def _require_references(self, flight: Flight) -> None:
        if flight.airplane_id not in self.catalog.airplanes:
            raise StillReferenced(f"airplane {flight.airplane_id} does not exist")
        for code in (flight.origin, flight.destination):
            if code not in self.catalog.airports:
                raise StillReferenced(f"airport {code} does not exist")

    async def add(self, flight: Flight) -> None:
        await self.add_many([flight])

    async def add_many(self, flights: Sequence[Flight]) -> None:
        staged = dict(self.catalog.flights)
        departures = {(f.number, f.departs_on) for f in staged.values()}
        for flight in flights:
            if flight.id in staged or (flight.number, flight.departs_on) in departures:
                raise AlreadyExists(f"{flight.number} already departs on {flight.departs_on}")
            self._require_references(flight)
            staged[flight.id] = flight
            departures.add((flight.number, flight.departs_on))
        self.catalog.flights = staged

    async def get(self, flight_id: str) -> Flight:
        try:
            return self.catalog.flights[flight_id]
        except KeyError:
            raise NotFound(f"no flight has id {flight_id}") from None

    async def update(
        self, flight: Flight, events: Sequence[Event] = (), replan: Replan | None = None
    ) -> None:
        await self.get(flight.id)
        if any(
            other.id != flight.id
            and other.number == flight.number
            and other.departs_on == flight.departs_on
            for other in self.catalog.flights.values()
        ):
            raise AlreadyExists(f"{flight.number} already departs on {flight.departs_on}")
        self._require_references(flight)
        current = self.catalog.flights[flight.id]
        if current.airplane_id != flight.airplane_id:
            if self.catalog.has_taken_seats(flight.id):
                raise StillReferenced("seats of the flight are held or sold: keep its airplane")
            self.catalog.forget_seats(flight.id)
        self.catalog.flights[flight.id] = flight
        for event in events:  # due at once: when it happened
            self.catalog.outbox.add_now([encode(event)], event.occurred_at)
        if replan is not None:
            now = events[0].occurred_at if events else SystemClock().now()
            for booking in list(self.catalog.bookings.values()):
                live = booking.status in (BookingStatus.HELD, BookingStatus.CONFIRMED)
                if live and flight.id in booking.flight_ids:
                    self.catalog.replan(booking, replan, now, f"flight {flight.number} changed")

    async def delete(self, flight_id: str) -> None:
        await self.get(flight_id)
        if self.catalog.has_taken_seats(flight_id):
            raise StillReferenced("seats of the flight are held or sold")
        self.catalog.forget_seats(flight_id)
        del self.catalog.flights[flight_id]

    async def list(self, criteria: FlightFilter, window: KeysetWindow) -> Sequence[Flight]:
        matching = [f for f in self.catalog.flights.values() if criteria.matches(f)]
        return select_window(matching, flight_key, window)

    async def legs(self, query: LegQuery) -> Sequence[Leg]:
        found = []
        for flight in self.catalog.flights.values():
            fare = flight.fares.get(query.cabin)
            seats = self.catalog.cabin_seats(flight).get(query.cabin)
            if fare is None or seats is None:
                continue
            leg = Leg.of(flight, fare, seats.left, seats.capacity)
            cancelled = flight.status is FlightStatus.CANCELLED
            if query.matches(leg, flight.departs_on, cancelled):
                found.append(leg)
        return found

    async def uses_airplane(self, airplane_id: str) -> bool:
        return any(f.airplane_id == airplane_id for f in self.catalog.flights.values())

    async def uses_airport(self, code: str) -> bool:
        return any(code in (f.origin, f.destination) for f in self.catalog.flights.values())


@define
class MemoryInventoryStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    async def seats(self, flight_id: str) -> tuple[bool, dict[Cabin, CabinSeats]]:
        flight = self.catalog.flights.get(flight_id)
        if flight is None:
            raise NotFound(f"no flight has id {flight_id}")
        return flight_id in self.catalog.seat_rows, self.catalog.cabin_seats(flight)

    async def prepare(self, flight_id: str, airplane_id: str, labels: Sequence[str]) -> None:
        flight = self.catalog.flights.get(flight_id)
        if (
            flight is not None
            and flight.airplane_id == airplane_id
            and flight_id not in self.catalog.seat_rows
        ):
            self.catalog.seat_rows[flight_id] = {label: SeatRow() for label in labels}

    async def taken(self, flight_id: str, now: datetime) -> dict[str, SeatState]:
        rows = self.catalog.seat_rows.get(flight_id, {})
        return {label: row.state for label, row in rows.items() if not row.free_at(now)}


@define
class MemoryOfferStore:
    offers: dict[str, Offer] = field(factory=dict)

    async def add(self, offer: Offer) -> None:
        self.offers[offer.id] = offer

    async def get(self, offer_id: str) -> Offer:
        try:
            return self.offers[offer_id]
        except KeyError:
            raise NotFound("no offer with that id") from None

    async def delete_expired(self, before: datetime) -> int:
        gone = [offer_id for offer_id, o in self.offers.items() if o.expires_at < before]
        for offer_id in gone:
            del self.offers[offer_id]
        return len(gone)


@define
class MemoryBookingStore:
    """Bookings in the catalog's tables; ``users``, when given, must know each booker. Holds
    read offers from ``offers`` and keep idempotency answers in ``keys``.

    A hold reads, plans and writes without awaiting anything, so it is atomic like the rest."""

    catalog: MemoryCatalog = field(factory=MemoryCatalog)
    users: MemoryUserStore | None = None
    offers: MemoryOfferStore = field(factory=MemoryOfferStore)
    keys: MemoryIdempotencyStore = field(factory=lambda: MemoryIdempotencyStore())  # noqa: PLW0108 - defined below

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
        decided = plan(self._context(user_id, offer_id, now, key))
        booking = decided.booking
        if booking is not None:
            self._store(booking, now)
            if key is not None:
                self.keys.store(key, now, decided.answer)
            self.catalog.outbox.add_now([encode(event) for event in decided.events], now)
            self.catalog.apply(ReminderChanges(add=decided.reminders), now, "")
        return decided

    def _context(
        self, user_id: str, offer_id: str, now: datetime, key: KeyedRequest[Booking] | None
    ) -> HoldContext:
        catalog = self.catalog
        if self.users is not None and user_id not in self.users.users:
            raise NotFound(f"no user has id {user_id}")
        offer = self.offers.offers.get(offer_id)
        flights = [
            catalog.flights[flight_id]
            for flight_id in (offer.flight_ids if offer is not None else ())
            if flight_id in catalog.flights
        ]
        taken = {
            flight.id: {
                label
                for label, row in catalog.seat_rows.get(flight.id, {}).items()
                if not row.free_at(now)
            }
            for flight in flights
        }
        held = sum(
            b.seat_count
            for b in catalog.bookings.values()
            if b.user_id == user_id and b.status_at(now) is BookingStatus.HELD
        )
        kept = None if key is None else self.keys.keys.get((user_id, key.key))
        airplanes = {f.airplane_id: catalog.airplanes[f.airplane_id] for f in flights}
        return HoldContext(
            offer=offer,
            flights=flights,
            airplanes=airplanes,
            taken=taken,
            held_seats=held,
            kept=kept,
        )

    def _store(self, booking: Booking, now: datetime) -> None:
        catalog = self.catalog
        if any(b.reference == booking.reference for b in catalog.bookings.values()):
            raise AlreadyExists(f"reference {booking.reference} is taken")
        flights = [catalog.flights.get(flight_id) for flight_id in booking.flight_ids]
        for flight in flights:
            if flight is None or flight.status is FlightStatus.CANCELLED:
                raise InvalidTransition("a flight of this booking is no longer on sale")
        missing = [
            FieldError(f"{seat.flight_id}.{seat.seat}", "taken")
            for seat in booking.seats
            if not (row := catalog.seat_rows.get(seat.flight_id, {}).get(seat.seat))
            or not row.free_at(now)
        ]
        if missing:
            raise SeatUnavailable("a seat is taken", errors=missing)
        for seat in booking.seats:
            row = catalog.seat_rows[seat.flight_id][seat.seat]
            if row.state is SeatState.AVAILABLE:
                key = (seat.flight_id, booking.cabin)
                flight = catalog.flights[seat.flight_id]
                catalog.seats_left[key] = catalog.cabin_seats(flight)[booking.cabin].left - 1
            row.state = SeatState.HELD
            row.booking_id = booking.id
            row.hold_expires_at = booking.payment_required_by
        catalog.bookings[booking.id] = booking

    async def get(self, reference: str) -> Booking:
        found = next((b for b in self.catalog.bookings.values() if b.reference == reference), None)
        if found is None:
            raise NotFound("no booking with that reference")
        return found

    async def list(self, user_id: str | None, window: KeysetWindow) -> Sequence[Booking]:
        mine = [b for b in self.catalog.bookings.values() if user_id in (None, b.user_id)]
        return select_window(mine, lambda booking: (booking.id,), window)

    async def release(
        self,
        booking: Booking,
        status: BookingStatus,
        now: datetime,
        events: Sequence[Event] = (),
    ) -> bool:
        catalog = self.catalog
        stored = catalog.bookings.get(booking.id)
        if stored is None or stored.status is not booking.status:
            return False
        if stored.status is BookingStatus.HELD:
            overdue = now >= stored.payment_required_by
            if (status is BookingStatus.EXPIRED) != overdue:
                return False
            leased = stored.paying_until is not None and stored.paying_until > now
            if status is BookingStatus.EXPIRED and leased:
                return False
        for flight_id in stored.flight_ids:
            freed = 0
            for row in catalog.seat_rows.get(flight_id, {}).values():
                if row.booking_id == stored.id and row.state is not SeatState.AVAILABLE:
                    row.state, row.booking_id, row.hold_expires_at = SeatState.AVAILABLE, None, None
                    freed += 1
            flight = catalog.flights.get(flight_id)
            if freed and flight is not None:
                left = catalog.cabin_seats(flight)[stored.cabin].left
                catalog.seats_left[(flight_id, stored.cabin)] = left + freed
        catalog.bookings[stored.id] = attrs.evolve(stored, status=status, updated_at=now)
        catalog.outbox.add_now([encode(event) for event in events], now)
        catalog.cancel_reminders(stored.id, now, f"the booking was {status}")
        return True

    async def expiring(self, now: datetime, limit: int) -> Sequence[Booking]:
        due = [
            b
            for b in self.catalog.bookings.values()
            if b.status is BookingStatus.HELD
            and b.payment_required_by <= now
            and (b.paying_until is None or b.paying_until <= now)
        ]
        return sorted(due, key=lambda b: (b.payment_required_by, b.id))[:limit]


@define
class MemoryPaymentStore:
    catalog: MemoryCatalog = field(factory=MemoryCatalog)
    keys: MemoryIdempotencyStore = field(factory=lambda: MemoryIdempotencyStore())  # noqa: PLW0108 - defined below

    async def begin(
        self,
        reference: str,
        now: datetime,
        plan: Callable[[PaymentContext], PaymentPlan],
        key: KeyedRequest[Any] | None = None,
    ) -> PaymentPlan:
        catalog = self.catalog
        booking = next((b for b in catalog.bookings.values() if b.reference == reference), None)
        kept = None if key is None else self.keys.keys.get((key.user_id, key.key))
        earlier = (
            sorted(
                (p for p in catalog.payments.values() if p.booking_id == booking.id),
                key=lambda p: p.id,
            )
            if booking is not None and booking.paying_until is not None
            else []
        )
        decided = plan(PaymentContext(booking=booking, kept=kept, payments=earlier))
        payment, leased = decided.payment, decided.booking
        if payment is None or leased is None or decided.lease_until is None:
            return decided
        self._lease(payment, leased, now, decided.lease_until, resume=decided.resume)
        if key is not None:
            self.keys.store(key, now, None)
        return decided

    async def start(
        self,
        payment: Payment,
        booking: Booking,
        now: datetime,
        lease_until: datetime,
        *,
        resume: bool = False,
    ) -> None:
        self._lease(payment, booking, now, lease_until, resume=resume)

    def _lease(
        self,
        payment: Payment,
        booking: Booking,
        now: datetime,
        lease_until: datetime,
        *,
        resume: bool,
    ) -> None:
        catalog = self.catalog
        stored = catalog.bookings[booking.id]
        if stored.status_at(now) is not BookingStatus.HELD:
            raise InvalidTransition(f"a {stored.status_at(now)} booking cannot be paid")
        if stored.paying_until is not None and stored.paying_until > now:
            raise PaymentInProgress("another payment of this booking is running")
        if catalog.flies_no_longer(stored):
            raise InvalidTransition("a flight of this booking was cancelled")
        catalog.bookings[booking.id] = attrs.evolve(stored, paying_until=lease_until)
        catalog.paying[booking.id] = payment.id
        if not resume:
            catalog.payments[payment.id] = payment

    async def record(self, payment: Payment) -> None:
        self.catalog.payments[payment.id] = payment

    async def refunds_due(self, limit: int) -> Sequence[Payment]:
        due = [p for p in self.catalog.payments.values() if p.status.value == "refund_pending"]
        return sorted(due, key=lambda payment: payment.id)[:limit]

    async def finish(self, payment: Payment, events: Sequence[Event] = ()) -> None:
        catalog = self.catalog
        catalog.payments[payment.id] = payment
        catalog.outbox.add_now([encode(event) for event in events], payment.updated_at)
        if catalog.paying.get(payment.booking_id) == payment.id:
            del catalog.paying[payment.booking_id]
            stored = catalog.bookings[payment.booking_id]
            catalog.bookings[stored.id] = attrs.evolve(stored, paying_until=None)

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
        catalog = self.catalog
        stored = catalog.bookings[booking.id]
        if stored.status is not BookingStatus.HELD or catalog.paying.get(stored.id) != payment.id:
            return False
        if catalog.flies_no_longer(stored):
            return False
        rows = [
            catalog.seat_rows[seat.flight_id][seat.seat]
            for seat in stored.seats
            if catalog.seat_rows[seat.flight_id][seat.seat].booking_id == stored.id
        ]
        if len(rows) != stored.seat_count:
            return False
        for row in rows:
            row.state, row.hold_expires_at = SeatState.SOLD, None
        confirmed = stored.confirmed_by(payment.amount, now)
        catalog.bookings[stored.id] = confirmed
        del catalog.paying[stored.id]
        catalog.payments[payment.id] = payment
        if key is not None and answer is not None:
            self.keys.store(key, now, answer)
        catalog.outbox.add_now([encode(event) for event in events], now)
        if replan is not None:
            catalog.replan(confirmed, replan, now, "the booking was paid")
        return True

    async def for_booking(self, booking_id: str) -> Sequence[Payment]:
        found = [p for p in self.catalog.payments.values() if p.booking_id == booking_id]
        return sorted(found, key=lambda payment: payment.id)


@define
class MemoryIdempotencyStore:
    keys: dict[tuple[str, str], KeptKey] = field(factory=dict)

    def store(self, key: KeyedRequest[Any], now: datetime, answer: StoredAnswer | None) -> None:
        """Store ``key`` as a use case's transaction does: with its ``answer``, or running
        until ``key.lease_until``."""
        lease_until = key.lease_until if answer is None else now
        self.keys[(key.user_id, key.key)] = KeptKey(
            key.fingerprint, key.expires_at, lease_until, answer
        )

    async def claim(
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
        lease_until: datetime,
    ) -> KeyClaim:
        found = self.keys.get((user_id, key))
        if found is None or found.expires_at <= now:
            self.keys[(user_id, key)] = KeptKey(fingerprint, expires_at, lease_until)
            return KeyClaim(KeyState.NEW)
        if found.fingerprint != fingerprint:
            return KeyClaim(KeyState.OTHER_REQUEST)
        if found.answer is not None:
            return KeyClaim(KeyState.DONE, found.answer)
        if found.lease_until > now:
            return KeyClaim(KeyState.RUNNING)
        self.keys[(user_id, key)] = attrs.evolve(found, lease_until=lease_until)
        return KeyClaim(KeyState.NEW)

    async def complete(self, user_id: str, key: str, answer: StoredAnswer) -> None:
        found = self.keys.get((user_id, key))
        if found is not None:
            self.keys[(user_id, key)] = attrs.evolve(found, answer=answer)

    async def keep(
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        answer: StoredAnswer,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        found = self.keys.get((user_id, key))
        if (
            found is not None
            and found.expires_at > now
            and (found.answer is not None or found.lease_until > now)
        ):
            return  # a live record's answer stands
        self.keys[(user_id, key)] = KeptKey(fingerprint, expires_at, now, answer)

    async def release(self, user_id: str, key: str) -> None:
        self.keys.pop((user_id, key), None)

    async def purge(self, now: datetime) -> int:
        gone = [k for k, record in self.keys.items() if record.expires_at <= now]
        for k in gone:
            del self.keys[k]
        return len(gone)


@define
class MemoryUserStore:
    users: dict[str, User] = field(factory=dict)

    async def add(self, user: User) -> None:
        if user.id in self.users or await self.find_by_email(user.email) is not None:
            raise AlreadyExists("an account with that email exists")
        self.users[user.id] = user

    async def get(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise NotFound(f"no user has id {user_id}") from None

    async def find_by_email(self, email: str) -> User | None:
        return next((user for user in self.users.values() if user.email == email), None)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.users[user_id] = attrs.evolve(await self.get(user_id), password_hash=password_hash)

    async def set_role(self, user_id: str, role: Role) -> None:
        self.users[user_id] = attrs.evolve(await self.get(user_id), role=role)

    async def list(self, window: KeysetWindow) -> Sequence[User]:
        return select_window(list(self.users.values()), lambda user: (user.id,), window)


@define
class MemoryRefreshTokenStore:
    """Each entry: the token, when it was used, and whether its family is revoked."""

    tokens: dict[str, RefreshToken] = field(factory=dict)
    used: set[str] = field(factory=set)
    revoked_families: set[str] = field(factory=set)

    async def add(self, token: RefreshToken) -> None:
        self.tokens[token.token_hash] = token

    async def use(self, token_hash: str, now: datetime) -> tuple[RefreshUse, RefreshToken | None]:
        token = self.tokens.get(token_hash)
        if token is None or token.family_id in self.revoked_families or token.expires_at <= now:
            return RefreshUse.INVALID, None
        if token_hash in self.used:
            return RefreshUse.REUSED, token
        self.used.add(token_hash)
        return RefreshUse.ROTATED, token

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        self.revoked_families.add(family_id)


@define
class MemoryAccessTokens:
    """Opaque random bearer tokens remembered in memory: for tests and single-process embedding
    (the runtime signs JWTs instead, which any replica can check)."""

    clock: Clock = field(factory=SystemClock)
    lifetime: timedelta = timedelta(minutes=15)
    issued: dict[str, tuple[Principal, datetime]] = field(factory=dict)

    def issue(self, principal: Principal, now: datetime) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        self.issued[token] = (principal, now + self.lifetime)
        return token, int(self.lifetime.total_seconds())

    def verify(self, token: str) -> Principal:
        found = self.issued.get(token)
        if found is None or found[1] <= self.clock.now():
            raise NotAuthenticated("the access token is not valid")
        return found[0]


@define
class _OutboxEntry:
    event: EncodedEvent
    status: str = "pending"
    next_attempt_at: datetime | None = None
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None


@define
class MemoryOutboxStore:
    """The outbox in memory; the memory stores that change bookings add their events here."""

    entries: dict[str, _OutboxEntry] = field(factory=dict)

    async def add(self, events: Sequence[EncodedEvent], now: datetime) -> None:
        self.add_now(events, now)

    def add_now(self, events: Sequence[EncodedEvent], now: datetime) -> None:
        """:meth:`add` without awaiting, for a memory store's change that must not yield
        between the change and its events."""
        for event in events:
            self.entries[event.id] = _OutboxEntry(event, next_attempt_at=now)

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[ClaimedEvent]:
        claimed: list[ClaimedEvent] = []
        for event_id in sorted(self.entries):
            if len(claimed) == limit:
                break
            entry = self.entries[event_id]
            due = entry.next_attempt_at is None or entry.next_attempt_at <= now
            free = entry.claimed_until is None or entry.claimed_until <= now
            if entry.status == "pending" and due and free:
                entry.claimed_by, entry.claimed_until = owner, now + lease
                claimed.append(ClaimedEvent(event=entry.event, failures=entry.attempts))
        return claimed

    async def sent(self, owner: str, event_ids: Sequence[str]) -> int:
        dropped = 0
        for event_id in event_ids:
            entry = self.entries.get(event_id)
            if entry is not None and entry.claimed_by == owner:
                del self.entries[event_id]
                dropped += 1
        return dropped

    async def release(self, owner: str, event_ids: Sequence[str]) -> int:
        released = 0
        for event_id in event_ids:
            entry = self.entries.get(event_id)
            if entry is not None and entry.claimed_by == owner:
                entry.claimed_by = entry.claimed_until = None
                released += 1
        return released

    async def retry(
        self, owner: str, event_id: str, error: str, next_attempt: datetime | None
    ) -> None:
        entry = self.entries.get(event_id)
        if entry is None or entry.claimed_by != owner:
            return
        entry.claimed_by = entry.claimed_until = None
        entry.last_error = error
        entry.attempts += 1
        if next_attempt is None:
            entry.status = "failed"
        else:
            entry.next_attempt_at = next_attempt

    async def requeue(self, now: datetime) -> int:
        failed = [entry for entry in self.entries.values() if entry.status == "failed"]
        for entry in failed:
            entry.status, entry.next_attempt_at, entry.attempts = "pending", now, 0
        return len(failed)

    async def status(self) -> OutboxStatus:
        pending = [e for e in self.entries.values() if e.status == "pending"]
        failed = sorted(
            (e for e in self.entries.values() if e.status == "failed"),
            key=lambda entry: entry.event.id,
            reverse=True,
        )
        return OutboxStatus(
            pending=len(pending),
            failed=len(failed),
            oldest_pending_at=min((e.event.occurred_at for e in pending), default=None),
            failures=tuple((e.event.id, e.event.type, e.last_error or "") for e in failed[:20]),
        )


@define
class MemoryInboxStore:
    """The inbox in memory."""

    finished: dict[tuple[str, str], datetime] = field(factory=dict)
    notices: dict[str, NoticeRecord] = field(factory=dict)

    async def progress(self, consumer: str, message_ids: Sequence[str]) -> dict[str, InboxProgress]:
        wanted = set(message_ids)
        sent: dict[str, set[str]] = {}
        for record in self.notices.values():
            if record.message_id in wanted and record.status is NoticeStatus.SENT:
                sent.setdefault(record.message_id, set()).add(record.key)
        return {
            message_id: InboxProgress(
                finished=(consumer, message_id) in self.finished,
                sent=frozenset(sent.get(message_id, ())),
            )
            for message_id in message_ids
        }

    async def settle(self, consumer: str, settled: Sequence[Settlement], now: datetime) -> None:
        for settlement in settled:
            for record in settlement.records:
                self.notices[record.key] = record
            if settlement.finished:
                self.finished.setdefault((consumer, settlement.message_id), now)

    async def records(self, message_id: str | None = None, limit: int = 100) -> list[NoticeRecord]:
        chosen = [
            record
            for record in self.notices.values()
            if message_id is None or record.message_id == message_id
        ]
        return sorted(chosen, key=lambda record: record.at, reverse=True)[:limit]

    async def forget(self, before: datetime) -> int:
        gone = [key for key, at in self.finished.items() if at < before]
        for key in gone:
            del self.finished[key]
        for notice_key in [k for k, record in self.notices.items() if record.at < before]:
            del self.notices[notice_key]
        return len(gone)


@define
class MemoryReminderStore:
    """Reminders in the catalog's tables, where the memory booking stores plan them."""

    catalog: MemoryCatalog = field(factory=MemoryCatalog)

    async def add(self, reminders: Sequence[Reminder]) -> None:
        for reminder in reminders:
            self.catalog.reminders[reminder.id] = reminder

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[DueReminder]:
        catalog = self.catalog
        due = sorted(
            (
                r
                for r in catalog.reminders.values()
                if r.status is ReminderStatus.PLANNED
                and r.due_at <= now
                and (r.claimed_until is None or r.claimed_until <= now)
            ),
            key=lambda reminder: (reminder.due_at, reminder.id),
        )[:limit]
        claimed: list[DueReminder] = []
        for reminder in due:
            mine = attrs.evolve(
                reminder,
                claimed_by=owner,
                claimed_until=now + lease,
                attempts=reminder.attempts + 1,
            )
            catalog.reminders[reminder.id] = mine
            booking = catalog.bookings.get(reminder.booking_id)
            flights = catalog.flights_of(booking)
            claimed.append(DueReminder(reminder=mine, booking=booking, flights=flights))
        return claimed

    async def settle(
        self,
        owner: str,
        now: datetime,
        sent: Sequence[Event],
        skipped: Sequence[tuple[str, str]] = (),
    ) -> int:
        catalog = self.catalog

        def mine(reminder_id: str) -> Reminder | None:
            reminder = catalog.reminders.get(reminder_id)
            if reminder is None or reminder.status is not ReminderStatus.PLANNED:
                return None
            return reminder if reminder.claimed_by == owner else None

        done = 0
        for event in sent:
            reminder = mine(event.reminder_id)  # type: ignore[attr-defined]
            if reminder is not None:
                catalog.outbox.add_now([encode(event)], now)
                catalog.settle_reminder(reminder, ReminderStatus.SENT, now, None)
                done += 1
        for reminder_id, reason in skipped:
            reminder = mine(reminder_id)
            if reminder is not None:
                catalog.settle_reminder(reminder, ReminderStatus.SKIPPED, now, reason)
        return done

    async def for_booking(self, booking_id: str) -> Sequence[Reminder]:
        return self.catalog.reminders_of(booking_id)

    async def find(self, query: ReminderQuery) -> Sequence[Reminder]:
        found = [
            r
            for r in self.catalog.reminders.values()
            if r.status in query.statuses
            and (query.kind is None or r.kind is query.kind)
            and (query.reference is None or r.reference == query.reference)
            and (query.due_after is None or r.due_at >= query.due_after)
            and (query.due_before is None or r.due_at < query.due_before)
        ]
        found.sort(key=lambda reminder: (reminder.due_at, reminder.id))
        return found[: query.limit]
