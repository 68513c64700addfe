"""Every port of the core, as a :class:`typing.Protocol`.

An adapter conforms by passing the contract suite in ``tests/contract``, not by inheriting.
Adapters are named ``<Technology><Port>``: ``MemoryCityStore``, ``SQLAlchemyCityStore``.

Rules every store keeps:

- Each method is atomic: it changes everything it names or nothing.
- Reads return domain objects, never rows; writes take domain objects that are already valid.
- ``list`` methods read a :class:`~airline_core.pagination.KeysetWindow`: up to ``window.fetch``
  items strictly after ``window.after`` in ascending key order, or, when ``window.before`` is
  set, strictly before it in descending order. Each list's key is in
  :mod:`airline_core.catalog.filters`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airline_core.catalog.filters import AirplaneFilter, AirportFilter, CityFilter, FlightFilter
from airline_core.catalog.model import Airplane, Airport, City, Flight
from airline_core.pagination import KeysetWindow

if TYPE_CHECKING:
    # Only annotations use them; importing these packages here would be circular.
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
    from airline_core.catalog.model import Cabin
    from airline_core.events import ClaimedEvent, EncodedEvent, Event, OutboxStatus
    from airline_core.idempotency import KeyClaim, KeyedRequest, StoredAnswer
    from airline_core.identity.model import Principal, RefreshToken, RefreshUse, Role, User
    from airline_core.money import Money
    from airline_core.notifications import (
        Channel,
        EmailMessage,
        InboxProgress,
        NoticeRecord,
        Settlement,
        SmsMessage,
    )
    from airline_core.reminders.model import (
        DueReminder,
        Reminder,
        ReminderChanges,
        ReminderContext,
        ReminderQuery,
    )
    from airline_core.search.legs import Leg, LegQuery

    #: Re-plans one booking's reminders in the transaction of a change (see ReminderStore).
    Replan = Callable[[ReminderContext], ReminderChanges]

__all__ = [
    "AccessTokens",
    "AirplaneStore",
    "AirportStore",
    "BookingStore",
    "CabinSeats",
    "CityStore",
    "Clock",
    "FlightStore",
    "IdempotencyStore",
    "InventoryStore",
    "OfferStore",
    "OutboxStore",
    "PasswordHasher",
    "PaymentGateway",
    "PaymentStore",
    "RefreshTokenStore",
    "ReminderStore",
    "UserStore",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware and in UTC."""


class CityStore(Protocol):
    async def add(self, city: City) -> None:
        """Store a new city.

        :raises AlreadyExists: a city with that id or code exists.
        """

    async def get(self, city_id: str) -> City:
        """:raises NotFound: no city has that id."""

    async def find_by_code(self, code: str) -> City | None:
        """The city with that IATA city code, or ``None``."""

    async def update(self, city: City) -> None:
        """Replace the stored city of the same id (its code never changes).

        :raises NotFound: no city has that id.
        """

    async def delete(self, city_id: str) -> None:
        """:raises NotFound: no city has that id.
        :raises StillReferenced: an airport is in that city."""

    async def list(self, criteria: CityFilter, window: KeysetWindow) -> Sequence[City]:
        """Cities matching ``criteria``, ordered by code (see the module docstring)."""


class AirportStore(Protocol):
    async def add(self, airport: Airport) -> None:
        """Store a new airport.

        :raises AlreadyExists: an airport with that code exists.
        :raises StillReferenced: its city no longer exists (removed meanwhile).
        """

    async def get(self, code: str) -> Airport:
        """:raises NotFound: no airport has that code."""

    async def get_many(self, codes: Sequence[str]) -> dict[str, Airport]:
        """The airports among ``codes`` that exist, by code."""

    async def serving(self, code: str) -> Sequence[Airport]:
        """What a traveller means by ``code``: the airport with that code, else every airport of
        the city with that code (none when neither exists). Ordered by code."""

    async def update(self, airport: Airport) -> None:
        """Replace the stored airport of the same code.

        :raises NotFound: no airport has that code.
        :raises StillReferenced: its new city does not exist.
        """

    async def delete(self, code: str) -> None:
        """:raises NotFound: no airport has that code.
        :raises StillReferenced: a flight departs from or arrives at it."""

    async def list(self, criteria: AirportFilter, window: KeysetWindow) -> Sequence[Airport]:
        """Airports matching ``criteria``, ordered by code."""


class AirplaneStore(Protocol):
    async def add(self, airplane: Airplane) -> None:
        """:raises AlreadyExists: an airplane with that id exists."""

    async def get(self, airplane_id: str) -> Airplane:
        """:raises NotFound: no airplane has that id."""

    async def update(self, airplane: Airplane) -> None:
        """:raises NotFound: no airplane has that id."""

    async def delete(self, airplane_id: str) -> None:
        """:raises NotFound: no airplane has that id.
        :raises StillReferenced: a flight is flown with it."""

    async def list(self, criteria: AirplaneFilter, window: KeysetWindow) -> Sequence[Airplane]:
        """Airplanes matching ``criteria``, ordered by id (that is, by creation)."""


class FlightStore(Protocol):
    async def add(self, flight: Flight) -> None:
        """Store a new flight.

        :raises AlreadyExists: that flight number already departs on that local date, or the id
            is taken.
        :raises StillReferenced: its airplane or an airport no longer exists.
        """

    async def add_many(self, flights: Sequence[Flight]) -> None:
        """Store many new flights at once, all or none (bulk loads and seeding).

        :raises AlreadyExists: as :meth:`add`, for any of them; none is stored then.
        """

    async def get(self, flight_id: str) -> Flight:
        """The flight, with its airports' current time zones.

        :raises NotFound: no flight has that id.
        """

    async def update(
        self, flight: Flight, events: Sequence[Event] = (), replan: Replan | None = None
    ) -> None:
        """Replace the stored flight of the same id, adding ``events`` to the outbox in the
        same transaction. A new airplane brings its own seats: the seats left per cabin start
        again from its layout.

        With ``replan``, every booking holding or owning seats on the flight has its reminders
        re-planned in the same transaction: ``replan`` gets each one's
        :class:`~airline_core.reminders.model.ReminderContext` (the flights as updated) and
        its changes are written. The flight's seat rows are read with a lock before the flight
        is written, so a payment confirming a booking of the flight meanwhile is either seen
        confirmed here (and re-planned) or reads the updated flight when it plans.

        :raises NotFound: no flight has that id.
        :raises AlreadyExists: its number already departs on its (new) local date.
        :raises StillReferenced: its new airplane no longer exists, or the airplane changes
            while seats of the flight are held or sold.
        """

    async def delete(self, flight_id: str) -> None:
        """:raises NotFound: no flight has that id.
        :raises StillReferenced: seats of the flight are held or sold."""

    async def list(self, criteria: FlightFilter, window: KeysetWindow) -> Sequence[Flight]:
        """Flights matching ``criteria``, ordered by departure instant, then id."""

    async def legs(self, query: LegQuery) -> Sequence[Leg]:
        """The flights answering ``query`` as legs, in any order: each with the base fare of
        ``query.cabin`` and the seats left there (until bookings exist, the airplane's seats
        in that cabin)."""

    async def uses_airplane(self, airplane_id: str) -> bool:
        """Whether any flight is flown with that airplane."""

    async def uses_airport(self, code: str) -> bool:
        """Whether any flight departs from or arrives at that airport."""


class CabinSeats(NamedTuple):
    """A cabin's seats: how many are left for sale, of how many."""

    left: int
    capacity: int


class InventoryStore(Protocol):
    """The seats of each flight: one row per seat, made from the airplane's layout the first
    time the flight is offered for sale (:meth:`prepare`), plus the seats left per cabin that
    search filters on. Held and sold seats are taken; every other seat is available.

    Invariant: for every cabin, seats left = the cabin's seats - its seats held or sold.
    Seats of a hold past its deadline count as free for claims and seat maps at once; the
    seats left catch up when the hold is marked expired (:meth:`BookingStore.release`).
    """

    async def seats(self, flight_id: str) -> tuple[bool, dict[Cabin, CabinSeats]]:
        """Whether the flight's seat rows exist yet, and its cabins' seats.

        :raises NotFound: no flight has that id.
        """

    async def prepare(self, flight_id: str, airplane_id: str, labels: Sequence[str]) -> None:
        """Make the flight's seat rows, all available, from ``labels`` (the seats of
        ``airplane_id``), unless they exist. Safe to run in several processes at once for one
        flight: the rows are made once. Does nothing if the flight is no longer flown with
        ``airplane_id`` (re-equipped meanwhile): the next offer makes its rows."""

    async def taken(self, flight_id: str, now: datetime) -> dict[str, SeatState]:
        """The flight's held and sold seats by label; a hold past its deadline at ``now``
        is not among them."""


class OfferStore(Protocol):
    async def add(self, offer: Offer) -> None:
        """Store a new offer."""

    async def get(self, offer_id: str) -> Offer:
        """:raises NotFound: no offer has that id."""

    async def delete_expired(self, before: datetime) -> int:
        """Remove offers that expired before ``before``; how many went."""


class BookingStore(Protocol):
    """Bookings and the seats they take. :meth:`hold` and :meth:`release` change bookings,
    seat rows and seats left together, in one transaction."""

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
        """Hold seats in one transaction: read the :class:`HoldContext` at ``now`` (with the
        user's holds locked, ``key``'s stored record when given, and the flights' airplanes
        that ``known`` does not return), ask ``plan`` what to do, and write that.

        A plan without a booking writes nothing. A plan's booking is stored ``held`` and its
        seats claimed, all or nothing, each with a compare-and-set: it must be available, or
        held by a hold whose deadline passed at ``now``; seats claimed from available ones are
        taken off the flight's seats left, and its ``events`` added to the outbox. With ``key``,
        the plan's answer is kept as the key's, replacing a stored record that ``plan`` chose to
        run past (one past its retention or with a lapsed lease). Returns the plan.

        ``plan`` does no I/O; it may run again if the database asks for the transaction to be
        retried; any exception it raises leaves everything as it was.

        :raises SeatUnavailable: a seat is taken or does not exist; ``errors`` name them as
            ``<flight id>.<seat>``.
        :raises InvalidTransition: a flight was cancelled meanwhile.
        :raises AlreadyExists: the booking's reference is taken (make another).
        :raises NotFound: the user does not exist.
        """

    async def get(self, reference: str) -> Booking:
        """:raises NotFound: no booking has that reference."""

    async def list(self, user_id: str | None, window: KeysetWindow) -> Sequence[Booking]:
        """Bookings of ``user_id`` (everyone's for ``None``), ordered by id (creation)."""

    async def release(
        self,
        booking: Booking,
        status: BookingStatus,
        now: datetime,
        events: Sequence[Event] = (),
    ) -> bool:
        """Move the booking from ``booking.status`` to ``status``, free the seats it still
        holds or bought and add ``events`` to the outbox, in one transaction: a ``held`` one
        to ``cancelled`` before its payment deadline, or to ``expired`` at or after it unless a
        payment's lease on it runs; a ``confirmed`` one to ``cancelled``. ``False`` changes
        nothing: the stored booking was no longer in that state, or the deadline or a payment
        said otherwise. The booking's planned reminders are cancelled with it."""

    async def expiring(self, now: datetime, limit: int) -> Sequence[Booking]:
        """Up to ``limit`` bookings still stored as ``held`` whose deadline passed at
        ``now``, oldest deadline first."""


class PaymentStore(Protocol):
    """Payments of bookings, and the lease a running payment holds on its booking."""

    async def start(
        self,
        payment: Payment,
        booking: Booking,
        now: datetime,
        lease_until: datetime,
        *,
        resume: bool = False,
    ) -> None:
        """Store ``payment`` (pending) and lease the booking to it until ``lease_until``, in
        one transaction; with ``resume``, lease it to an already stored payment instead.

        :raises PaymentInProgress: another payment's lease on the booking runs.
        :raises InvalidTransition: the booking is no longer held, its deadline passed, or a
            flight of it was cancelled.
        """

    async def begin(
        self,
        reference: str,
        now: datetime,
        plan: Callable[[PaymentContext], PaymentPlan],
        key: KeyedRequest[Any] | None = None,
    ) -> PaymentPlan:
        """Start paying in one transaction: read the :class:`PaymentContext` of the booking
        ``reference`` (its row locked against other payments where the database can, ``key``'s
        stored record when given), ask ``plan`` (no I/O; it may run again if the database asks
        for a retry), and start its payment as :meth:`start` does; with ``key``, store the key
        as running until ``key.lease_until`` (replacing a record ``plan`` ran past). A plan
        without a payment writes nothing. Returns the plan.

        :raises PaymentInProgress: another payment's lease on the booking runs.
        :raises InvalidTransition: the booking is no longer held, its deadline passed, or a
            flight of it was cancelled.
        """

    async def record(self, payment: Payment) -> None:
        """Store how far the payment got (its provider reference, a capture), keeping its
        lease: written before the next provider call, so a crash never hides a charge."""

    async def finish(self, payment: Payment, events: Sequence[Event] = ()) -> None:
        """Store the payment's outcome, end its lease on the booking and add ``events`` to
        the outbox, in one transaction."""

    async def refunds_due(self, limit: int) -> Sequence[Payment]:
        """Up to ``limit`` payments whose refund failed and is owed (``refund_pending``)."""

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
        """In one transaction: the booking, held and leased to ``payment``, becomes confirmed
        at ``payment.amount`` (as :meth:`Booking.confirmed_by` makes it); every seat it holds
        becomes sold; ``payment`` is stored; ``events`` go to the outbox; with ``key``,
        ``answer`` is kept as its answer; with ``replan``, the confirmed booking's reminders
        are re-planned on its flights as read after its seats were sold.
        ``False`` changes nothing: the lease was lost, a flight of the booking was cancelled,
        or a seat went to someone else after the deadline."""

    async def for_booking(self, booking_id: str) -> Sequence[Payment]:
        """The booking's payments, oldest first."""


class PaymentGateway(Protocol):
    """A payment provider. ``payment_id`` keys each call: the adapter makes the provider
    treat a repeated call with the same id and step as the same request (Stripe's
    ``Idempotency-Key``), so a retry never charges twice.

    Every method may raise :class:`~airline_core.errors.PaymentGatewayUnavailable` (the
    provider could not be reached or failed; nothing was done that a retry would repeat).
    """

    async def authorize(self, payment_id: str, amount: Money, method: str, description: str) -> str:
        """Reserve ``amount`` on the payment method; the provider's reference of the charge.

        :raises PaymentDeclined: the provider refused the method (``code`` says why).
        :raises InvalidRequest: the method is unknown to the provider.
        """

    async def capture(self, payment_id: str, reference: str, amount: Money) -> None:
        """Take the authorized ``amount``."""

    async def void(self, payment_id: str, reference: str) -> None:
        """Release an authorization that will not be captured."""

    async def refund(self, payment_id: str, reference: str, amount: Money) -> None:
        """Give back ``amount`` of a captured charge."""


class IdempotencyStore(Protocol):
    """Idempotency keys per user (:mod:`airline_core.idempotency`). Every method is atomic."""

    async def claim(
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
        lease_until: datetime,
    ) -> KeyClaim:
        """Claim ``key`` for a request with ``fingerprint``.

        No live key (none, or one past its ``expires_at``): store it as running until
        ``lease_until`` and answer NEW. The key with another fingerprint: OTHER_REQUEST. With
        the same fingerprint: DONE and the kept answer; RUNNING while its lease runs; after
        the lease lapsed, NEW for exactly one of several concurrent claims (the lease moves to
        it) and RUNNING for the others.
        """

    async def complete(self, user_id: str, key: str, answer: StoredAnswer) -> None:
        """Keep the answer of the key's request."""

    async def keep(
        self,
        user_id: str,
        key: str,
        fingerprint: str,
        answer: StoredAnswer,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store ``key`` with its ``answer`` until ``expires_at``, unless a live record of it
        is there (one within its retention, answered or with a running lease): that stays."""

    async def release(self, user_id: str, key: str) -> None:
        """Forget the key (its request may run again)."""

    async def purge(self, now: datetime) -> int:
        """Remove the keys past their ``expires_at``; how many went."""


class UserStore(Protocol):
    async def add(self, user: User) -> None:
        """:raises AlreadyExists: a user with that id or (normalized) email exists."""

    async def get(self, user_id: str) -> User:
        """:raises NotFound: no user has that id."""

    async def find_by_email(self, email: str) -> User | None:
        """The user with that normalized email, or ``None``."""

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace a user's stored hash (rehash on login). :raises NotFound: no such user."""

    async def set_role(self, user_id: str, role: Role) -> None:
        """:raises NotFound: no user has that id."""

    async def list(self, window: KeysetWindow) -> Sequence[User]:
        """Users ordered by id (creation)."""


class RefreshTokenStore(Protocol):
    """Refresh tokens, kept as hashes. Every method is atomic."""

    async def add(self, token: RefreshToken) -> None:
        """Store a new, active token."""

    async def use(self, token_hash: str, now: datetime) -> tuple[RefreshUse, RefreshToken | None]:
        """Mark the token used if it is active and unexpired at ``now``: (ROTATED, token).
        A token already used answers (REUSED, token); unknown, expired or revoked answers
        (INVALID, None). Two concurrent uses of one token: exactly one is ROTATED."""

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        """Revoke every token of the family, so none of them can be used again."""


class PasswordHasher(Protocol):
    """Hashes passwords off the event loop (hashing is deliberately slow)."""

    async def hash(self, password: str) -> str:
        """An encoded hash carrying its own salt and parameters."""

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches; ``False`` for a malformed hash, never an error."""

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""


class AccessTokens(Protocol):
    """Short-lived bearer tokens that say who a request acts as."""

    def issue(self, principal: Principal, now: datetime) -> tuple[str, int]:
        """A token for ``principal`` and its lifetime in seconds."""

    def verify(self, token: str) -> Principal:
        """:raises NotAuthenticated: the token is malformed, forged, expired or not for us."""


class OutboxStore(Protocol):
    """Events waiting to be published (:mod:`airline_core.events`). The stores that change
    bookings and flights add their events in the same transaction as the change; this port is
    the relay's side: claim a batch, publish it, then drop what the broker confirmed.

    Several relays may run at once: a claim is a lease, so each event is with one relay at a
    time, and a relay that dies mid-batch loses its lease, not the events. An event may go out
    twice (a relay that published and died before :meth:`sent`): consumers deduplicate by the
    event id. Events are claimed oldest first; two relays may publish their batches
    interleaved, so consumers must not rely on order across events.
    """

    async def add(self, events: Sequence[EncodedEvent], now: datetime) -> None:
        """Store events on their own (the stores that change state add theirs in their own
        transactions); they are pending and claimable at once."""

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[ClaimedEvent]:
        """Up to ``limit`` pending events, oldest first, that are due (``now`` at or past their
        next attempt) and claimed by no lease running at ``now``; each is then ``owner``'s until
        ``now + lease``. A claim that lapses unanswered (a relay died, or the broker was
        unreachable) counts as no failure."""

    async def sent(self, owner: str, event_ids: Sequence[str]) -> int:
        """Drop the events the broker confirmed, of those ``owner`` still has claimed; how many
        were dropped (an event whose lease lapsed and that another relay claimed is left to
        it)."""

    async def release(self, owner: str, event_ids: Sequence[str]) -> int:
        """Let go of ``owner``'s claims on ``event_ids`` without counting a failure: their fate
        is unknown (the broker went before it confirmed them, or before they were published),
        so any relay may claim them again at once instead of when the lease lapses; how many
        were released."""

    async def retry(
        self, owner: str, event_id: str, error: str, next_attempt: datetime | None
    ) -> None:
        """Publishing ``event_id`` failed: let go of its claim, count the failure, keep
        ``error``, and try again at ``next_attempt``; ``None`` gives up: the event is failed,
        kept for an operator, and never claimed again until :meth:`requeue`."""

    async def requeue(self, now: datetime) -> int:
        """Make every failed event pending again, due at ``now`` with no failures counted; how
        many."""

    async def status(self) -> OutboxStatus:
        """Counts of pending and failed events, and the oldest pending event's instant."""


class Notifier(Protocol):
    """Sends email, SMS or both (``channels``) through one provider."""

    channels: frozenset[Channel]

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        """Send ``message``; the provider's id for it. ``message.key`` is the same for every
        attempt of one notice: a notifier that can pass it on as an idempotency key or message
        id does.

        :raises DeliveryFailed: with ``permanent`` when the provider refused the message for
            good, without when it may go through later.
        """


class InboxStore(Protocol):
    """A consumer's memory of the messages it handled and the notices it sent, so that a
    redelivered message is absorbed and a partly handled one finishes without repeats. Both
    methods take a batch: a consumer handling many messages at once reads and writes for all
    of them in one go."""

    async def progress(self, consumer: str, message_ids: Sequence[str]) -> dict[str, InboxProgress]:
        """For each message: whether ``consumer`` finished with it, and the keys of its notices
        that were sent (one read for all)."""

    async def settle(self, consumer: str, settled: Sequence[Settlement], now: datetime) -> None:
        """Store what became of the notices of each message (a record replaces an earlier one
        of its key) and which messages ``consumer`` finished, all in one transaction. A message
        finished before stays finished."""

    async def records(self, message_id: str | None = None, limit: int = 100) -> list[NoticeRecord]:
        """The latest records, newest first; only the message's with ``message_id``."""

    async def forget(self, before: datetime) -> int:
        """Drop what was finished before ``before`` (messages are not redelivered after
        days); how many messages were dropped."""


class ReminderStore(Protocol):
    """Planned reminders (:mod:`airline_core.reminders`). The booking, payment and flight
    stores write a booking's reminders in the transaction of the change (a hold plans its
    payment deadline, a payment re-plans, a cancellation or expiry cancels, a flight's new time
    re-plans); this port is the sweep's side and the lists'.

    Several sweeps may run at once: a claim is a lease, and :meth:`settle` sends a reminder only
    if it is still planned and still the settling sweep's, in the same transaction as its event
    goes to the outbox, so a reminder is sent once however many sweeps claim it.
    """

    async def add(self, reminders: Sequence[Reminder]) -> None:
        """Store new reminders (bulk loads and tests; changes write their own)."""

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[DueReminder]:
        """Up to ``limit`` planned reminders due at ``now`` (``due_at`` at or before it) that no
        lease running at ``now`` holds, soonest first, each with its booking and flights; each is
        then ``owner``'s until ``now + lease`` and counts one more attempt."""

    async def settle(
        self,
        owner: str,
        now: datetime,
        sent: Sequence[Event],
        skipped: Sequence[tuple[str, str]] = (),
    ) -> int:
        """In one transaction: for each ReminderDue of ``sent`` whose reminder is still planned
        and claimed by ``owner``, add the event to the outbox and mark the reminder sent; mark
        ``skipped`` (reminder id, reason) skipped likewise. How many were sent (a reminder whose
        lease lapsed and that another sweep took is left to it)."""

    async def for_booking(self, booking_id: str) -> Sequence[Reminder]:
        """The booking's reminders, soonest first (cancelled ones too)."""

    async def find(self, query: ReminderQuery) -> Sequence[Reminder]:
        """Reminders matching ``query``, soonest first, at most ``query.limit``."""
