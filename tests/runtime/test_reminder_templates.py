"""Reminder templates: every reminder kind has its email (and, where it goes by SMS, its text
message) family; each names the flight, the booking and the time in the departure airport's
local time; a cancelled flight says so; names are escaped in HTML; the booking families still
render with the reminder names in every context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import pytest

import airline_runtime.notify.templates as templates_module
from airline_core.booking import Booking, BookingStatus, Passenger, SeatChoice
from airline_core.catalog.model import Cabin, Flight, FlightStatus
from airline_core.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingHeld,
    Event,
    HoldExpired,
    PaymentFailed,
    ReminderDue,
)
from airline_core.ids import new_id
from airline_core.money import Money
from airline_core.notifications import (
    _SMS_REMINDERS,
    Channel,
    EmailMessage,
    SmsMessage,
    plan_notices,
)
from airline_core.reminders.model import ReminderKind
from airline_runtime.notify import Templates
from tests.contract.samples import airplane, flight

REFERENCE = "K7Q2ZD"
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
#: 07:00 UTC on the morning British summer time began: 08:00 BST in London.
OUT_DEPARTS = datetime(2030, 3, 31, 7, 0, tzinfo=UTC)
OUT_LOCAL = "Sun 31 Mar 2030 08:00 BST"
#: 22:00 UTC a week later, from New York (daylight time since 10 March): 18:00 EDT.
BACK_DEPARTS = datetime(2030, 4, 7, 22, 0, tzinfo=UTC)
BACK_LOCAL = "Sun 07 Apr 2030 18:00 EDT"
#: The hold's deadline, in the first departure's (London's) local time.
PAY_BY = datetime(2030, 3, 31, 6, 30, tzinfo=UTC)
PAY_BY_LOCAL = "Sun 31 Mar 2030 07:30 BST"
TEMPLATE_FOLDER = Path(templates_module.__file__).parent / "templates"


def itinerary() -> list[Flight]:
    plane = airplane()
    return [
        flight(plane, OUT_DEPARTS, number="BA117", origin="LHR", destination="JFK"),
        flight(plane, BACK_DEPARTS, number="BA112", origin="JFK", destination="LHR", hours=7),
    ]


def booking(
    flights: Sequence[Flight],
    *,
    status: BookingStatus = BookingStatus.CONFIRMED,
    given_name: str = "Ann",
) -> Booking:
    people = (
        Passenger(
            given_name=given_name,
            family_name="Traveller",
            born_on=date(1990, 5, 17),
            email="ann@example.org",
            phone="+447700900123",
        ),
        Passenger(
            given_name="Bob",
            family_name="Traveller",
            born_on=date(1988, 1, 2),
            email="bob@example.org",
        ),
    )
    return Booking(
        id=new_id(),
        reference=REFERENCE,
        user_id=new_id(),
        offer_id=new_id(),
        status=status,
        flight_ids=tuple(leg.id for leg in flights),
        cabin=Cabin.ECONOMY,
        passengers=people,
        seats=tuple(
            SeatChoice(flight_id=leg.id, passenger=index, seat=f"{12 + number}{'AB'[index]}")
            for number, leg in enumerate(flights)
            for index in range(len(people))
        ),
        total=Money(90_000, "GBP"),
        created_at=NOW,
        price_guarantee_expires_at=NOW + timedelta(minutes=15),
        payment_required_by=PAY_BY,
        updated_at=NOW,
    )


def reminder(
    kind: ReminderKind,
    held: Booking,
    flight_id: str | None,
    due_at: datetime = OUT_DEPARTS - timedelta(hours=48),
) -> ReminderDue:
    return ReminderDue(
        occurred_at=due_at,
        reminder_id=new_id(),
        kind=kind.value,
        booking=held,
        due_at=due_at,
        flight_id=flight_id,
    )


def render(
    event: Event, flights: Sequence[Flight], templates: Templates | None = None
) -> tuple[list[EmailMessage], list[SmsMessage]]:
    """Every message the event sends, as the worker renders them."""
    templates = templates or Templates()
    context = templates.context(event, flights)
    messages = [templates.render(notice, context) for notice in plan_notices(event)]
    emails = [message for message in messages if isinstance(message, EmailMessage)]
    texts = [message for message in messages if isinstance(message, SmsMessage)]
    assert len(emails) + len(texts) == len(messages)
    return emails, texts


def first_email(emails: list[EmailMessage]) -> EmailMessage:
    return next(message for message in emails if message.to == "ann@example.org")


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_reminder_kind_has_its_templates(kind: ReminderKind) -> None:
    flights = itinerary()
    event = reminder(kind, booking(flights), flights[0].id)
    notices = plan_notices(event)
    assert {notice.template for notice in notices} == {f"reminder_{kind.value}"}
    channels = {notice.channel for notice in notices}
    by_sms = kind.value in _SMS_REMINDERS
    assert channels == ({Channel.EMAIL, Channel.SMS} if by_sms else {Channel.EMAIL})
    family = f"reminder_{kind.value}"
    for part in ("subject.txt", "txt", "html"):
        assert (TEMPLATE_FOLDER / f"{family}.{part}").is_file(), f"{family}.{part}"
    assert (TEMPLATE_FOLDER / f"{family}.sms.txt").is_file() is by_sms


def test_a_reminder_context_names_its_kind_flight_and_due_time() -> None:
    flights = itinerary()
    held = booking(flights)
    templates = Templates()
    # Due 48 hours before the return flight: 18:00 EDT on Friday, in New York's time.
    back = reminder(
        ReminderKind.BOARDING_PASS, held, flights[1].id, BACK_DEPARTS - timedelta(hours=48)
    )
    context = templates.context(back, flights)
    assert context["kind"] == "boarding_pass"
    assert context["flight"] == context["flights"][1]
    assert context["flight"]["number"] == "BA112"
    assert context["flight"]["departs"] == BACK_LOCAL
    assert context["flight_seats"] == ["Ann Traveller: 13A", "Bob Traveller: 13B"]
    assert context["due"] == "Fri 05 Apr 2030 18:00 EDT"

    # A payment deadline has no flight: the first one, and London's time (still GMT then).
    deadline = reminder(
        ReminderKind.PAYMENT_DEADLINE, held, None, datetime(2030, 3, 29, 7, 0, tzinfo=UTC)
    )
    context = templates.context(deadline, flights)
    assert context["flight"] == context["flights"][0]
    assert context["due"] == "Fri 29 Mar 2030 07:00 GMT"

    # Its flight was deleted since: the first of those left.
    gone = reminder(ReminderKind.FLIGHT_CHANGED, held, new_id())
    assert templates.context(gone, flights)["flight"]["number"] == "BA117"

    # No flight left at all: no flight, the due time in UTC, and every family still renders.
    for kind in ReminderKind:
        event = reminder(kind, held, flights[0].id, datetime(2030, 3, 29, 7, 0, tzinfo=UTC))
        context = templates.context(event, [])
        assert context["flight"] is None
        assert context["flight_seats"] == []
        assert context["due"] == "Fri 29 Mar 2030 07:00 UTC"
        emails, texts = render(event, [])
        assert all(REFERENCE in mail.text and REFERENCE in mail.html for mail in emails)
        assert all(REFERENCE in sms.text for sms in texts)


def test_check_in_reminder_names_the_flight_origin_and_local_departure() -> None:
    flights = itinerary()
    event = reminder(ReminderKind.CHECK_IN, booking(flights), flights[0].id)
    emails, texts = render(event, flights)
    assert len(emails) == 2  # each passenger at their own address
    mail = first_email(emails)
    assert mail.subject == f"Check-in is open: flight BA117, booking {REFERENCE}"
    for part in (mail.text, mail.html):
        assert "BA117" in part
        assert REFERENCE in part
        assert "LHR" in part
        assert OUT_LOCAL in part
    assert "online check-in is open for flight BA117 from LHR, departing\n" in mail.text
    assert f"  BA117  LHR {OUT_LOCAL}  ->  JFK" in mail.text  # the itinerary
    assert f"  BA112  JFK {BACK_LOCAL}  ->  LHR" in mail.text
    assert "<!DOCTYPE html>" in mail.html
    [sms] = texts  # Bob gave no phone
    assert sms.to == "+447700900123"
    assert sms.text == (
        f"Check-in is open for booking {REFERENCE}: BA117 LHR-JFK departs {OUT_LOCAL}."
    )


def test_boarding_pass_reminder_is_about_its_own_flight_with_the_seats() -> None:
    flights = itinerary()
    event = reminder(
        ReminderKind.BOARDING_PASS,
        booking(flights),
        flights[1].id,
        BACK_DEPARTS - timedelta(hours=3),
    )
    emails, texts = render(event, flights)
    mail = first_email(emails)
    assert mail.subject == f"Your boarding pass: flight BA112, booking {REFERENCE}"
    for part in (mail.text, mail.html, texts[0].text):
        assert "BA112" in part
        assert REFERENCE in part
        assert BACK_LOCAL in part
        assert "Ann Traveller: 13A" in part
        assert "Bob Traveller: 13B" in part
        assert "12A" not in part  # the seats on this flight only
    assert "JFK to\nLHR, departing " + BACK_LOCAL + ", is ready." in mail.text
    assert "Seats:\n  Ann Traveller: 13A\n  Bob Traveller: 13B\n" in mail.text
    assert "<li>Ann Traveller: 13A</li><li>Bob Traveller: 13B</li>" in mail.html
    assert texts[0].text.endswith("Seats: Ann Traveller: 13A, Bob Traveller: 13B.")


def test_payment_deadline_reminder_gives_the_deadline_in_local_time_and_no_sms() -> None:
    flights = itinerary()
    event = reminder(
        ReminderKind.PAYMENT_DEADLINE,
        booking(flights, status=BookingStatus.HELD),
        None,
        PAY_BY - timedelta(minutes=10),
    )
    emails, texts = render(event, flights)
    assert texts == []
    mail = first_email(emails)
    assert mail.subject == f"Pay by {PAY_BY_LOCAL} to keep booking {REFERENCE}"
    assert f"your hold {REFERENCE} lapses at {PAY_BY_LOCAL} unless it is paid" in mail.text
    assert "Total: GBP 900.00 (2 passengers, economy)" in mail.text
    assert f"<strong>{PAY_BY_LOCAL}</strong>" in mail.html
    assert "<strong>GBP 900.00</strong>" in mail.html
    for part in (mail.text, mail.html):
        assert "BA117" in part
        assert REFERENCE in part


def test_flight_changed_reminder_shows_the_new_local_time() -> None:
    flights = itinerary()
    held = booking(flights)
    # The flight is read as it is now: two hours later, delayed.
    delayed = attrs.evolve(
        flights[0],
        departs_at=OUT_DEPARTS + timedelta(hours=2),
        arrives_at=OUT_DEPARTS + timedelta(hours=10),
        status=FlightStatus.DELAYED,
    )
    event = reminder(ReminderKind.FLIGHT_CHANGED, held, delayed.id, NOW)
    emails, texts = render(event, [delayed, flights[1]])
    mail = first_email(emails)
    new_time = "Sun 31 Mar 2030 10:00 BST"
    assert mail.subject == f"Flight BA117 has changed: booking {REFERENCE}"
    assert f"LHR to JFK is delayed: it now departs {new_time}" in mail.text
    assert "arrives Sun 31 Mar 2030 13:00 EDT." in mail.text
    assert f"now departs <strong>{new_time}</strong>" in mail.html
    [sms] = texts
    assert sms.text == (
        f"Booking {REFERENCE}: flight BA117 LHR-JFK is delayed and now departs {new_time}."
    )
    for part in (mail.text, mail.html):
        assert REFERENCE in part
        assert "cancelled" not in part

    # Moved back on time but at a new hour: no word of a delay.
    moved = attrs.evolve(delayed, status=FlightStatus.SCHEDULED)
    emails, texts = render(event, [moved, flights[1]])
    assert f"LHR to JFK now departs {new_time}" in first_email(emails).text
    assert "delayed" not in texts[0].text


def test_a_cancelled_flight_says_so_and_how_to_get_the_money_back() -> None:
    flights = itinerary()
    cancelled = attrs.evolve(flights[0], status=FlightStatus.CANCELLED)
    event = reminder(ReminderKind.FLIGHT_CHANGED, booking(flights), cancelled.id, NOW)
    emails, texts = render(event, [cancelled, flights[1]])
    mail = first_email(emails)
    assert mail.subject == f"Flight BA117 is cancelled: booking {REFERENCE}"
    assert f"due to depart\n{OUT_LOCAL}, is cancelled." in mail.text
    assert f"You can cancel booking {REFERENCE} for a refund, or contact us" in mail.text
    assert "is <strong>cancelled</strong>" in mail.html
    assert "for a refund, or contact us" in mail.html
    [sms] = texts
    assert sms.text == (
        f"Flight BA117 LHR-JFK on {OUT_LOCAL} is cancelled. "
        f"Cancel booking {REFERENCE} for a refund or contact us to rebook."
    )
    assert "now departs" not in mail.text

    # An unpaid hold has nothing to refund.
    event = reminder(
        ReminderKind.FLIGHT_CHANGED,
        booking(flights, status=BookingStatus.HELD),
        cancelled.id,
        NOW,
    )
    emails, texts = render(event, [cancelled, flights[1]])
    mail = first_email(emails)
    assert f"Nothing has been charged for booking {REFERENCE}" in mail.text
    assert "refund" not in mail.text
    assert "Nothing has been charged" in mail.html
    assert f"Booking {REFERENCE} was not charged" in texts[0].text


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_html_escapes_the_passenger_name(kind: ReminderKind) -> None:
    flights = itinerary()
    event = reminder(kind, booking(flights, given_name="<b>Ann</b>"), flights[0].id)
    emails, _ = render(event, flights)
    mail = first_email(emails)
    assert "Dear &lt;b&gt;Ann&lt;/b&gt; Traveller," in mail.html
    assert "<b>Ann" not in mail.html
    assert mail.text.startswith("Dear <b>Ann</b> Traveller,")  # plain text is not HTML


def booking_events(held: Booking) -> list[Event]:
    return [
        BookingHeld(occurred_at=NOW, booking=held),
        BookingConfirmed(occurred_at=NOW, booking=held, payment_id=new_id()),
        BookingCancelled(occurred_at=NOW, booking=held, refund=Money(80_000, "GBP")),
        BookingCancelled(occurred_at=NOW, booking=held, refund=Money(0, "GBP")),
        BookingCancelled(occurred_at=NOW, booking=held),
        HoldExpired(occurred_at=NOW, booking=held),
        PaymentFailed(occurred_at=NOW, booking=held, payment_id=new_id(), code="card_declined"),
    ]


@pytest.mark.parametrize("with_flights", [True, False])
def test_every_booking_family_still_renders(with_flights: bool) -> None:
    flights = itinerary() if with_flights else []
    held = booking(itinerary(), status=BookingStatus.HELD, given_name="<b>Ann</b>")
    templates = Templates()
    for event in booking_events(held):
        context = templates.context(event, flights)
        reminder_names = ("kind", "flight", "flight_seats", "due")
        assert [context[name] for name in reminder_names] == ["", None, [], ""]
        emails, texts = render(event, flights, templates)
        assert emails, type(event).__name__
        for mail in emails:
            assert REFERENCE in mail.subject
            assert REFERENCE in mail.text
            assert REFERENCE in mail.html
            assert "<b>Ann" not in mail.html
            if with_flights:
                assert OUT_LOCAL in mail.html
        for sms in texts:
            assert REFERENCE in sms.text
