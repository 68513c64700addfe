"""The booking use cases: seat maps, offers, holds, cancellation and the expiry sweep.

The flow (docs/booking.md tells it for users):

1. :meth:`Offers.create` prices an itinerary for a cabin and a party with the airline's
   :class:`~airline_core.pricing.Pricing` and keeps the quote for ``offer_lifetime``. The
   first offer of a flight makes its seat rows.
2. :meth:`Bookings.hold` turns an unexpired offer into a ``held`` booking: it reads the seat
   map, picks seats (chosen ones, the rest together where possible), and asks the store to
   claim them with compare-and-set updates. When another buyer got an auto-assigned seat
   first it reads again and picks again, a few times; a chosen seat that is taken is an
   answer, not a retry. The booking keeps the offer's total until
   ``price_guarantee_expires_at`` and its seats until ``payment_required_by``.
3. :meth:`Bookings.cancel` and :meth:`Bookings.expire_due` free a hold's seats.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta

import anyio
from attrs import define, evolve, field

from airline_core.booking.model import (
    MAX_PASSENGERS,
    Booking,
    BookingStatus,
    HoldContext,
    HoldPlan,
    Offer,
    Passenger,
    SeatAssignment,
    SeatChoice,
    check_transition,
    new_locator,
)
from airline_core.booking.payments import Payments
from airline_core.booking.rules import REFUND_PERCENT, BookingRules
from airline_core.booking.seating import SeatMap, choose_seats, pick_one
from airline_core.catalog.model import (
    Airplane,
    Cabin,
    CabinLayout,
    Flight,
    FlightStatus,
    SeatLayout,
    cabin_named,
)
from airline_core.errors import (
    AirlineError,
    AlreadyExists,
    FieldError,
    HoldLimitReached,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    OfferExpired,
    SeatUnavailable,
)
from airline_core.events import BookingCancelled, BookingHeld, HoldExpired
from airline_core.idempotency import Idempotency, KeyedRequest, StoredAnswer
from airline_core.identity.model import Principal, reveal_to
from airline_core.ids import new_id
from airline_core.money import Money
from airline_core.pagination import KeysetWindow, Page, PageRequest, make_page
from airline_core.ports import (
    AirplaneStore,
    BookingStore,
    Clock,
    FlightStore,
    InventoryStore,
    OfferStore,
)
from airline_core.pricing import Pricing
from airline_core.reminders.service import Reminders
from airline_core.search.connections import ConnectionRules
from airline_core.search.legs import Leg
from airline_core.validation import Rules

__all__ = ["REFUND_PERCENT", "BookingRules", "Bookings", "Offers", "SeatMaps"]

_FIRST_PAGE = PageRequest()
_jitter = random.SystemRandom()
MAX_SEGMENTS = 3


@define
class AirplaneLayouts:
    """Airplanes as booking reads them, remembered for ``ttl``: every hold needs its flights'
    layouts, and while flights use an airplane its seats cannot change (only its exit rows,
    which holds do not read). A hold's store reads, in the hold's own transaction, the
    airplanes this does not know (:meth:`known`), and the plan remembers them."""

    clock: Clock
    ttl: timedelta = field(default=timedelta(seconds=60))
    _known: dict[str, tuple[Airplane, datetime]] = field(factory=dict, init=False)

    def known(self, airplane_id: str) -> Airplane | None:
        """The airplane if it is remembered and fresh."""
        known = self._known.get(airplane_id)
        if known is not None and known[1] > self.clock.now():
            return known[0]
        return None

    def remember(self, airplane: Airplane) -> None:
        if self.known(airplane.id) is airplane:
            return  # remembered and fresh: its minute runs from when it was read
        if len(self._known) >= 1000:
            self._known.clear()
        self._known[airplane.id] = (airplane, self.clock.now() + self.ttl)


@define
class _Picking:
    """Seats that holds of this process have picked and are claiming right now, per flight,
    and for a second after a hold won them.

    A hold reads the seats taken as committed; the seats that concurrent holds claim are
    invisible to it until they commit, so buyers of a busy flight kept picking the same seats
    and losing them (four in ten holds on the benchmark's hot flight). Picking away from the
    ones this process knows about avoids most of that; a won seat stays known for a moment,
    for reads that began before its commit. The claim's compare-and-set still decides, so
    other processes' picks only cost a retry."""

    #: How long a won seat stays known after its hold's commit.
    recent: float = 1.0
    #: Per flight: label -> [holds claiming it now, monotonic time it is known until].
    _seats: dict[str, dict[str, list[float]]] = field(factory=dict)
    #: Won seats in the order they stop being known: (until, flight id, label).
    _expiry: deque[tuple[float, str, str]] = field(factory=deque)

    def on(self, flight_id: str) -> AbstractSet[str]:
        self._forget(time.monotonic())
        labels = self._seats.get(flight_id)
        return labels.keys() if labels else frozenset()

    def add(self, flight_id: str, label: str) -> None:
        if len(self._seats) > 10_000:
            self._seats.clear()  # flights nobody holds any more; forgetting only costs retries
            self._expiry.clear()
        entry = self._seats.setdefault(flight_id, {}).setdefault(label, [0, 0.0])
        entry[0] += 1

    def done(self, flight_id: str, label: str, *, won: bool) -> None:
        entry = self._seats.get(flight_id, {}).get(label)
        if entry is None:
            return
        entry[0] -= 1
        if won:
            entry[1] = time.monotonic() + self.recent
            self._expiry.append((entry[1], flight_id, label))
        elif not entry[0] and entry[1] <= time.monotonic():
            self._drop(flight_id, label)

    def _forget(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, flight_id, label = expiry.popleft()
            entry = self._seats.get(flight_id, {}).get(label)
            if entry is not None and not entry[0] and entry[1] <= now:
                self._drop(flight_id, label)

    def _drop(self, flight_id: str, label: str) -> None:
        labels = self._seats[flight_id]
        del labels[label]
        if not labels:
            del self._seats[flight_id]


def _cabin_layout(airplane: Airplane, flight: Flight, cabin: Cabin, field_name: str) -> CabinLayout:
    """:raises InvalidRequest: naming ``field_name``: the flight does not sell that cabin."""
    layout = airplane.layout.cabin(cabin)
    if layout is None or cabin not in flight.fares:
        raise InvalidRequest.for_field(field_name, f"flight {flight.number} has no {cabin} cabin")
    return layout


async def _cabin_of(
    airplanes: AirplaneStore, flight: Flight, cabin: Cabin, field_name: str
) -> tuple[SeatLayout, CabinLayout]:
    """The flight's airplane layout and its ``cabin``.

    :raises InvalidRequest: naming ``field_name``: the flight does not sell that cabin.
    """
    airplane = await airplanes.get(flight.airplane_id)
    return airplane.layout, _cabin_layout(airplane, flight, cabin, field_name)


@define
class SeatMaps:
    """Who sits where: the seat map of a flight's cabin."""

    flights: FlightStore
    airplanes: AirplaneStore
    inventory: InventoryStore
    clock: Clock

    async def seat_map(self, flight_id: str, cabin: Cabin | str) -> SeatMap:
        """Every seat of ``cabin`` on the flight, each available, held or sold.

        :raises NotFound: no flight has that id.
        :raises InvalidRequest: the flight has no such cabin.
        """
        flight = await self.flights.get(flight_id)
        _, layout = await _cabin_of(self.airplanes, flight, cabin_named(cabin), "cabin")
        taken = await self.inventory.taken(flight_id, self.clock.now())
        return SeatMap.of(flight_id, layout, taken)


@define
class Offers:
    """Priced quotes for an itinerary."""

    offers: OfferStore
    flights: FlightStore
    airplanes: AirplaneStore
    inventory: InventoryStore
    pricing: Pricing
    clock: Clock
    connections: ConnectionRules = field(factory=ConnectionRules)
    rules: BookingRules = field(factory=BookingRules)

    async def create(
        self,
        user_id: str,
        flight_ids: Sequence[str],
        cabin: Cabin | str,
        passengers: int,
    ) -> Offer:
        """Price ``passengers`` seats in ``cabin`` on the itinerary of ``flight_ids`` (in
        order, as a search returned them).

        :raises NotFound: a flight does not exist.
        :raises InvalidRequest: no itinerary (1 to 3 flights, each leaving where the one
            before arrives, within the connection rules), no such cabin, a bad party size.
        :raises SeatUnavailable: the cabin has fewer seats left than passengers.
        :raises InvalidTransition: a flight is cancelled or its sales have closed.
        """
        cabin = cabin_named(cabin)
        rules = Rules("offer")
        rules.require(
            1 <= len(flight_ids) <= MAX_SEGMENTS, "flight_ids", "must list 1 to 3 flights"
        )
        rules.require(
            len(set(flight_ids)) == len(flight_ids), "flight_ids", "must not repeat a flight"
        )
        rules.require(
            type(passengers) is int and 1 <= passengers <= MAX_PASSENGERS,
            "passengers",
            f"must be 1..{MAX_PASSENGERS}",
        )
        rules.check()
        now = self.clock.now()
        flights = [await self.flights.get(flight_id) for flight_id in flight_ids]
        self._check_itinerary(flights, now)
        prices = []
        for index, flight in enumerate(flights):
            plane, layout = await _cabin_of(self.airplanes, flight, cabin, f"flight_ids.{index}")
            prepared, cabins = await self.inventory.seats(flight.id)
            if not prepared:
                # Booking starts here: the flight's seat rows are made now, once.
                await self.inventory.prepare(
                    flight.id, flight.airplane_id, [s.label for s in plane.iter_seats()]
                )
            left, capacity = cabins.get(cabin, (layout.seat_count, layout.seat_count))
            if left < passengers:
                raise SeatUnavailable(
                    f"flight {flight.number} has {left} {cabin} seats left",
                    errors=[FieldError(f"flight_ids.{index}", f"{left} seats left")],
                )
            leg = Leg.of(flight, flight.fares[cabin], left, capacity)
            prices.append(self.pricing.price(leg, 1, now))
        if len({price.currency for price in prices}) > 1:
            raise InvalidRequest.for_field("flight_ids", "the flights are sold in two currencies")
        offer = Offer(
            id=new_id(),
            user_id=user_id,
            flight_ids=flight_ids,
            cabin=cabin,
            passengers=passengers,
            unit_prices=prices,
            created_at=now,
            expires_at=now + self.rules.offer_lifetime,
        )
        await self.offers.add(offer)
        return offer

    def _check_itinerary(self, flights: Sequence[Flight], now: datetime) -> None:
        for index, flight in enumerate(flights):
            if flight.status is FlightStatus.CANCELLED:
                raise InvalidTransition(f"flight {flight.number} is cancelled")
            if flight.departs_at - self.rules.sales_close <= now:
                raise InvalidTransition(
                    f"sales of flight {flight.number} have closed",
                    errors=[FieldError(f"flight_ids.{index}", "sales have closed")],
                )
        for index, (before, after) in enumerate(itertools.pairwise(flights)):
            place = f"flight_ids.{index + 1}"
            if after.origin != before.destination:
                raise InvalidRequest.for_field(place, f"does not leave from {before.destination}")
            gap = after.departs_at - before.arrives_at
            if not self.connections.minimum_for(after.origin) <= gap <= self.connections.maximum:
                raise InvalidRequest.for_field(
                    place, f"the connection at {after.origin} breaks the connection rules"
                )
        visited = [flights[0].origin, *(flight.destination for flight in flights)]
        if len(set(visited)) != len(visited):
            raise InvalidRequest.for_field("flight_ids", "the itinerary visits an airport twice")

    async def get(self, offer_id: str, principal: Principal) -> Offer:
        """:raises NotFound: no such offer, or it is another user's."""
        offer = await self.offers.get(offer_id)
        reveal_to(principal, offer.user_id, "offer")
        return offer


def _chosen_and_taken(choices: Sequence[SeatChoice], taken: set[str]) -> SeatUnavailable | None:
    """The error naming each chosen seat among ``taken`` (``<flight id>.<seat>``) by its place
    in the request, or ``None`` when no chosen seat is taken."""
    named = [
        FieldError(f"seats.{index}", f"seat {choice.seat} is taken")
        for index, choice in enumerate(choices)
        if f"{choice.flight_id}.{choice.seat}" in taken
    ]
    return SeatUnavailable("a chosen seat is taken", errors=named) if named else None


@define
class Bookings:
    """Holds made from offers, their cancellation, and the expiry of unpaid ones."""

    bookings: BookingStore
    clock: Clock
    rules: BookingRules = field(factory=BookingRules)
    #: Refunds confirmed bookings when they are cancelled (set by the facade).
    payments: Payments | None = None
    #: Keeps the answers of keyed holds' refusals (set by the facade).
    idempotency: Idempotency | None = None
    #: Plans each hold's payment-deadline reminder (set by the facade).
    reminders: Reminders | None = None
    _layouts: AirplaneLayouts = field(init=False)
    _picking: _Picking = field(factory=_Picking, init=False)

    def __attrs_post_init__(self) -> None:
        self._layouts = AirplaneLayouts(self.clock)

    async def hold(
        self,
        principal: Principal,
        offer_id: str,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice] = (),
    ) -> Booking:
        """Hold the offer's seats for ``passengers``: a ``held`` booking.

        ``seats`` may choose seats for some passengers on some flights; everyone else is
        seated by :func:`~airline_core.booking.seating.choose_seats`, a party together where
        the free seats allow. The whole hold is one transaction of the store
        (:meth:`~airline_core.ports.BookingStore.hold`): it reads the offer, its flights, their
        airplanes (those not remembered) and taken seats, and claims the seats picked from that
        read.

        :raises NotFound: no such offer, or another user's.
        :raises OfferExpired: the offer's validity ended.
        :raises InvalidRequest: not one passenger per seat of the offer, a bad passenger, or a
            seat choice for no flight, passenger or seat of the offer (each named).
        :raises SeatUnavailable: a chosen seat is taken (named as ``seats.<index>``), or too
            few seats are left.
        :raises HoldLimitReached: the user would hold more than ``max_held_seats`` seats.
        :raises InvalidTransition: a flight was cancelled or its sales closed.
        """
        plan = await self._hold(principal, offer_id, passengers, seats, None)
        if plan.booking is None:  # pragma: no cover - only a keyed hold replays
            raise AssertionError("a hold without a key made no booking")
        return plan.booking

    async def hold_once(
        self,
        principal: Principal,
        offer_id: str,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice],
        key: KeyedRequest[Booking],
    ) -> tuple[StoredAnswer, bool]:
        """:meth:`hold` once per idempotency key: the key's answer and whether it is a replay.

        A new key's answer (``key.render`` of the new booking) is kept in the booking's own
        transaction, so no booking ever exists without it: a retry after any failure, even a
        crash right after the commit, replays it. A retry while the first request runs waits
        for the first's transaction (both lock the user's holds) and then replays its answer.

        :raises IdempotencyKeyReused: the key was used for another request.
        :raises IdempotencyKeyInUse: the key's first request runs elsewhere (a request that
            claimed the key before running, as payments do).
        """
        try:
            plan = await self._hold(principal, offer_id, passengers, seats, key)
        except AirlineError as error:
            # A refusal changed nothing (the transaction rolled back): its answer is kept
            # now, so that a retry gets it again.
            if self.idempotency is not None:
                await self.idempotency.refused(key, error)
            raise
        if plan.answer is None:  # pragma: no cover - a keyed plan always answers
            raise AssertionError("a keyed hold kept no answer")
        return plan.answer, plan.booking is None

    async def _hold(
        self,
        principal: Principal,
        offer_id: str,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice],
        key: KeyedRequest[Booking] | None,
    ) -> HoldPlan:
        now = self.clock.now()
        refused: list[AirlineError] = []

        picked: list[tuple[str, str]] = []

        def plan(context: HoldContext) -> HoldPlan:
            try:
                decided = self._plan(context, principal, passengers, seats, key, now)
            except AirlineError as error:
                refused.append(error)
                raise
            if decided.booking is not None:
                # Other holds of this process keep off these seats while this one claims them.
                for seat in decided.booking.seats:
                    self._picking.add(seat.flight_id, seat.seat)
                    picked.append((seat.flight_id, seat.seat))
            return decided

        for attempt in range(1, self.rules.claim_attempts + 1):
            won: set[tuple[str, str]] = set()
            try:
                decided = await self.bookings.hold(
                    principal.user_id, offer_id, now, plan, key, known=self._layouts.known
                )
                if decided.booking is not None:
                    won = {(seat.flight_id, seat.seat) for seat in decided.booking.seats}
                return decided
            except AlreadyExists:
                continue  # the record locator was taken: another one
            except SeatUnavailable as error:
                if refused and refused[-1] is error:
                    raise  # the plan's own answer (a chosen seat taken, too few seats)
                named = _chosen_and_taken(seats, {item.field for item in error.errors})
                if named:
                    raise named from None
                if attempt == self.rules.claim_attempts:
                    lost = SeatUnavailable(
                        "other travellers kept taking the seats picked; try again"
                    )
                    lost.retryable = True
                    raise lost from None
                # Someone else took an auto-assigned seat first: read the map again.
                await anyio.sleep(_jitter.uniform(0, 0.002 * attempt))
            finally:
                for flight_id, label in picked:
                    self._picking.done(flight_id, label, won=(flight_id, label) in won)
                picked.clear()
        raise SeatUnavailable("could not hold the seats; try again")

    def _plan(
        self,
        context: HoldContext,
        principal: Principal,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice],
        key: KeyedRequest[Booking] | None,
        now: datetime,
    ) -> HoldPlan:
        """The hold's decision on what its transaction read (no I/O: it runs inside it)."""
        if key is not None:
            kept = Idempotency.replay(context.kept, key.fingerprint, now)
            if kept is not None:
                return HoldPlan(answer=kept)
        offer = context.offer
        if offer is None:
            raise NotFound("no offer with that id")
        reveal_to(principal, offer.user_id, "offer")
        if offer.expired_at(now):
            raise OfferExpired("the offer has expired: ask for a new one")
        found = {flight.id: flight for flight in context.flights}
        for flight_id in offer.flight_ids:
            if flight_id not in found:
                raise NotFound(f"no flight has id {flight_id}")
        flights = [found[flight_id] for flight_id in offer.flight_ids]
        layouts: dict[str, CabinLayout] = {}
        for flight in flights:
            airplane = context.airplanes[flight.airplane_id]
            self._layouts.remember(airplane)
            layouts[flight.id] = _cabin_layout(airplane, flight, offer.cabin, "offer_id")
        chosen = self._check_request(offer, passengers, seats, layouts, now)
        for flight in flights:
            if flight.status is FlightStatus.CANCELLED:
                raise InvalidTransition(f"flight {flight.number} is cancelled")
        deadline = min(
            now + self.rules.payment_window,
            min(flight.departs_at for flight in flights) - self.rules.sales_close,
        )
        if deadline <= now:
            raise InvalidTransition("sales of a flight of this offer have closed")
        wanted = offer.passengers * len(flights)
        limit = self.rules.max_held_seats
        if context.held_seats + wanted > limit:
            raise HoldLimitReached(
                f"you hold {context.held_seats} seats; one traveller may hold {limit} at once"
            )
        booking = Booking(
            id=new_id(),
            reference=new_locator(),
            user_id=principal.user_id,
            offer_id=offer.id,
            status=BookingStatus.HELD,
            flight_ids=offer.flight_ids,
            cabin=offer.cabin,
            passengers=passengers,
            seats=self._assign(
                offer, flights, layouts, seats, chosen, context.taken, self._picking
            ),
            total=offer.total,
            created_at=now,
            price_guarantee_expires_at=min(now + self.rules.price_guarantee, deadline),
            payment_required_by=deadline,
            updated_at=now,
        )
        return HoldPlan(
            booking=booking,
            answer=None if key is None else key.render(booking),
            events=(BookingHeld(occurred_at=now, booking=booking),),
            reminders=() if self.reminders is None else self.reminders.for_hold(booking, now),
        )

    @staticmethod
    def _check_request(
        offer: Offer,
        passengers: Sequence[Passenger],
        seats: Sequence[SeatChoice],
        layouts: dict[str, CabinLayout],
        now: datetime,
    ) -> dict[tuple[str, int], str]:
        """The chosen seats by (flight id, passenger index); every broken rule at once."""
        rules = Rules("booking")
        if len(passengers) != offer.passengers:
            rules.add("passengers", f"the offer is for {offer.passengers} passengers")
        today = now.date()
        for index, passenger in enumerate(passengers):
            passenger.check_born_on(today, rules, f"passengers.{index}")
        chosen: dict[tuple[str, int], str] = {}
        used: set[tuple[str, str]] = set()
        for index, choice in enumerate(seats):
            layout = layouts.get(choice.flight_id)
            place = f"seats.{index}"
            if layout is None:
                rules.add(f"{place}.flight_id", "is no flight of the offer")
                continue
            if not 0 <= choice.passenger < offer.passengers:
                rules.add(f"{place}.passenger", f"must be 0..{offer.passengers - 1}")
                continue
            if choice.seat not in layout.label_set:
                rules.add(f"{place}.seat", f"no seat {choice.seat} in {offer.cabin}")
                continue
            key = (choice.flight_id, choice.passenger)
            if key in chosen:
                rules.add(place, "this passenger already has a seat on that flight")
            elif (choice.flight_id, choice.seat) in used:
                rules.add(place, f"seat {choice.seat} is chosen twice")
            else:
                chosen[key] = choice.seat
                used.add((choice.flight_id, choice.seat))
        rules.check()
        return chosen

    @staticmethod
    def _assign(
        offer: Offer,
        flights: Sequence[Flight],
        layouts: dict[str, CabinLayout],
        choices: Sequence[SeatChoice],
        chosen: dict[tuple[str, int], str],
        taken_on: Mapping[str, AbstractSet[str]],
        picking: _Picking,
    ) -> list[SeatAssignment]:
        """Seats for everyone: the chosen ones, and free ones picked for the rest (away from
        the seats other holds of this process are claiming, while enough others are free)."""
        assignments: list[SeatAssignment] = []
        for flight in flights:
            layout = layouts[flight.id]
            taken = taken_on.get(flight.id, frozenset())
            mine = {p: seat for (f, p), seat in chosen.items() if f == flight.id}
            named = _chosen_and_taken(
                choices, {f"{flight.id}.{seat}" for seat in mine.values() if seat in taken}
            )
            if named:
                raise named
            rest = [p for p in range(offer.passengers) if p not in mine]
            busy = picking.on(flight.id)
            # A single traveller (most holds): a few random draws find a free window or aisle
            # seat without building the cabin's free set.
            one = pick_one(layout, taken, busy) if len(rest) == 1 and not mine else None
            picked: list[str] | None = [one] if one is not None else None
            if picked is None:
                free = layout.label_set - taken - set(mine.values())
                near = list(mine.values())
                picked = (
                    choose_seats(layout, free - busy, len(rest), near=near)
                    if busy and len(free) > len(busy)
                    else None
                ) or choose_seats(layout, free, len(rest), near=near)
            if picked is None:
                raise SeatUnavailable(
                    f"flight {flight.number} has too few {offer.cabin} seats left",
                    errors=[FieldError("offer_id", "too few seats left")],
                )
            mine.update(zip(rest, picked, strict=True))
            assignments.extend(
                SeatAssignment(flight_id=flight.id, passenger=p, seat=mine[p])
                for p in range(offer.passengers)
            )
        return assignments

    async def get(self, reference: str, principal: Principal) -> Booking:
        """:raises NotFound: no such booking, or another user's (admins see every one)."""
        booking = await self.bookings.get(reference)
        reveal_to(principal, booking.user_id, "booking")
        return booking

    async def list(self, principal: Principal, page: PageRequest = _FIRST_PAGE) -> Page[Booking]:
        """The principal's bookings, oldest first; an admin's list is everyone's."""
        owner = None if principal.is_admin else principal.user_id
        scope = f"bookings:{owner}"
        window = KeysetWindow.open(page, scope, shape=(str,))
        found = await self.bookings.list(owner, window)
        return make_page(found, window, lambda booking: (booking.id,), scope)

    async def cancel(self, reference: str, principal: Principal) -> Booking:
        """Cancel a booking and free its seats; a confirmed one is refunded by the fare rules
        of its cabin first (:attr:`BookingRules.refund_percent`).

        :raises NotFound: no such booking, or another user's.
        :raises InvalidTransition: it is cancelled or expired already.
        :raises PaymentGatewayUnavailable: the refund failed; nothing changed, cancel again.
        """
        booking = await self.get(reference, principal)
        now = self.clock.now()
        status = booking.status_at(now)
        check_transition(status, BookingStatus.CANCELLED)
        if status is BookingStatus.CONFIRMED:
            if self.payments is None:
                raise InvalidTransition("this airline takes no payments, so it refunds none")
            # Refund first: if the provider fails, nothing has changed; a repeat is keyed by
            # the payment, so it never refunds twice.
            refunded = await self.payments.refund(booking)
            refund: Money | None = (
                Money(0, booking.total.currency) if refunded is None else refunded.refunded
            )
        else:
            refund = None
        cancelled = _released(booking, BookingStatus.CANCELLED, now)
        event = BookingCancelled(occurred_at=now, booking=cancelled, refund=refund)
        if not await self.bookings.release(booking, BookingStatus.CANCELLED, now, (event,)):
            current = await self.bookings.get(reference)
            raise InvalidTransition(f"the booking is {current.status_at(now)} now")
        return await self.bookings.get(reference)

    async def expire_due(self, limit: int = 500) -> int:
        """Mark expired the holds whose payment deadline passed and free their seats (the
        sweep; safe to run in several processes at once). How many it expired."""
        now = self.clock.now()
        expired = 0
        for booking in await self.bookings.expiring(now, limit):
            event = HoldExpired(
                occurred_at=now, booking=_released(booking, BookingStatus.EXPIRED, now)
            )
            if await self.bookings.release(booking, BookingStatus.EXPIRED, now, (event,)):
                expired += 1
        return expired


def _released(booking: Booking, status: BookingStatus, now: datetime) -> Booking:
    """The booking as :meth:`~airline_core.ports.BookingStore.release` leaves it."""
    return evolve(booking, status=status, updated_at=now, paying_until=None)
