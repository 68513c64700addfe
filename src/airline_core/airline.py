"""The facade: the use cases of the whole product composed from one set of ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from attrs import define, field, frozen

from airline_core.booking import (
    Booking,
    BookingRules,
    Bookings,
    Offer,
    Offers,
    Passenger,
    SeatChoice,
    SeatMap,
    SeatMaps,
)
from airline_core.booking.gateway import TestPaymentGateway
from airline_core.booking.model import Payment
from airline_core.booking.payments import Payments
from airline_core.catalog.model import Cabin, Flight
from airline_core.catalog.service import Airplanes, Airports, Cities, Flights
from airline_core.clock import SystemClock
from airline_core.idempotency import Idempotency, KeyedRequest, StoredAnswer
from airline_core.identity.model import Principal
from airline_core.identity.passwords import ScryptPasswordHasher
from airline_core.identity.service import Accounts
from airline_core.memory import (
    MemoryAccessTokens,
    MemoryAirplaneStore,
    MemoryAirportStore,
    MemoryBookingStore,
    MemoryCatalog,
    MemoryCityStore,
    MemoryFlightStore,
    MemoryIdempotencyStore,
    MemoryInventoryStore,
    MemoryOfferStore,
    MemoryOutboxStore,
    MemoryPaymentStore,
    MemoryRefreshTokenStore,
    MemoryReminderStore,
    MemoryUserStore,
)
from airline_core.money import Money
from airline_core.pagination import Page, PageRequest
from airline_core.ports import (
    AccessTokens,
    AirplaneStore,
    AirportStore,
    BookingStore,
    CityStore,
    Clock,
    FlightStore,
    IdempotencyStore,
    InventoryStore,
    OfferStore,
    OutboxStore,
    PasswordHasher,
    PaymentGateway,
    PaymentStore,
    RefreshTokenStore,
    ReminderStore,
    UserStore,
)
from airline_core.pricing import DynamicPricing, Pricing
from airline_core.reminders import Reminder, ReminderRules, Reminders, ReminderStatus
from airline_core.search import ConnectionRules, FlightSearch, Itinerary, SearchQuery

__all__ = ["Airline", "BookingView"]


@frozen(kw_only=True)
class BookingView:
    """Everything about one booking a traveller looks at: the booking, its flights as they
    are now (times, status), its payments and its reminders (planned, sent or skipped;
    cancelled ones left out), soonest first."""

    booking: Booking
    flights: tuple[Flight, ...]
    payments: tuple[Payment, ...]
    reminders: tuple[Reminder, ...] = ()


_FIRST_PAGE = PageRequest()


@define
class Airline:
    """Everything an application does with the airline, one attribute per area.

    >>> async with Airline.in_memory() as airline:          # doctest: +SKIP
    ...     london = await airline.cities.create(code="LON", name="London", country="GB")

    The runtime builds one on SQLAlchemy stores (:func:`airline_runtime.bootstrap.bootstrap`);
    tests and embedding apps use :meth:`in_memory` or :meth:`from_stores`.
    """

    cities: Cities
    airports: Airports
    airplanes: Airplanes
    flights: Flights
    accounts: Accounts
    flight_search: FlightSearch
    seat_maps: SeatMaps
    offers: Offers
    bookings: Bookings
    payments: Payments
    idempotency: Idempotency
    reminders: Reminders
    #: The events the stores wrote with their changes, for a relay to publish
    #: (:class:`airline_runtime.messaging.Relay`) and operators to inspect.
    outbox: OutboxStore = field(factory=MemoryOutboxStore)
    clock: Clock = field(factory=SystemClock)

    async def search(self, query: SearchQuery, page: PageRequest = _FIRST_PAGE) -> Page[Itinerary]:
        """One page of itineraries for ``query`` (:meth:`FlightSearch.search`)."""
        return await self.flight_search.search(query, page)

    async def seat_map(self, flight_id: str, cabin: Cabin | str) -> SeatMap:
        """The seats of a flight's cabin and their states (:meth:`SeatMaps.seat_map`)."""
        return await self.seat_maps.seat_map(flight_id, cabin)

    async def offer(
        self, user_id: str, flight_ids: Sequence[str], cabin: Cabin | str, passengers: int
    ) -> Offer:
        """Price an itinerary for a party (:meth:`Offers.create`)."""
        return await self.offers.create(user_id, flight_ids, cabin, passengers)

    async def hold(
        self,
        principal: Principal,
        offer_id: str,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice] = (),
    ) -> Booking:
        """Hold the seats of an offer: a ``held`` booking (:meth:`Bookings.hold`)."""
        return await self.bookings.hold(principal, offer_id, passengers, seats)

    async def hold_once(
        self,
        principal: Principal,
        offer_id: str,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice],
        key: KeyedRequest[Booking],
    ) -> tuple[StoredAnswer, bool]:
        """:meth:`hold` once per idempotency key: its answer and whether it is a replay
        (:meth:`Bookings.hold_once`; make ``key`` with :meth:`Idempotency.request`)."""
        return await self.bookings.hold_once(principal, offer_id, passengers, seats, key)

    async def pay(
        self,
        principal: Principal,
        reference: str,
        amount: Money,
        payment_method: str,
        *,
        accept_new_total: bool = False,
    ) -> tuple[Booking, Payment]:
        """Pay a held booking: it becomes confirmed (:meth:`Payments.pay`)."""
        return await self.payments.pay(
            principal, reference, amount, payment_method, accept_new_total=accept_new_total
        )

    async def pay_once(
        self,
        principal: Principal,
        reference: str,
        amount: Money,
        payment_method: str,
        key: KeyedRequest[tuple[Booking, Payment]],
        *,
        accept_new_total: bool = False,
    ) -> tuple[StoredAnswer, bool]:
        """:meth:`pay` once per idempotency key: its answer and whether it is a replay
        (:meth:`Payments.pay_once`; make ``key`` with :meth:`Idempotency.request`)."""
        return await self.payments.pay_once(
            principal, reference, amount, payment_method, key, accept_new_total=accept_new_total
        )

    async def itinerary(self, reference: str, principal: Principal) -> BookingView:
        """A booking with its flights and payments, in one answer (the itinerary view)."""
        booking = await self.bookings.get(reference, principal)
        flights = [await self.flights.get(flight_id) for flight_id in booking.flight_ids]
        payments = await self.payments.of(booking)
        reminders = [
            reminder
            for reminder in await self.reminders.of(booking)
            if reminder.status is not ReminderStatus.CANCELLED
        ]
        return BookingView(
            booking=booking,
            flights=tuple(flights),
            payments=tuple(payments),
            reminders=tuple(reminders),
        )

    async def sweep(self, limit: int = 500) -> dict[str, int]:
        """The booking housekeeping, safe to run in every process at once: expire holds whose
        deadline passed (their seats go back to search), forget idempotency keys past their
        24 hours and offers expired for a day, and retry refunds that failed. How many of each
        went."""
        expired = await self.bookings.expire_due(limit)
        keys = await self.idempotency.purge()
        offers = await self.offers.offers.delete_expired(self.clock.now() - timedelta(days=1))
        refunds = await self.payments.retry_refunds()
        return {
            "expired_holds": expired,
            "idempotency_keys": keys,
            "offers": offers,
            "refunds": refunds,
        }

    async def cancel(self, reference: str, principal: Principal) -> Booking:
        """Cancel a booking, refund it by its fare rules and free its seats
        (:meth:`Bookings.cancel`)."""
        return await self.bookings.cancel(reference, principal)

    @classmethod
    def from_stores(
        cls,
        *,
        cities: CityStore,
        airports: AirportStore,
        airplanes: AirplaneStore,
        flights: FlightStore,
        users: UserStore,
        refresh_tokens: RefreshTokenStore,
        inventory: InventoryStore,
        offers: OfferStore,
        bookings: BookingStore,
        payments: PaymentStore,
        idempotency_keys: IdempotencyStore,
        outbox: OutboxStore,
        reminders: ReminderStore,
        password_hasher: PasswordHasher,
        access_tokens: AccessTokens,
        clock: Clock | None = None,
        refresh_lifetime: timedelta = timedelta(days=30),
        pricing: Pricing | None = None,
        connections: ConnectionRules | None = None,
        booking_rules: BookingRules | None = None,
        payment_gateway: PaymentGateway | None = None,
        reminder_rules: ReminderRules | None = None,
    ) -> Airline:
        """The airline on the given stores. Prices are dynamic (:class:`DynamicPricing`)
        unless ``pricing`` says otherwise; payments go to the built-in
        :class:`TestPaymentGateway` unless ``payment_gateway`` is given."""
        clock = clock or SystemClock()
        idempotency = Idempotency(idempotency_keys, clock)
        pricing = pricing or DynamicPricing()
        connections = connections or ConnectionRules()
        booking_rules = booking_rules or BookingRules()
        reminder_use_cases = Reminders(reminders, clock, rules=reminder_rules or ReminderRules())
        payment_use_cases = Payments(
            bookings,
            payments,
            payment_gateway or TestPaymentGateway(),
            flights,
            inventory,
            pricing,
            clock,
            rules=booking_rules,
            idempotency=idempotency,
            reminders=reminder_use_cases,
        )
        booking_use_cases = Bookings(
            bookings,
            clock,
            rules=booking_rules,
            payments=payment_use_cases,
            idempotency=idempotency,
            reminders=reminder_use_cases,
        )
        return cls(
            cities=Cities(cities),
            airports=Airports(airports, cities, flights),
            airplanes=Airplanes(airplanes, flights),
            flights=Flights(flights, airplanes, airports, clock, reminder_use_cases),
            accounts=Accounts(
                users, refresh_tokens, password_hasher, access_tokens, clock, refresh_lifetime
            ),
            flight_search=FlightSearch(
                flights, airports, clock, pricing=pricing, connections=connections
            ),
            seat_maps=SeatMaps(flights, airplanes, inventory, clock),
            offers=Offers(
                offers,
                flights,
                airplanes,
                inventory,
                pricing,
                clock,
                connections=connections,
                rules=booking_rules,
            ),
            bookings=booking_use_cases,
            payments=payment_use_cases,
            idempotency=idempotency,
            reminders=reminder_use_cases,
            outbox=outbox,
            clock=clock,
        )

    @classmethod
    @asynccontextmanager
    async def in_memory(
        cls,
        *,
        clock: Clock | None = None,
        password_hasher: PasswordHasher | None = None,
        connections: ConnectionRules | None = None,
        pricing: Pricing | None = None,
        booking_rules: BookingRules | None = None,
        payment_gateway: PaymentGateway | None = None,
        reminder_rules: ReminderRules | None = None,
    ) -> AsyncIterator[Airline]:
        """An airline on memory stores that vanish when the block ends.

        Passwords are hashed with scrypt unless another hasher is given; access tokens are
        opaque and known to this process only.
        """
        catalog = MemoryCatalog()
        offers, keys = MemoryOfferStore(), MemoryIdempotencyStore()
        clock = clock or SystemClock()
        users = MemoryUserStore()
        yield cls.from_stores(
            cities=MemoryCityStore(catalog),
            airports=MemoryAirportStore(catalog),
            airplanes=MemoryAirplaneStore(catalog),
            flights=MemoryFlightStore(catalog),
            users=users,
            refresh_tokens=MemoryRefreshTokenStore(),
            inventory=MemoryInventoryStore(catalog),
            offers=offers,
            bookings=MemoryBookingStore(catalog, users, offers, keys),
            payments=MemoryPaymentStore(catalog, keys),
            idempotency_keys=keys,
            outbox=catalog.outbox,
            reminders=MemoryReminderStore(catalog),
            password_hasher=password_hasher or ScryptPasswordHasher(),
            access_tokens=MemoryAccessTokens(clock),
            clock=clock,
            connections=connections,
            pricing=pricing,
            booking_rules=booking_rules,
            payment_gateway=payment_gateway,
            reminder_rules=reminder_rules,
        )
