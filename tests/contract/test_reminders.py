"""Reminders on every backend: planned in the transaction of each booking change (a hold's
payment deadline, a payment's check-in and boarding passes, a cancellation or expiry cancelling
them, a flight's new time re-planning them), listed, and sent once by sweeps: a claim is a
lease, a reminder is marked sent with its event in the outbox, and several sweeps at once never
send one twice."""

from __future__ import annotations

from datetime import timedelta

import anyio
import anyio.lowlevel
import pytest

from airline_core import Principal
from airline_core.events import ReminderDue, decode
from airline_core.ids import new_id
from airline_core.reminders import (
    Reminder,
    ReminderKind,
    ReminderQuery,
    ReminderStatus,
    SweepReport,
)
from tests.conftest import TEST_NOW, Stores
from tests.contract.test_booking import DEPARTURE, customer, party, scheduled

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=60)
PLANNED, SENT = ReminderStatus.PLANNED, ReminderStatus.SENT


async def held(stores: Stores, who: Principal) -> str:
    airline = stores.airline
    flight = (await airline.flights.list()).items[0]
    offer = await airline.offer(who.user_id, [flight.id], "economy", 2)
    return (await airline.hold(who, offer.id, party(2))).reference


async def paid(stores: Stores, who: Principal) -> str:
    reference = await held(stores, who)
    booking = await stores.bookings.get(reference)
    await stores.airline.pay(who, reference, booking.total, "pm_card_visa")
    return reference


async def reminders_of(stores: Stores, reference: str) -> list[Reminder]:
    booking = await stores.bookings.get(reference)
    return list(await stores.reminders.for_booking(booking.id))


def kinds(reminders: list[Reminder], status: ReminderStatus = PLANNED) -> list[ReminderKind]:
    return [reminder.kind for reminder in reminders if reminder.status is status]


async def reminder_events(stores: Stores) -> list[ReminderDue]:
    claimed = await stores.outbox.claim("test", stores.clock.now(), LEASE, 10_000)
    await stores.outbox.sent("test", [entry.event.id for entry in claimed])
    return [
        event
        for event in (decode(entry.event) for entry in claimed)
        if isinstance(event, ReminderDue)
    ]


async def test_a_hold_plans_its_payment_deadline_and_a_payment_replaces_it(
    stores: Stores,
) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    reference = await held(stores, ann)
    booking = await stores.bookings.get(reference)
    [deadline] = await reminders_of(stores, reference)
    assert deadline.kind is ReminderKind.PAYMENT_DEADLINE
    assert deadline.due_at == booking.payment_required_by - timedelta(minutes=10)
    assert deadline.expires_at == booking.payment_required_by - timedelta(minutes=1)
    assert (deadline.reference, deadline.flight_id, deadline.status) == (reference, None, PLANNED)

    await stores.airline.pay(ann, reference, booking.total, "pm_card_visa")
    after = await reminders_of(stores, reference)
    assert kinds(after, ReminderStatus.CANCELLED) == [ReminderKind.PAYMENT_DEADLINE]
    planned = [r for r in after if r.status is PLANNED]
    assert [(r.kind, r.due_at) for r in planned] == [
        (ReminderKind.CHECK_IN, DEPARTURE - timedelta(hours=48)),
        (ReminderKind.BOARDING_PASS, DEPARTURE - timedelta(hours=3)),
    ]
    assert {r.flight_id for r in planned} == set(booking.flight_ids)


async def test_cancelling_or_expiring_a_booking_cancels_its_reminders(stores: Stores) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    confirmed = await paid(stores, ann)
    await stores.airline.cancel(confirmed, ann)
    assert kinds(await reminders_of(stores, confirmed)) == []

    lapsing = await held(stores, ann)
    stores.clock.advance(minutes=31)
    assert await stores.airline.bookings.expire_due() == 1
    [deadline] = await reminders_of(stores, lapsing)
    assert deadline.status is ReminderStatus.CANCELLED
    assert deadline.note == "the booking was expired"


async def test_a_new_flight_time_replans_and_notifies_each_booking_on_it(stores: Stores) -> None:
    flight = await scheduled(stores)
    ann = await customer(stores.airline)
    confirmed = await paid(stores, ann)
    holding = await held(stores, ann)
    before = {r.kind: r for r in await reminders_of(stores, confirmed) if r.status is PLANNED}

    later = flight.departs_at + timedelta(hours=5)
    await stores.airline.flights.update(
        flight.id, departs_at=later, arrives_at=flight.arrives_at + timedelta(hours=5)
    )
    after = await reminders_of(stores, confirmed)
    planned = {r.kind: r for r in after if r.status is PLANNED}
    assert planned[ReminderKind.CHECK_IN].due_at == later - timedelta(hours=48)
    assert planned[ReminderKind.BOARDING_PASS].due_at == later - timedelta(hours=3)
    assert planned[ReminderKind.FLIGHT_CHANGED].due_at == stores.clock.now()
    cancelled = {r.id for r in after if r.status is ReminderStatus.CANCELLED}
    assert {before[ReminderKind.CHECK_IN].id, before[ReminderKind.BOARDING_PASS].id} <= cancelled
    # The hold keeps its payment deadline and hears of the change too.
    assert sorted(kinds(await reminders_of(stores, holding))) == sorted(
        [ReminderKind.PAYMENT_DEADLINE, ReminderKind.FLIGHT_CHANGED]
    )
    # A new fare is the airline's business: nothing is re-planned.
    await stores.airline.flights.update(flight.id, fares=dict(flight.fares))
    assert len(await reminders_of(stores, confirmed)) == len(after)


async def test_a_cancelled_flight_cancels_its_reminders_and_says_so(stores: Stores) -> None:
    flight = await scheduled(stores)
    ann = await customer(stores.airline)
    confirmed = await paid(stores, ann)
    await stores.airline.flights.update(flight.id, status="cancelled")
    assert kinds(await reminders_of(stores, confirmed)) == [ReminderKind.FLIGHT_CHANGED]


async def test_a_sweep_sends_what_is_due_once_with_its_event_in_the_outbox(
    stores: Stores,
) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    reference = await paid(stores, ann)
    await reminder_events(stores)  # the booking's own events
    reminders = stores.airline.reminders
    assert await reminders.sweep() == SweepReport()  # nothing is due yet

    stores.clock.set(DEPARTURE - timedelta(hours=47))
    assert await reminders.sweep() == SweepReport(sent=1)
    assert await reminders.sweep() == SweepReport()
    [event] = await reminder_events(stores)
    check_in = next(r for r in await reminders_of(stores, reference) if r.status is SENT)
    assert (event.id, event.reminder_id, event.kind) == (check_in.id, check_in.id, "check_in")
    assert event.booking == await stores.bookings.get(reference)
    assert (event.due_at, event.flight_id) == (check_in.due_at, check_in.flight_id)
    assert check_in.settled_at == stores.clock.now()

    # Down past the boarding pass's usefulness: it is skipped with the reason, never sent late.
    stores.clock.set(DEPARTURE - timedelta(minutes=20))
    assert await reminders.sweep() == SweepReport(skipped=1)
    boarding = next(
        r for r in await reminders_of(stores, reference) if r.kind is ReminderKind.BOARDING_PASS
    )
    assert boarding.status is ReminderStatus.SKIPPED
    assert boarding.note is not None
    assert boarding.note.startswith("too late")
    assert await reminder_events(stores) == []


async def test_a_claim_is_a_lease_and_only_its_holder_settles(stores: Stores) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    await held(stores, ann)
    now = TEST_NOW + timedelta(minutes=25)
    [due] = await stores.reminders.claim("a", now, LEASE, 10)
    assert (due.reminder.claimed_by, due.reminder.attempts) == ("a", 1)
    assert due.booking is not None
    assert due.booking.id == due.reminder.booking_id
    assert await stores.reminders.claim("b", now, LEASE, 10) == []
    # The lease lapses: b takes it over, and a's late settling sends nothing.
    [again] = await stores.reminders.claim("b", now + LEASE, LEASE, 10)
    assert again.reminder.attempts == 2
    event = ReminderDue(
        id=due.reminder.id,
        occurred_at=now,
        reminder_id=due.reminder.id,
        kind="payment_deadline",
        booking=due.booking,
        due_at=due.reminder.due_at,
    )
    assert await stores.reminders.settle("a", now, [event]) == 0
    assert await stores.reminders.settle("b", now, [event]) == 1
    assert await stores.reminders.settle("b", now, [event]) == 0


async def test_sweeps_at_once_send_every_reminder_exactly_once(stores: Stores) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    booking = await stores.bookings.get(await paid(stores, ann))
    await reminder_events(stores)
    planned = [
        Reminder(
            id=new_id(),
            booking_id=booking.id,
            reference=booking.reference,
            kind=ReminderKind.BOARDING_PASS,
            flight_id=booking.flight_ids[0],
            due_at=TEST_NOW + timedelta(seconds=n % 50),
            expires_at=DEPARTURE,
            created_at=TEST_NOW,
        )
        for n in range(120)
    ]
    await stores.reminders.add(planned)
    stores.clock.advance(minutes=1)
    reminders = stores.airline.reminders
    reminders.batch = 7
    reports: list[SweepReport] = []

    async def sweep(name: str) -> None:
        reports.append(await reminders.sweep(name))

    async with anyio.create_task_group() as group:
        for name in ("one", "two", "three"):
            group.start_soon(sweep, name)
    assert sum(report.sent for report in reports) == len(planned)
    sent = [event.reminder_id for event in await reminder_events(stores)]
    assert sorted(sent) == sorted(reminder.id for reminder in planned)


async def test_lists_show_upcoming_reminders_soonest_first(stores: Stores) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    confirmed = await paid(stores, ann)
    holding = await held(stores, ann)
    find = stores.airline.reminders.find
    upcoming = await find()
    assert [r.kind for r in upcoming] == [
        ReminderKind.PAYMENT_DEADLINE,
        ReminderKind.CHECK_IN,
        ReminderKind.BOARDING_PASS,
    ]
    assert [r.reference for r in await find(ReminderQuery(reference=holding))] == [holding]
    assert [r.kind for r in await find(ReminderQuery(kind=ReminderKind.CHECK_IN))] == [
        ReminderKind.CHECK_IN
    ]
    soon = await find(ReminderQuery(due_before=TEST_NOW + timedelta(days=1)))
    assert [r.reference for r in soon] == [holding]
    cancelled = await find(ReminderQuery(statuses=frozenset({ReminderStatus.CANCELLED})))
    assert [r.reference for r in cancelled] == [confirmed]
    assert len(await find(ReminderQuery(limit=1))) == 1


async def test_the_itinerary_shows_reminders_but_not_cancelled_ones(stores: Stores) -> None:
    await scheduled(stores)
    ann = await customer(stores.airline)
    reference = await paid(stores, ann)
    view = await stores.airline.itinerary(reference, ann)
    assert [r.kind for r in view.reminders] == [
        ReminderKind.CHECK_IN,
        ReminderKind.BOARDING_PASS,
    ]


async def test_a_deadline_kept_to_the_second_is_not_replanned_for_nothing(
    stores: Stores,
) -> None:
    """MariaDB keeps a hold's deadline in whole seconds and its reminder to the microsecond:
    re-planning on the stored booking must still see the same reminder."""
    flight = await scheduled(stores)
    stores.clock.advance(microseconds=123_456)
    ann = await customer(stores.airline)
    reference = await held(stores, ann)
    later = flight.departs_at + timedelta(hours=1)
    await stores.airline.flights.update(
        flight.id, departs_at=later, arrives_at=flight.arrives_at + timedelta(hours=1)
    )
    after = await reminders_of(stores, reference)
    assert sorted((r.kind, r.status) for r in after) == sorted(
        [(ReminderKind.PAYMENT_DEADLINE, PLANNED), (ReminderKind.FLIGHT_CHANGED, PLANNED)]
    )


async def test_bookings_paid_while_the_flight_moves_end_planned_on_its_final_time(
    stores: Stores,
) -> None:
    """Holds, payments and retimings of one flight at once: no deadlock gets through, and
    every confirmed booking ends with its check-in and boarding pass at the flight's last
    time and nothing planned at an earlier one."""
    flight = await scheduled(stores)
    airline = stores.airline
    travellers = [await customer(airline, f"t{n}") for n in range(8)]
    references: list[str] = []

    async def book(who: Principal) -> None:
        offer = await airline.offer(who.user_id, [flight.id], "economy", 1)
        booking = await airline.hold(who, offer.id, party(1))
        await airline.pay(who, booking.reference, booking.total, "pm_card_visa")
        references.append(booking.reference)

    departs = flight.departs_at

    async def retime() -> None:
        nonlocal departs
        for _ in range(4):
            departs += timedelta(minutes=30)
            await airline.flights.update(
                flight.id, departs_at=departs, arrives_at=departs + timedelta(hours=8)
            )
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for who in travellers:
            group.start_soon(book, who)
        group.start_soon(retime)
    assert len(references) == len(travellers)
    for reference in references:
        planned = {
            r.kind: r.due_at for r in await reminders_of(stores, reference) if r.status is PLANNED
        }
        assert planned[ReminderKind.CHECK_IN] == departs - timedelta(hours=48), reference
        assert planned[ReminderKind.BOARDING_PASS] == departs - timedelta(hours=3), reference
        assert ReminderKind.PAYMENT_DEADLINE not in planned
