"""Reminders: the pure planning rules over many schedules, and the service on memory stores.

The planning rules (``plan``, ``replan``, ``flight_change_notice``, ``why_not_send``,
``dispatch``) are checked against what docs and docstrings state, with a fake clock: which
reminders a booking gets, when they are due (48 real hours before departure, across changes of
the departure zone's clocks), the late rule (a reminder whose moment passed is planned only while
still of use), re-planning after a payment or a flight's new time, and why a due reminder is not
sent. A reference model checked by hypothesis covers random itineraries. The service is then
driven end to end through :class:`Airline.in_memory`: hold, pay, sweep, cancel, retime a flight,
a clock far behind and a scheduler that was down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from attrs import define
from hypothesis import given, settings
from hypothesis import strategies as st

from airline_core import (
    Airline,
    Airplane,
    Booking,
    BookingStatus,
    Cabin,
    FakeClock,
    Flight,
    FlightStatus,
    Money,
    Passenger,
    Principal,
    Role,
    SeatChoice,
)
from airline_core.booking.model import new_locator
from airline_core.events import ReminderDue, decode
from airline_core.identity import ScryptPasswordHasher
from airline_core.ids import new_id
from airline_core.reminders import (
    DueReminder,
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderKind,
    ReminderQuery,
    ReminderRules,
    ReminderStatus,
    SweepReport,
    dispatch,
    flight_change_notice,
    plan,
    replan,
    why_not_send,
)
from tests.core.samples import (
    ECONOMY_ONLY,
    NOW,
    add_airplane,
    add_airports,
    flight,
    schedule,
)

pytestmark = pytest.mark.anyio

RULES = ReminderRules()
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
ANN = Passenger(
    given_name="Ann",
    family_name="Traveller",
    born_on=date(1990, 5, 17),
    email="ann@example.org",
)

CHECK_IN = ReminderKind.CHECK_IN
BOARDING = ReminderKind.BOARDING_PASS
PAYMENT = ReminderKind.PAYMENT_DEADLINE
CHANGED = ReminderKind.FLIGHT_CHANGED


# --- pure helpers ----------------------------------------------------------------------------


def booking_for(
    *flights: Flight,
    status: BookingStatus = BookingStatus.HELD,
    at: datetime = NOW,
    window: timedelta = timedelta(minutes=30),
) -> Booking:
    """A booking of one passenger on ``flights``, made at ``at``, unpaid until ``at + window``."""
    return Booking(
        id=new_id(),
        reference=new_locator(),
        user_id=new_id(),
        offer_id=new_id(),
        status=status,
        flight_ids=tuple(leg.id for leg in flights),
        cabin=Cabin.ECONOMY,
        passengers=(ANN,),
        seats=tuple(SeatChoice(flight_id=leg.id, passenger=0, seat="12A") for leg in flights),
        total=Money(45_000, "GBP"),
        created_at=at,
        price_guarantee_expires_at=at + min(window, timedelta(minutes=15)),
        payment_required_by=at + window,
        updated_at=at,
    )


def confirmed_on(*flights: Flight, at: datetime = NOW) -> Booking:
    return booking_for(*flights, status=BookingStatus.CONFIRMED, at=at)


def by_id(*flights: Flight) -> dict[str, Flight]:
    return {leg.id: leg for leg in flights}


def leg_after(first: Flight, gap: timedelta, **changes: object) -> Flight:
    """A connection from ``first``'s destination, leaving ``gap`` after it lands."""
    departs_at = first.arrives_at + gap
    values: dict[str, object] = {
        "number": "BA178",
        "origin": "JFK",
        "destination": "CDG",
        "origin_time_zone": "America/New_York",
        "destination_time_zone": "Europe/Paris",
        "departs_at": departs_at,
        "arrives_at": departs_at + timedelta(hours=7),
    }
    return flight(**{**values, **changes})


def kinds(reminders: Sequence[Reminder]) -> list[tuple[ReminderKind, str | None]]:
    return [reminder.slot for reminder in reminders]


def only(reminders: Sequence[Reminder], kind: ReminderKind) -> Reminder:
    (found,) = [reminder for reminder in reminders if reminder.kind is kind]
    return found


def sent(reminder: Reminder, at: datetime) -> Reminder:
    return attrs.evolve(reminder, status=ReminderStatus.SENT, settled_at=at)


def cancelled(reminder: Reminder, at: datetime) -> Reminder:
    return attrs.evolve(reminder, status=ReminderStatus.CANCELLED, settled_at=at)


# --- 1. plan() -------------------------------------------------------------------------------


def test_a_hold_gets_only_its_payment_deadline() -> None:
    leg = flight()
    held = booking_for(leg)

    planned = plan(held, by_id(leg), NOW, RULES)

    assert len(planned) == 1
    (reminder,) = planned
    assert reminder.kind is PAYMENT
    assert reminder.flight_id is None
    assert reminder.due_at == held.payment_required_by - timedelta(minutes=10)
    assert reminder.expires_at == held.payment_required_by - MINUTE
    assert reminder.booking_id == held.id
    assert reminder.reference == held.reference
    assert reminder.status is ReminderStatus.PLANNED
    assert reminder.created_at == NOW
    assert reminder.attempts == 0


def test_a_confirmed_booking_of_one_flight_gets_check_in_and_boarding_pass() -> None:
    leg = flight()
    booking = confirmed_on(leg)

    planned = plan(booking, by_id(leg), NOW, RULES)

    assert kinds(planned) == [(CHECK_IN, leg.id), (BOARDING, leg.id)]
    check_in, boarding = planned
    assert check_in.due_at == leg.departs_at - timedelta(hours=48)
    assert check_in.expires_at == leg.departs_at - HOUR
    assert boarding.due_at == leg.departs_at - timedelta(hours=3)
    assert boarding.expires_at == leg.departs_at - timedelta(minutes=30)
    assert len({reminder.id for reminder in planned}) == 2


def test_two_flights_of_one_airline_get_one_check_in_and_two_boarding_passes() -> None:
    first = flight()
    second = leg_after(first, timedelta(hours=2))
    booking = confirmed_on(first, second)

    planned = plan(booking, by_id(first, second), NOW, RULES)

    assert kinds(planned) == [(CHECK_IN, first.id), (BOARDING, first.id), (BOARDING, second.id)]
    assert only(planned, CHECK_IN).due_at == first.departs_at - timedelta(hours=48)
    assert [r.due_at for r in planned if r.kind is BOARDING] == [
        first.departs_at - timedelta(hours=3),
        second.departs_at - timedelta(hours=3),
    ]


def test_two_airlines_get_a_check_in_each_before_their_own_first_flight() -> None:
    first = flight()
    second = leg_after(first, timedelta(hours=2), number="AA100", airline="AA")
    booking = confirmed_on(first, second)

    planned = plan(booking, by_id(first, second), NOW, RULES)

    check_ins = [r for r in planned if r.kind is CHECK_IN]
    assert [(r.flight_id, r.due_at) for r in check_ins] == [
        (first.id, first.departs_at - timedelta(hours=48)),
        (second.id, second.departs_at - timedelta(hours=48)),
    ]
    assert sum(r.kind is BOARDING for r in planned) == 2


def test_an_airline_can_open_check_in_at_its_own_time() -> None:
    rules = ReminderRules(check_in_by_airline={"ba": timedelta(hours=24)})
    first = flight()
    second = leg_after(first, timedelta(hours=2), number="AA100", airline="AA")

    planned = plan(confirmed_on(first, second), by_id(first, second), NOW, rules)

    by_flight = {r.flight_id: r for r in planned if r.kind is CHECK_IN}
    assert by_flight[first.id].due_at == first.departs_at - timedelta(hours=24)
    assert by_flight[first.id].expires_at == first.departs_at - HOUR
    assert by_flight[second.id].due_at == second.departs_at - timedelta(hours=48)


def test_a_cancelled_flight_gets_no_reminders_and_check_in_moves_to_the_next_one() -> None:
    first = flight(status=FlightStatus.CANCELLED)
    second = leg_after(first, timedelta(hours=2))

    planned = plan(confirmed_on(first, second), by_id(first, second), NOW, RULES)

    assert kinds(planned) == [(CHECK_IN, second.id), (BOARDING, second.id)]


def test_a_missing_flight_gets_no_reminders() -> None:
    first = flight()
    second = leg_after(first, timedelta(hours=2))

    planned = plan(confirmed_on(first, second), by_id(second), NOW, RULES)

    assert kinds(planned) == [(CHECK_IN, second.id), (BOARDING, second.id)]


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.EXPIRED])
def test_a_cancelled_or_expired_booking_gets_none(status: BookingStatus) -> None:
    leg = flight()
    assert plan(booking_for(leg, status=status), by_id(leg), NOW, RULES) == []


def test_a_hold_past_its_deadline_is_expired_and_gets_none() -> None:
    leg = flight()
    held = booking_for(leg)
    assert plan(held, by_id(leg), held.payment_required_by, RULES) == []


def test_reminders_come_soonest_first() -> None:
    first = flight(departs_at=NOW + timedelta(days=3))
    second = leg_after(first, timedelta(hours=5), number="AA100", airline="AA")
    third = leg_after(
        second,
        timedelta(hours=1),
        number="BA99",
        origin="CDG",
        destination="LHR",
        origin_time_zone="Europe/Paris",
        destination_time_zone="Europe/London",
    )

    planned = plan(confirmed_on(first, second, third), by_id(first, second, third), NOW, RULES)

    assert len(planned) == 5  # BA and AA check-in, three boarding passes
    dues = [r.due_at for r in planned]
    assert dues == sorted(dues)
    assert planned[0].slot == (CHECK_IN, first.id)


# --- 2. the late rule ------------------------------------------------------------------------


def test_booked_40_hours_before_departure_check_in_is_planned_in_the_past() -> None:
    leg = flight()
    clock = FakeClock(leg.departs_at - timedelta(hours=40))

    planned = plan(confirmed_on(leg, at=clock.now()), by_id(leg), clock.now(), RULES)

    check_in = only(planned, CHECK_IN)
    assert check_in.due_at < clock.now()  # the next sweep sends it
    assert check_in.expires_at > clock.now()
    assert only(planned, BOARDING).due_at > clock.now()


def test_booked_an_hour_before_departure_gets_a_boarding_pass_but_no_check_in() -> None:
    leg = flight()
    clock = FakeClock(leg.departs_at - HOUR)

    planned = plan(confirmed_on(leg, at=clock.now()), by_id(leg), clock.now(), RULES)

    assert kinds(planned) == [(BOARDING, leg.id)]
    assert planned[0].due_at < clock.now() < planned[0].expires_at


def test_check_in_is_planned_until_the_second_it_closes() -> None:
    leg = flight()
    clock = FakeClock(leg.departs_at - HOUR - timedelta(seconds=1))

    planned = plan(confirmed_on(leg, at=clock.now()), by_id(leg), clock.now(), RULES)

    assert kinds(planned) == [(CHECK_IN, leg.id), (BOARDING, leg.id)]


def test_booked_20_minutes_before_departure_gets_nothing() -> None:
    leg = flight()
    clock = FakeClock(leg.departs_at - timedelta(minutes=20))

    assert plan(confirmed_on(leg, at=clock.now()), by_id(leg), clock.now(), RULES) == []


def test_a_five_minute_hold_still_gets_its_payment_reminder_at_once() -> None:
    leg = flight()
    held = booking_for(leg, window=timedelta(minutes=5))

    (reminder,) = plan(held, by_id(leg), NOW, RULES)

    assert reminder.kind is PAYMENT
    assert reminder.due_at == NOW - timedelta(minutes=5)  # in the past: the next sweep
    assert reminder.expires_at == NOW + timedelta(minutes=4)


def test_a_hold_with_30_seconds_left_gets_no_payment_reminder() -> None:
    leg = flight()
    clock = FakeClock(NOW)
    held = booking_for(leg)
    clock.set(held.payment_required_by - timedelta(seconds=30))

    assert plan(held, by_id(leg), clock.now(), RULES) == []


# --- 3. daylight saving ----------------------------------------------------------------------


def local_time(instant: datetime, zone: str) -> str:
    """As the notification templates show an instant: ``Fri 29 Mar 2030 07:00 GMT``."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M %Z")


def wall_clock_gap(later: datetime, earlier: datetime, zone: str) -> timedelta:
    """How far apart two instants look on the zone's clocks."""
    tz = ZoneInfo(zone)
    return later.astimezone(tz).replace(tzinfo=None) - earlier.astimezone(tz).replace(tzinfo=None)


def utc_offset(instant: datetime, zone: str) -> timedelta:
    offset = instant.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return offset


def departing(local: datetime, zone: str, origin: str) -> Flight:
    """A flight from ``origin`` in ``zone`` at ``local`` (a wall-clock time there, or aware)."""
    departs_at = local if local.tzinfo is not None else local.replace(tzinfo=ZoneInfo(zone))
    return flight(
        origin=origin,
        destination="CDG",
        origin_time_zone=zone,
        destination_time_zone="Europe/Paris",
        departs_at=departs_at,
        arrives_at=departs_at + timedelta(hours=8),
    )


@pytest.mark.parametrize(
    ("zone", "origin", "local", "departure_shown", "check_in_shown", "wall_gap"),
    [
        # Spring forward: the clocks lose an hour between reminder and departure.
        (
            "Europe/London",
            "LHR",
            datetime(2030, 3, 31, 8, 0),  # noqa: DTZ001 - a wall-clock time
            "Sun 31 Mar 2030 08:00 BST",
            "Fri 29 Mar 2030 07:00 GMT",
            timedelta(hours=49),
        ),
        # Fall back: the clocks gain an hour.
        (
            "Europe/London",
            "LHR",
            datetime(2030, 10, 27, 8, 0),  # noqa: DTZ001 - a wall-clock time
            "Sun 27 Oct 2030 08:00 GMT",
            "Fri 25 Oct 2030 09:00 BST",
            timedelta(hours=47),
        ),
        (
            "America/New_York",
            "JFK",
            datetime(2030, 3, 10, 8, 0),  # noqa: DTZ001 - a wall-clock time
            "Sun 10 Mar 2030 08:00 EDT",
            "Fri 08 Mar 2030 07:00 EST",
            timedelta(hours=49),
        ),
        (
            "America/New_York",
            "JFK",
            datetime(2030, 11, 3, 8, 0),  # noqa: DTZ001 - a wall-clock time
            "Sun 03 Nov 2030 08:00 EST",
            "Fri 01 Nov 2030 09:00 EDT",
            timedelta(hours=47),
        ),
    ],
)
def test_check_in_is_48_real_hours_before_a_departure_after_a_clock_change(
    zone: str,
    origin: str,
    local: datetime,
    departure_shown: str,
    check_in_shown: str,
    wall_gap: timedelta,
) -> None:
    leg = departing(local, zone, origin)

    check_in = only(plan(confirmed_on(leg), by_id(leg), NOW, RULES), CHECK_IN)

    assert check_in.due_at.utcoffset() == timedelta(0)
    assert leg.departs_at - check_in.due_at == timedelta(hours=48)
    assert local_time(leg.departs_at, zone) == departure_shown
    assert local_time(check_in.due_at, zone) == check_in_shown
    assert wall_clock_gap(leg.departs_at, check_in.due_at, zone) == wall_gap


@pytest.mark.parametrize(
    ("local", "boarding_shown", "wall_gap"),
    [
        # 03:30 BST on the night the clocks go forward at 01:00 GMT.
        (
            datetime(2030, 3, 31, 3, 30),  # noqa: DTZ001 - a wall-clock time
            "Sat 30 Mar 2030 23:30 GMT",
            timedelta(hours=4),
        ),
        # 02:30 GMT on the night the clocks go back at 02:00 BST.
        (
            datetime(2030, 10, 27, 2, 30),  # noqa: DTZ001 - a wall-clock time
            "Sun 27 Oct 2030 00:30 BST",
            timedelta(hours=2),
        ),
    ],
)
def test_the_boarding_pass_is_3_real_hours_before_across_the_night_of_the_change(
    local: datetime, boarding_shown: str, wall_gap: timedelta
) -> None:
    leg = departing(local, "Europe/London", "LHR")

    boarding = only(plan(confirmed_on(leg), by_id(leg), NOW, RULES), BOARDING)

    assert leg.departs_at - boarding.due_at == timedelta(hours=3)
    assert local_time(boarding.due_at, "Europe/London") == boarding_shown
    assert wall_clock_gap(leg.departs_at, boarding.due_at, "Europe/London") == wall_gap


DST_ZONES = {
    "Europe/London": "LHR",
    "America/New_York": "JFK",
    "Australia/Sydney": "SYD",
    "Europe/Berlin": "BER",
    "America/Sao_Paulo": "GRU",
    "Asia/Tokyo": "NRT",
}


@settings(max_examples=300)
@given(
    local=st.datetimes(
        min_value=datetime(2030, 1, 1),  # noqa: DTZ001 - hypothesis attaches the zone
        max_value=datetime(2032, 12, 31, 23, 59),  # noqa: DTZ001
        timezones=st.sampled_from([ZoneInfo(zone) for zone in DST_ZONES]),
        allow_imaginary=False,
    )
)
def test_reminders_are_real_hours_before_departure_in_every_zone(local: datetime) -> None:
    assert isinstance(local.tzinfo, ZoneInfo)
    zone = local.tzinfo.key
    leg = departing(local, zone, DST_ZONES[zone])
    now = leg.departs_at - timedelta(days=30)

    planned = plan(confirmed_on(leg, at=now), by_id(leg), now, RULES)

    check_in, boarding = only(planned, CHECK_IN), only(planned, BOARDING)
    assert leg.departs_at - check_in.due_at == timedelta(hours=48)
    assert leg.departs_at - boarding.due_at == timedelta(hours=3)
    for reminder in planned:
        for instant in (reminder.due_at, reminder.expires_at, reminder.created_at):
            assert instant.tzinfo is UTC
        assert reminder.due_at < reminder.expires_at
    # On the zone's clocks the gap is 48 hours less the change of UTC offset in between.
    offset_change = utc_offset(leg.departs_at, zone) - utc_offset(check_in.due_at, zone)
    assert wall_clock_gap(leg.departs_at, check_in.due_at, zone) == (
        timedelta(hours=48) + offset_change
    )


# A reference model of plan() over random itineraries: what the module docstring states.

AIRLINES = ("BA", "AA")


@st.composite
def itineraries(draw: st.DrawFn) -> tuple[list[Flight], timedelta, dict[str, timedelta]]:
    """1-3 connecting flights, some cancelled, on random airlines; the instant planning runs
    (an offset from the first departure); and per-airline check-in overrides."""
    first_departure = NOW + timedelta(minutes=draw(st.integers(60, 6 * 24 * 60)))
    legs: list[Flight] = []
    departs_at = first_departure
    for index in range(draw(st.integers(1, 3))):
        code = draw(st.sampled_from(AIRLINES))
        leg = flight(
            number=f"{code}{index + 1}",
            airline=code,
            departs_at=departs_at,
            arrives_at=departs_at + timedelta(hours=2),
            status=draw(
                st.sampled_from([FlightStatus.SCHEDULED, FlightStatus.DELAYED])
                | st.just(FlightStatus.CANCELLED)
            ),
        )
        legs.append(leg)
        departs_at = leg.arrives_at + timedelta(minutes=draw(st.integers(45, 360)))
    before_first = timedelta(minutes=draw(st.integers(-600, 4 * 24 * 60)))
    overrides = draw(
        st.dictionaries(
            st.sampled_from(AIRLINES),
            st.integers(2, 72).map(lambda hours: timedelta(hours=hours)),
        )
    )
    return legs, before_first, overrides


@settings(max_examples=300)
@given(drawn=itineraries())
def test_plan_matches_the_documented_rules_over_random_itineraries(
    drawn: tuple[list[Flight], timedelta, dict[str, timedelta]],
) -> None:
    legs, before_first, overrides = drawn
    rules = ReminderRules(check_in_by_airline=overrides)
    now = legs[0].departs_at - before_first
    booking = confirmed_on(*legs, at=now)

    planned = plan(booking, by_id(*legs), now, rules)

    expected: set[tuple[ReminderKind, str, datetime, datetime]] = set()
    airlines: set[str] = set()
    for leg in legs:
        if leg.status is FlightStatus.CANCELLED:
            continue
        if leg.airline not in airlines:
            airlines.add(leg.airline)
            opens = overrides.get(leg.airline, timedelta(hours=48))
            if now < leg.departs_at - HOUR:
                expected.add((CHECK_IN, leg.id, leg.departs_at - opens, leg.departs_at - HOUR))
        closes = leg.departs_at - timedelta(minutes=30)
        if now < closes:
            expected.add((BOARDING, leg.id, leg.departs_at - timedelta(hours=3), closes))
    found = {(r.kind, r.flight_id or "", r.due_at, r.expires_at) for r in planned}
    assert found == expected
    assert len(found) == len(planned)
    assert [r.due_at for r in planned] == sorted(r.due_at for r in planned)
    assert all(r.created_at == now and r.booking_id == booking.id for r in planned)
    # Re-planning what plan() made, at the same instant, changes nothing.
    assert not replan(
        ReminderContext(booking=booking, flights=by_id(*legs), reminders=planned), now, rules
    )


# --- 4. replan() -----------------------------------------------------------------------------


def test_confirming_a_hold_cancels_its_payment_deadline_and_plans_check_in_and_boarding() -> None:
    leg = flight()
    clock = FakeClock(NOW)
    held = booking_for(leg)
    (payment,) = plan(held, by_id(leg), clock.now(), RULES)
    clock.advance(minutes=5)
    confirmed = held.confirmed_by(held.total, clock.now())

    changes = replan(
        ReminderContext(booking=confirmed, flights=by_id(leg), reminders=[payment]),
        clock.now(),
        RULES,
    )

    assert changes.cancel == (payment.id,)
    assert kinds(changes.add) == [(CHECK_IN, leg.id), (BOARDING, leg.id)]
    assert all(r.created_at == clock.now() for r in changes.add)

    # Replanning with what that left stored changes nothing.
    stored = [cancelled(payment, clock.now()), *changes.add]
    clock.advance(minutes=1)
    again = replan(
        ReminderContext(booking=confirmed, flights=by_id(leg), reminders=stored),
        clock.now(),
        RULES,
    )
    assert again == ReminderChanges()
    assert not again


def test_a_flight_moved_later_replaces_its_planned_reminders_at_the_new_times() -> None:
    leg = flight()
    booking = confirmed_on(leg)
    before = plan(booking, by_id(leg), NOW, RULES)
    moved = attrs.evolve(
        leg, departs_at=leg.departs_at + 5 * HOUR, arrives_at=leg.arrives_at + 5 * HOUR
    )
    now = NOW + timedelta(days=1)

    changes = replan(
        ReminderContext(booking=booking, flights=by_id(moved), reminders=before), now, RULES
    )

    assert set(changes.cancel) == {r.id for r in before}
    assert kinds(changes.add) == [(CHECK_IN, leg.id), (BOARDING, leg.id)]
    assert only(changes.add, CHECK_IN).due_at == moved.departs_at - timedelta(hours=48)
    assert only(changes.add, BOARDING).due_at == moved.departs_at - timedelta(hours=3)
    assert not {r.id for r in changes.add} & {r.id for r in before}


def test_a_check_in_already_sent_is_not_sent_again_after_the_flight_moves() -> None:
    leg = flight()
    booking = confirmed_on(leg)
    check_in, boarding = plan(booking, by_id(leg), NOW, RULES)
    now = check_in.due_at + MINUTE
    moved = attrs.evolve(
        leg, departs_at=leg.departs_at + 5 * HOUR, arrives_at=leg.arrives_at + 5 * HOUR
    )

    changes = replan(
        ReminderContext(
            booking=booking, flights=by_id(moved), reminders=[sent(check_in, now), boarding]
        ),
        now,
        RULES,
    )

    assert changes.cancel == (boarding.id,)
    assert kinds(changes.add) == [(BOARDING, leg.id)]


def test_a_flight_change_notice_is_due_at_once_and_added() -> None:
    leg = flight()
    booking = confirmed_on(leg)
    before = plan(booking, by_id(leg), NOW, RULES)
    clock = FakeClock(NOW + timedelta(days=2))
    moved = attrs.evolve(leg, departs_at=leg.departs_at + HOUR, arrives_at=leg.arrives_at + HOUR)

    notice = flight_change_notice(booking, moved, clock.now(), RULES)

    assert notice is not None
    assert notice.kind is CHANGED
    assert notice.flight_id == leg.id
    assert notice.due_at == clock.now()
    assert notice.expires_at == moved.departs_at  # departure is more than 6 hours away
    changes = replan(
        ReminderContext(booking=booking, flights=by_id(moved), reminders=before),
        clock.now(),
        RULES,
        [notice],
    )
    assert notice in changes.add
    assert len(changes.cancel) == 2


def test_a_notice_close_to_departure_is_of_use_for_six_hours() -> None:
    leg = flight()
    now = leg.departs_at - HOUR
    notice = flight_change_notice(confirmed_on(leg), leg, now, RULES)
    assert notice is not None
    assert notice.expires_at == now + timedelta(hours=6)


def test_a_planned_notice_stays_when_the_booking_is_replanned() -> None:
    leg = flight()
    booking = confirmed_on(leg)
    notice = flight_change_notice(booking, leg, NOW, RULES)
    assert notice is not None
    stored = [*plan(booking, by_id(leg), NOW, RULES), notice]

    assert not replan(
        ReminderContext(booking=booking, flights=by_id(leg), reminders=stored), NOW, RULES
    )


def test_a_hold_on_a_moved_flight_keeps_its_payment_deadline_and_gets_a_notice() -> None:
    leg = flight()
    held = booking_for(leg)
    before = plan(held, by_id(leg), NOW, RULES)
    now = NOW + 2 * MINUTE
    moved = attrs.evolve(leg, departs_at=leg.departs_at + HOUR, arrives_at=leg.arrives_at + HOUR)
    notice = flight_change_notice(held, moved, now, RULES)
    assert notice is not None

    changes = replan(
        ReminderContext(booking=held, flights=by_id(moved), reminders=before), now, RULES, [notice]
    )

    assert changes.cancel == ()
    assert changes.add == (notice,)


def test_a_departed_flight_gets_no_notice() -> None:
    leg = flight(status=FlightStatus.DELAYED)
    booking = confirmed_on(leg)
    assert flight_change_notice(booking, leg, leg.departs_at, RULES) is None
    assert flight_change_notice(booking, leg, leg.departs_at + MINUTE, RULES) is None
    assert flight_change_notice(booking, leg, leg.departs_at - MINUTE, RULES) is not None


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.EXPIRED])
def test_a_booking_no_longer_live_gets_no_notice(status: BookingStatus) -> None:
    leg = flight()
    assert flight_change_notice(booking_for(leg, status=status), leg, NOW, RULES) is None


def test_a_hold_past_its_deadline_gets_no_notice_though_stored_as_held() -> None:
    leg = flight()
    held = booking_for(leg)
    deadline = held.payment_required_by
    assert flight_change_notice(held, leg, deadline - timedelta(seconds=1), RULES) is not None
    assert flight_change_notice(held, leg, deadline, RULES) is None


def test_a_cancelled_flight_gets_a_notice_and_its_reminders_cancelled() -> None:
    leg = flight()
    booking = confirmed_on(leg)
    before = plan(booking, by_id(leg), NOW, RULES)
    gone = attrs.evolve(leg, status=FlightStatus.CANCELLED)
    now = NOW + HOUR

    notice = flight_change_notice(booking, gone, now, RULES)
    assert notice is not None
    changes = replan(
        ReminderContext(booking=booking, flights=by_id(gone), reminders=before),
        now,
        RULES,
        [notice],
    )

    assert set(changes.cancel) == {r.id for r in before}
    assert changes.add == (notice,)


def test_a_cancelled_flight_that_left_long_ago_still_gets_a_notice() -> None:
    leg = flight(status=FlightStatus.CANCELLED)
    now = leg.departs_at + HOUR
    notice = flight_change_notice(confirmed_on(leg), leg, now, RULES)
    assert notice is not None
    assert notice.expires_at == now + timedelta(hours=6)


# --- 5. why_not_send() and dispatch() ---------------------------------------------------------


def due_check_in(
    booking_status: BookingStatus = BookingStatus.CONFIRMED,
) -> tuple[Reminder, Booking, Flight]:
    leg = flight()
    booking = booking_for(leg, status=booking_status)
    reminder = only(plan(confirmed_on(leg), by_id(leg), NOW, RULES), CHECK_IN)
    reminder = attrs.evolve(reminder, booking_id=booking.id, reference=booking.reference)
    return attrs.evolve(reminder, attempts=1), booking, leg


def test_a_due_reminder_still_of_use_is_sent_as_its_own_event() -> None:
    reminder, booking, leg = due_check_in()
    now = reminder.due_at + MINUTE
    due = DueReminder(reminder=reminder, booking=booking, flights=by_id(leg))

    assert why_not_send(due, now, RULES) is None
    send, skip = dispatch([due], now, RULES)

    assert skip == []
    (event,) = send
    assert isinstance(event, ReminderDue)
    assert event.id == reminder.id
    assert event.reminder_id == reminder.id
    assert event.kind == "check_in"
    assert event.flight_id == leg.id
    assert event.due_at == reminder.due_at
    assert event.occurred_at == now
    assert event.booking == booking


def test_a_reminder_past_its_use_is_skipped_as_too_late() -> None:
    reminder, booking, leg = due_check_in()
    due = DueReminder(reminder=reminder, booking=booking, flights=by_id(leg))

    reason = why_not_send(due, reminder.expires_at, RULES)

    assert reason is not None
    assert reason.startswith("too late")
    assert why_not_send(due, reminder.expires_at - timedelta(seconds=1), RULES) is None


def test_a_reminder_whose_booking_is_gone_is_skipped() -> None:
    reminder, _, leg = due_check_in()
    due = DueReminder(reminder=reminder, booking=None, flights=by_id(leg))
    assert why_not_send(due, reminder.due_at, RULES) == "the booking no longer exists"


def test_a_reminder_of_a_cancelled_booking_is_skipped() -> None:
    reminder, booking, leg = due_check_in(BookingStatus.CANCELLED)
    due = DueReminder(reminder=reminder, booking=booking, flights=by_id(leg))
    assert why_not_send(due, reminder.due_at, RULES) == "the booking is cancelled"


def test_a_payment_deadline_of_a_booking_since_confirmed_is_skipped() -> None:
    leg = flight()
    held = booking_for(leg)
    (payment,) = plan(held, by_id(leg), NOW, RULES)
    confirmed = held.confirmed_by(held.total, NOW + MINUTE)
    due = DueReminder(reminder=payment, booking=confirmed, flights=by_id(leg))

    assert why_not_send(due, payment.due_at, RULES) == "the booking is confirmed"
    assert why_not_send(attrs.evolve(due, booking=held), payment.due_at, RULES) is None


def test_a_check_in_for_a_cancelled_flight_is_skipped() -> None:
    reminder, booking, leg = due_check_in()
    gone = attrs.evolve(leg, status=FlightStatus.CANCELLED)
    due = DueReminder(reminder=reminder, booking=booking, flights=by_id(gone))
    assert why_not_send(due, reminder.due_at, RULES) == "the flight is cancelled"


def test_a_check_in_for_a_missing_flight_is_skipped() -> None:
    reminder, booking, _ = due_check_in()
    due = DueReminder(reminder=reminder, booking=booking, flights={})
    assert why_not_send(due, reminder.due_at, RULES) == "the flight no longer exists"


def test_a_check_in_for_a_flight_that_left_is_skipped() -> None:
    reminder, booking, leg = due_check_in()
    # Moved earlier behind the reminder's back: it left before the reminder's use ran out.
    early = attrs.evolve(
        leg, departs_at=reminder.due_at, arrives_at=reminder.due_at + timedelta(hours=8)
    )
    due = DueReminder(reminder=reminder, booking=booking, flights=by_id(early))
    assert why_not_send(due, reminder.due_at + MINUTE, RULES) == "the flight has left"


def test_a_notice_about_a_cancelled_flight_is_sent() -> None:
    leg = flight(status=FlightStatus.CANCELLED)
    booking = confirmed_on(leg)
    notice = flight_change_notice(booking, leg, NOW, RULES)
    assert notice is not None
    due = DueReminder(reminder=notice, booking=booking, flights=by_id(leg))
    assert why_not_send(due, NOW, RULES) is None


def test_a_notice_to_a_hold_that_lapsed_since_is_skipped() -> None:
    leg = flight()
    held = booking_for(leg)
    notice = flight_change_notice(held, leg, NOW, RULES)
    assert notice is not None
    due = DueReminder(reminder=notice, booking=held, flights=by_id(leg))

    assert why_not_send(due, held.payment_required_by - MINUTE, RULES) is None
    assert why_not_send(due, held.payment_required_by, RULES) == "the booking is expired"


def test_a_reminder_claimed_more_than_max_attempts_times_is_skipped() -> None:
    rules = ReminderRules(max_attempts=3)
    reminder, booking, leg = due_check_in()
    now = reminder.due_at

    def reason(attempts: int) -> str | None:
        due = DueReminder(
            reminder=attrs.evolve(reminder, attempts=attempts), booking=booking, flights=by_id(leg)
        )
        return why_not_send(due, now, rules)

    assert reason(3) is None
    assert reason(4) == "not sent after 3 attempts"


def test_dispatch_splits_what_to_send_from_what_to_skip_with_reasons() -> None:
    good, booking, leg = due_check_in()
    late, _, _ = due_check_in()
    orphan, _, _ = due_check_in()
    now = good.due_at + MINUTE
    late = attrs.evolve(late, expires_at=now)

    send, skip = dispatch(
        [
            DueReminder(reminder=late, booking=booking, flights=by_id(leg)),
            DueReminder(reminder=good, booking=booking, flights=by_id(leg)),
            DueReminder(reminder=orphan, booking=None),
        ],
        now,
        RULES,
    )

    assert [event.id for event in send] == [good.id]
    assert [reminder_id for reminder_id, _ in skip] == [late.id, orphan.id]
    assert skip[0][1].startswith("too late")
    assert skip[1][1] == "the booking no longer exists"


# --- 6. the service on memory stores ----------------------------------------------------------


@define
class World:
    """An airline on memory stores with London and New York, one airplane and one customer."""

    airline: Airline
    clock: FakeClock
    plane: Airplane
    ann: Principal

    async def flight(self, departs_at: datetime, number: str = "BA117") -> Flight:
        return await schedule(self.airline, self.plane, departs_at, number=number)

    async def hold(self, *flights: Flight) -> Booking:
        offer = await self.airline.offer(self.ann.user_id, [f.id for f in flights], "economy", 1)
        return await self.airline.hold(self.ann, offer.id, [ANN])

    async def pay(self, booking: Booking) -> Booking:
        paid, _ = await self.airline.pay(self.ann, booking.reference, booking.total, "pm_card_visa")
        assert paid.status is BookingStatus.CONFIRMED
        return paid

    async def book(self, *flights: Flight) -> Booking:
        return await self.pay(await self.hold(*flights))

    async def reminders(self, booking: Booking) -> list[Reminder]:
        return await self.airline.reminders.of(booking)

    async def planned(self, booking: Booking) -> list[Reminder]:
        return [r for r in await self.reminders(booking) if r.status is ReminderStatus.PLANNED]

    async def reminder_events(self) -> list[ReminderDue]:
        """The ReminderDue events in the outbox since the last call (they are taken out)."""
        owner = f"test:{new_id()}"
        claimed = await self.airline.outbox.claim(owner, self.clock.now(), MINUTE, 10_000)
        await self.airline.outbox.sent(owner, [c.event.id for c in claimed])
        events = [decode(c.event) for c in claimed if c.event.type == ReminderDue.TYPE]
        return [event for event in events if isinstance(event, ReminderDue)]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = FakeClock(NOW)
    hasher = ScryptPasswordHasher(n=2**4, r=1, p=1)  # fast, for tests only
    async with Airline.in_memory(clock=clock, password_hasher=hasher) as airline:
        await add_airports(airline, "LHR", "JFK")
        plane = await add_airplane(airline, ECONOMY_ONLY)
        user = await airline.accounts.register(
            email="ann@example.org", password="a long enough passphrase", name="Ann"
        )
        yield World(airline, clock, plane, Principal(user_id=user.id, role=Role.CUSTOMER))


async def test_a_hold_plans_its_payment_deadline(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))

    held = await world.hold(leg)

    (reminder,) = await world.airline.reminders.find()
    assert reminder.kind is PAYMENT
    assert reminder.reference == held.reference
    assert reminder.due_at == held.payment_required_by - timedelta(minutes=10)
    assert await world.airline.reminders.find(ReminderQuery(kind=CHECK_IN)) == []


async def test_paying_swaps_the_payment_deadline_for_check_in_and_boarding(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    held = await world.hold(leg)
    world.clock.advance(minutes=3)

    booking = await world.pay(held)

    stored = await world.reminders(booking)
    assert sorted((r.kind, r.status) for r in stored) == sorted(
        [
            (PAYMENT, ReminderStatus.CANCELLED),
            (CHECK_IN, ReminderStatus.PLANNED),
            (BOARDING, ReminderStatus.PLANNED),
        ]
    )
    assert only(stored, PAYMENT).note == "the booking was paid"
    view = await world.airline.itinerary(booking.reference, world.ann)
    assert kinds(view.reminders) == [(CHECK_IN, leg.id), (BOARDING, leg.id)]
    assert only(view.reminders, CHECK_IN).due_at == leg.departs_at - timedelta(hours=48)
    assert only(view.reminders, BOARDING).due_at == leg.departs_at - timedelta(hours=3)
    planned = await world.airline.reminders.find()
    assert [r.kind for r in planned] == [CHECK_IN, BOARDING]


async def test_the_sweep_sends_a_due_check_in_once(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)
    check_in = only(await world.planned(booking), CHECK_IN)

    world.clock.set(check_in.due_at - timedelta(seconds=1))
    assert await world.airline.reminders.sweep() == SweepReport()

    world.clock.set(check_in.due_at + MINUTE)
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)

    (event,) = await world.reminder_events()
    assert event.id == check_in.id
    assert event.kind == "check_in"
    assert event.flight_id == leg.id
    assert event.booking.reference == booking.reference
    stored = only(await world.reminders(booking), CHECK_IN)
    assert stored.status is ReminderStatus.SENT
    assert stored.settled_at == world.clock.now()

    assert await world.airline.reminders.sweep() == SweepReport()
    assert await world.reminder_events() == []


async def test_cancelling_the_booking_cancels_what_is_still_planned(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)
    check_in = only(await world.planned(booking), CHECK_IN)
    world.clock.set(check_in.due_at + MINUTE)
    await world.airline.reminders.sweep()

    await world.airline.cancel(booking.reference, world.ann)

    stored = {r.kind: r for r in await world.reminders(booking)}
    assert stored[CHECK_IN].status is ReminderStatus.SENT
    assert stored[BOARDING].status is ReminderStatus.CANCELLED
    assert stored[BOARDING].note == "the booking was cancelled"
    world.clock.set(leg.departs_at - HOUR)
    assert await world.airline.reminders.sweep() == SweepReport()


async def test_an_expired_hold_cancels_its_payment_deadline(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    held = await world.hold(leg)
    world.clock.set(held.payment_required_by)

    await world.airline.sweep()

    (reminder,) = await world.reminders(held)
    assert reminder.status is ReminderStatus.CANCELLED
    assert await world.airline.reminders.sweep() == SweepReport()


async def test_retiming_a_flight_replans_and_notifies_its_travellers(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)
    old = await world.planned(booking)
    world.clock.advance(hours=1)

    moved = await world.airline.flights.update(
        leg.id, departs_at=leg.departs_at + 5 * HOUR, arrives_at=leg.arrives_at + 5 * HOUR
    )

    stored = {r.id: r for r in await world.reminders(booking)}
    assert {stored[r.id].status for r in old} == {ReminderStatus.CANCELLED}
    planned = await world.planned(booking)
    assert sorted(kinds(planned)) == sorted(
        [(CHANGED, leg.id), (CHECK_IN, leg.id), (BOARDING, leg.id)]
    )
    assert only(planned, CHECK_IN).due_at == moved.departs_at - timedelta(hours=48)
    assert only(planned, BOARDING).due_at == moved.departs_at - timedelta(hours=3)
    notice = only(planned, CHANGED)
    assert notice.due_at == world.clock.now()

    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    (event,) = await world.reminder_events()
    assert (event.id, event.kind) == (notice.id, "flight_changed")


async def test_a_new_fare_is_no_news_to_travellers(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)
    before = await world.planned(booking)

    await world.airline.flights.update(leg.id, fares={Cabin.ECONOMY: Money(99_900, "GBP")})

    assert await world.planned(booking) == before


async def test_cancelling_a_flight_cancels_its_reminders_and_sends_a_notice(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)

    await world.airline.flights.update(leg.id, status=FlightStatus.CANCELLED)

    assert kinds(await world.planned(booking)) == [(CHANGED, leg.id)]
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    world.clock.set(leg.departs_at - timedelta(hours=2))
    assert await world.airline.reminders.sweep() == SweepReport()


async def test_a_clock_far_behind_sends_nothing(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    booking = await world.book(leg)
    await world.hold(leg)
    world.clock.set(datetime(2026, 1, 1, tzinfo=UTC))

    assert await world.airline.reminders.sweep() == SweepReport()

    planned = await world.airline.reminders.find()
    assert len(planned) == 3
    assert all(r.attempts == 0 and r.claimed_by is None for r in planned)
    assert len(await world.planned(booking)) == 2


async def test_a_booking_made_late_gets_its_reminders_at_the_next_sweep(world: World) -> None:
    leg = await world.flight(NOW + timedelta(hours=40))

    booking = await world.book(leg)

    check_in = only(await world.planned(booking), CHECK_IN)
    assert check_in.due_at < world.clock.now()
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    assert [event.id for event in await world.reminder_events()] == [check_in.id]


async def test_a_booking_made_an_hour_before_departure_gets_only_its_boarding_pass(
    world: World,
) -> None:
    leg = await world.flight(NOW + HOUR)

    held = await world.hold(leg)
    # Sales close 30 minutes before departure: the hold lasts 30 minutes, its reminder is due.
    assert held.payment_required_by == leg.departs_at - timedelta(minutes=30)
    booking = await world.pay(held)

    (boarding,) = await world.planned(booking)
    assert boarding.kind is BOARDING
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    (event,) = await world.reminder_events()
    assert (event.id, event.kind) == (boarding.id, "boarding_pass")


async def test_a_short_hold_gets_its_payment_reminder_at_once(world: World) -> None:
    leg = await world.flight(NOW + timedelta(minutes=35))

    held = await world.hold(leg)

    assert held.payment_required_by == NOW + timedelta(minutes=5)
    (payment,) = await world.planned(held)
    assert payment.due_at < world.clock.now()
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    (event,) = await world.reminder_events()
    assert (event.id, event.kind, event.flight_id) == (payment.id, "payment_deadline", None)


async def test_a_sweep_after_the_scheduler_was_down_catches_up(world: World) -> None:
    early = await world.flight(NOW + timedelta(days=7))
    later = await world.flight(NOW + timedelta(days=7, hours=2), number="BA175")
    first = await world.book(early)
    second = await world.book(later)
    lapsed = await world.hold(early)  # never paid: its reminder's use runs out
    boarding_due = early.departs_at - timedelta(hours=3)

    world.clock.set(boarding_due + timedelta(minutes=10))
    report = await world.airline.reminders.sweep()

    # Both check-ins and the early boarding pass are still of use; the payment reminder is not.
    assert report == SweepReport(sent=3, skipped=1)
    first_sent = {r.kind for r in await world.reminders(first) if r.status is ReminderStatus.SENT}
    assert first_sent == {CHECK_IN, BOARDING}
    (skipped,) = await world.reminders(lapsed)
    assert skipped.status is ReminderStatus.SKIPPED
    assert skipped.note is not None
    assert skipped.note.startswith("too late")
    assert kinds(await world.planned(second)) == [(BOARDING, later.id)]
    events = await world.reminder_events()
    assert sorted(event.kind for event in events) == ["boarding_pass", "check_in", "check_in"]
    assert {event.id for event in events} == {
        r.id
        for b in (first, second)
        for r in await world.reminders(b)
        if r.status is ReminderStatus.SENT
    }

    world.clock.set(later.departs_at - timedelta(hours=3))
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)
    assert await world.planned(second) == []


async def test_a_sweep_in_small_batches_sends_everything_due(world: World) -> None:
    legs = [
        await world.flight(NOW + timedelta(days=3, hours=hour), number=f"BA{100 + hour}")
        for hour in range(3)
    ]
    for leg in legs:
        await world.book(leg)
    world.airline.reminders.batch = 2
    world.clock.set(legs[0].departs_at - timedelta(hours=1, minutes=30))

    # Three check-ins and the two boarding passes due 3 hours before departure.
    assert await world.airline.reminders.sweep() == SweepReport(sent=5)
    assert kinds(await world.airline.reminders.find()) == [(BOARDING, legs[2].id)]


async def test_a_sweep_stops_at_its_limit(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=3))
    await world.book(leg)
    world.clock.set(leg.departs_at - timedelta(hours=2))

    assert await world.airline.reminders.sweep(limit=1) == SweepReport(sent=1)
    assert await world.airline.reminders.sweep(limit=1) == SweepReport(sent=1)
    assert await world.airline.reminders.sweep() == SweepReport()


async def test_a_claimed_reminder_waits_for_its_lease_then_goes_out(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=3))
    booking = await world.book(leg)
    check_in = only(await world.planned(booking), CHECK_IN)
    world.clock.set(check_in.due_at)
    store = world.airline.reminders.store
    (claimed,) = await store.claim("crashed", world.clock.now(), MINUTE, 10)
    assert claimed.reminder.id == check_in.id

    assert await world.airline.reminders.sweep() == SweepReport()  # leased to "crashed"
    world.clock.advance(MINUTE)
    assert await world.airline.reminders.sweep() == SweepReport(sent=1)

    stored = only(await world.reminders(booking), CHECK_IN)
    assert (stored.status, stored.attempts) == (ReminderStatus.SENT, 2)
    assert await store.settle("crashed", world.clock.now(), await world.reminder_events()) == 0


async def test_a_hold_on_a_cancelled_flight_is_not_asked_to_pay(world: World) -> None:
    leg = await world.flight(NOW + timedelta(days=7))
    held = await world.hold(leg)

    await world.airline.flights.update(leg.id, status=FlightStatus.CANCELLED)
    world.clock.set(held.payment_required_by - timedelta(minutes=5))
    await world.airline.reminders.sweep()

    assert [event.kind for event in await world.reminder_events()] == ["flight_changed"]
