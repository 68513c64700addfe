"""A hypothesis state machine drives holds, payments, cancellations, expiry, repricing and the
clock against a simple model, on memory and SQLite stores, and checks after every step:

- seats left per cabin = capacity - seats held or sold (the store's rows);
- no seat belongs to two live bookings (held and unexpired, or confirmed);
- a held booking's total is the offer's total while its price guarantee lasts;
- a booking's state is the model's (held, confirmed, cancelled, expired), and a confirmed
  booking's seats are sold.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from airline_core import Airline, Cabin, CabinLayout, FakeClock, Money, Principal, Role, SeatLayout
from airline_core.booking import BookingStatus, Passenger, SeatChoice, SeatState
from airline_core.errors import AirlineError, HoldLimitReached, PriceChanged, SeatUnavailable
from tests.conftest import FAST_HASHER

T = TypeVar("T")
START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
LAYOUT = SeatLayout(
    cabins=(CabinLayout(cabin=Cabin.ECONOMY, first_row=1, last_row=3, seats="AB-CD"),)
)
CAPACITY = 12
LABELS = [f"{row}{letter}" for row in (1, 2, 3) for letter in "ABCD"]
EXAMPLES = int(os.environ.get("AIRLINE_STATEFUL_EXAMPLES", "25"))


def traveller(n: int) -> Passenger:
    return Passenger(
        given_name=f"P{n}", family_name="Model", born_on=date(1980, 1, 1), email=f"p{n}@example.org"
    )


class BookingMachine(RuleBasedStateMachine):
    """One flight of 12 economy seats; three buyers."""

    references = Bundle("references")
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._portal_cm = start_blocking_portal()
        self.portal: BlockingPortal = self._portal_cm.__enter__()
        self._tmp = TemporaryDirectory()
        self.clock = FakeClock(START)
        self.database: Any = None
        self.airline: Airline = self.run(self._open)
        # The model: reference -> what we expect.
        self.expected: dict[str, dict[str, Any]] = {}
        # Who holds or bought each taken seat row: the last booking that claimed it (a lapsed
        # hold's seat may be claimed again before the sweep marks that hold expired).
        self.owner: dict[str, str] = {}
        self.base = 10_000

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        return self.portal.call(work)

    async def _open(self) -> Airline:
        if self.backend == "memory":
            from airline_core.pricing import DynamicPricing

            self._airline_cm = Airline.in_memory(
                clock=self.clock, password_hasher=FAST_HASHER, pricing=DynamicPricing()
            )
            airline = await self._airline_cm.__aenter__()
        else:
            from airline_runtime.db import create_database, upgrade
            from tests.conftest import _sql_stores

            self.database = create_database(f"sqlite+aiosqlite:///{Path(self._tmp.name) / 'm.db'}")
            await upgrade(self.database)
            stores = _sql_stores("sqlite", self.database)
            stores.clock.set(START)
            self.clock = stores.clock
            from airline_core.pricing import DynamicPricing

            airline = stores.priced_by(DynamicPricing())
        await airline.cities.create(code="LON", name="London", country="GB")
        await airline.cities.create(code="NYC", name="New York", country="US")
        for code, city, country, zone in (
            ("LHR", "LON", "GB", "Europe/London"),
            ("JFK", "NYC", "US", "America/New_York"),
        ):
            await airline.airports.create(
                code=code, name=code, city=city, country=country, time_zone=zone,
                latitude=0.0, longitude=0.0,
            )  # fmt: skip
        plane = await airline.airplanes.create(model="Model", layout=LAYOUT)
        departs = START + timedelta(days=10)
        self.flight = await airline.flights.create(
            number="BA1", airline="BA", airplane_id=plane.id, origin="LHR", destination="JFK",
            departs_at=departs, arrives_at=departs + timedelta(hours=8),
            fares={Cabin.ECONOMY: Money(10_000, "GBP")},
        )  # fmt: skip
        self.buyers = []
        for n in range(3):
            user = await airline.accounts.register(
                email=f"buyer{n}@example.org", password="a long enough passphrase", name=f"B{n}"
            )
            self.buyers.append(Principal(user_id=user.id, role=Role.CUSTOMER))
        return airline

    def teardown(self) -> None:
        async def close() -> None:
            if self.database is not None:
                await self.database.dispose()
            else:
                await self._airline_cm.__aexit__(None, None, None)

        self.run(close)
        self._portal_cm.__exit__(None, None, None)
        self._tmp.cleanup()

    # Steps -----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def live_seats(self) -> set[str]:
        now = self.now()
        seats: set[str] = set()
        for model in self.expected.values():
            if model["status"] == "held" and now < model["deadline"]:
                seats |= set(model["seats"])
            if model["status"] == "confirmed":
                seats |= set(model["seats"])
        return seats

    @rule(
        target=references,
        buyer=st.integers(0, 2),
        size=st.integers(1, 4),
        chosen=st.one_of(st.none(), st.sampled_from(LABELS)),
    )
    def hold(self, buyer: int, size: int, chosen: str | None) -> str:
        who = self.buyers[buyer]

        async def work() -> Any:
            offer = await self.airline.offer(who.user_id, [self.flight.id], "economy", size)
            choice = [] if chosen is None else [
                SeatChoice(flight_id=self.flight.id, passenger=0, seat=chosen)
            ]  # fmt: skip
            return offer, await self.airline.hold(
                who, offer.id, [traveller(n) for n in range(size)], choice
            )

        free = CAPACITY - len(self.live_seats())
        left = self.seats_left()
        held_by_buyer = sum(
            len(m["seats"])
            for m in self.expected.values()
            if m["buyer"] == buyer and m["status"] == "held" and self.now() < m["deadline"]
        )
        try:
            offer, booking = self.run(work)
        except SeatUnavailable:
            # A taken chosen seat, too few free seats, or (the offer reads the count search
            # reads) too few left until the sweep returns lapsed holds' seats.
            taken = chosen is not None and chosen in self.live_seats()
            assert taken or free < size or left < size
            return "none"
        except HoldLimitReached:
            assert held_by_buyer + size > 9
            return "none"
        seats = [s.seat for s in booking.seats]
        assert not set(seats) & self.live_seats(), "a live seat was sold twice"
        if chosen is not None:
            assert chosen in seats
        assert booking.total == offer.total
        for seat in seats:
            self.owner[seat] = booking.reference
        self.expected[booking.reference] = {
            "status": "held",
            "buyer": buyer,
            "seats": seats,
            "total": booking.total,
            "deadline": booking.payment_required_by,
            "guarantee": booking.price_guarantee_expires_at,
        }
        return booking.reference

    @rule(reference=references, method=st.sampled_from(["pm_card_visa", "pm_card_chargeDeclined"]))
    def pay(self, reference: str, method: str) -> None:
        model = self.expected.get(reference)
        if model is None:
            return
        who = self.buyers[model["buyer"]]

        async def work() -> Any:
            booking = await self.airline.bookings.get(reference, who)
            model["current"] = await self.airline.payments.current_total(booking)
            try:
                return await self.airline.pay(who, reference, booking.total, method)
            except PriceChanged as moved:
                return await self.airline.pay(
                    who, reference, moved.extensions["new_total"], method, accept_new_total=True
                )

        now = self.now()
        payable = model["status"] == "held" and now < model["deadline"]
        try:
            booking, _ = self.run(work)
        except AirlineError:
            assert not payable or method != "pm_card_visa"
            return
        assert payable
        assert method == "pm_card_visa"
        if now < model["guarantee"]:
            assert booking.total == model["total"]
        else:
            # After the guarantee the booking is repriced at the price of the moment.
            assert booking.total == model["current"]
        model["status"] = "confirmed"

    @rule(reference=references)
    def cancel(self, reference: str) -> None:
        model = self.expected.get(reference)
        if model is None:
            return
        who = self.buyers[model["buyer"]]
        live = (model["status"] == "held" and self.now() < model["deadline"]) or model[
            "status"
        ] == "confirmed"
        try:
            self.run(lambda: self.airline.cancel(reference, who))
        except AirlineError:
            assert not live
            return
        assert live
        model["status"] = "cancelled"
        self.release(reference)

    def release(self, reference: str) -> None:
        for seat in [s for s, owner in self.owner.items() if owner == reference]:
            del self.owner[seat]

    # Steps that land before the guarantee ends, between it and the deadline, and after.
    @rule(minutes=st.sampled_from([1, 4, 9, 16, 24, 31]))
    def clock_moves(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule()
    def sweep(self) -> None:
        expired = self.run(self.airline.bookings.expire_due)
        now = self.now()
        due = [m for m in self.expected.values() if m["status"] == "held" and now >= m["deadline"]]
        assert expired == len(due)
        for reference, model in self.expected.items():
            if model in due:
                model["status"] = "expired"
                self.release(reference)

    @rule(percent=st.sampled_from([50, 100, 150, 300]))
    def reprice(self, percent: int) -> None:
        fares = {Cabin.ECONOMY: Money(self.base * percent // 100, "GBP")}
        self.run(lambda: self.airline.flights.update(self.flight.id, fares=fares))

    # Invariants ------------------------------------------------------------------------------

    def seats_left(self) -> int:
        async def read() -> int:
            _, cabins = await self.airline.seat_maps.inventory.seats(self.flight.id)
            return cabins[Cabin.ECONOMY].left

        return self.run(read)

    @invariant()
    def seats_add_up(self) -> None:
        async def read() -> Any:
            inventory = self.airline.seat_maps.inventory
            _, cabins = await inventory.seats(self.flight.id)
            seat_map = await self.airline.seat_map(self.flight.id, "economy")
            return cabins[Cabin.ECONOMY], seat_map

        (left, capacity), seat_map = self.run(read)
        assert capacity == CAPACITY
        # Seats left = capacity - seat rows held (lapsed holds too, until the sweep) or sold.
        assert CAPACITY - left == len(self.owner)
        taken = {e.seat for e in seat_map.seats if e.state is not SeatState.AVAILABLE}
        assert taken == self.live_seats()
        sold = {e.seat for e in seat_map.seats if e.state is SeatState.SOLD}
        confirmed = {
            s for m in self.expected.values() if m["status"] == "confirmed" for s in m["seats"]
        }
        assert sold == confirmed

    @invariant()
    def states_match_the_model(self) -> None:
        async def read() -> list[Any]:
            store = self.airline.bookings.bookings
            return [await store.get(reference) for reference in self.expected]

        now = self.now()
        for booking in self.run(read):
            model = self.expected[booking.reference]
            assert booking.status_at(now).value == (
                "expired"
                if model["status"] == "held" and now >= model["deadline"]
                else model["status"]
            )
            if booking.status is BookingStatus.HELD and now < booking.price_guarantee_expires_at:
                assert booking.total == model["total"]


class SQLiteBookingMachine(BookingMachine):
    backend = "sqlite"


_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookingModelInMemory = BookingMachine.TestCase
TestBookingModelInMemory.settings = _SETTINGS
TestBookingModelOnSQLite = SQLiteBookingMachine.TestCase
TestBookingModelOnSQLite.settings = _SETTINGS
