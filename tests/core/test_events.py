"""Domain events: every type survives the outbox's encoding, and what does not decode says so."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from airline_core.booking import Booking, BookingStatus, Passenger, SeatChoice
from airline_core.catalog.model import Cabin, FlightStatus
from airline_core.events import (
    EVENT_TYPES,
    BookingCancelled,
    BookingConfirmed,
    BookingHeld,
    EncodedEvent,
    Event,
    FlightChanged,
    HoldExpired,
    PaymentFailed,
    ReminderDue,
    UnknownEvent,
    decode,
    encode,
)
from airline_core.ids import is_id, new_id
from airline_core.money import Money
from tests.core.samples import NOW, flight


def booking() -> Booking:
    leg = flight()
    return Booking(
        id=new_id(),
        reference="K7Q2ZD",
        user_id=new_id(),
        offer_id=new_id(),
        status=BookingStatus.HELD,
        flight_ids=(leg.id,),
        cabin=Cabin.ECONOMY,
        passengers=(
            Passenger(
                given_name="Zoë",
                family_name="O'Brien",
                born_on=date(1990, 2, 28),
                email="zoe@example.org",
                phone="+447700900123",
            ),
            Passenger(
                given_name="Sam",
                family_name="O'Brien",
                born_on=date(2015, 6, 1),
                email="sam@example.org",
            ),
        ),
        seats=(
            SeatChoice(passenger=0, flight_id=leg.id, seat="12A"),
            SeatChoice(passenger=1, flight_id=leg.id, seat="12B"),
        ),
        total=Money(90_000, "GBP"),
        created_at=NOW,
        price_guarantee_expires_at=NOW + timedelta(minutes=15),
        payment_required_by=NOW + timedelta(minutes=30),
        updated_at=NOW,
    )


def one_of_each() -> list[Event]:
    held = booking()
    before = flight()
    return [
        BookingHeld(occurred_at=NOW, booking=held),
        BookingConfirmed(occurred_at=NOW, booking=held, payment_id=new_id()),
        BookingCancelled(occurred_at=NOW, booking=held, refund=Money(80_000, "GBP")),
        BookingCancelled(occurred_at=NOW, booking=held),
        HoldExpired(occurred_at=NOW, booking=held),
        PaymentFailed(occurred_at=NOW, booking=held, payment_id=new_id(), code="card_declined"),
        FlightChanged(
            occurred_at=NOW,
            flight=flight(id=before.id, departs_at=before.departs_at + timedelta(hours=2)),
            previous=before,
        ),
        FlightChanged(
            occurred_at=NOW,
            flight=flight(id=before.id, status=FlightStatus.CANCELLED),
            previous=before,
        ),
        ReminderDue(
            occurred_at=NOW,
            reminder_id=new_id(),
            kind="check_in",
            booking=held,
            due_at=NOW + timedelta(days=5),
        ),
    ]


@pytest.mark.parametrize("event", one_of_each(), ids=lambda event: event.TYPE)
def test_every_event_decodes_to_itself(event: Event) -> None:
    encoded = encode(event)
    assert (encoded.id, encoded.type, encoded.version) == (event.id, event.TYPE, 1)
    assert encoded.occurred_at == event.occurred_at
    assert decode(encoded) == event


def test_every_type_is_registered_once_under_its_own_name() -> None:
    assert len(EVENT_TYPES) == 7
    assert all(name == kind.TYPE and name for name, kind in EVENT_TYPES.items())
    assert {type(event) for event in one_of_each()} == set(EVENT_TYPES.values())


def test_an_event_gets_a_fresh_time_ordered_id() -> None:
    first, second = (HoldExpired(occurred_at=NOW, booking=booking()) for _ in range(2))
    assert is_id(first.id)
    assert is_id(second.id)
    assert first.id < second.id


def test_the_payload_keeps_the_envelope_out_and_the_text_readable() -> None:
    encoded = encode(BookingHeld(occurred_at=NOW, booking=booking()))
    assert '"id"' not in encoded.payload.split('"booking"')[0]
    assert "occurred_at" not in encoded.payload
    assert "Zoë" in encoded.payload  # not escaped: operators read the outbox


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "booking.teleported"}, "unknown event type"),
        ({"version": 2}, "version 2"),
        ({"payload": "[1, 2]"}, "does not decode"),
        ({"payload": "{not json"}, "does not decode"),
        ({"payload": '{"booking": {"reference": "K7Q2ZD"}}'}, "does not decode"),
    ],
)
def test_what_is_no_known_event_is_refused_with_the_reason(
    change: dict[str, object], reason: str
) -> None:
    good = encode(HoldExpired(occurred_at=NOW, booking=booking()))
    values = {
        "id": good.id,
        "type": good.type,
        "version": good.version,
        "occurred_at": good.occurred_at,
        "payload": good.payload,
        **change,
    }
    with pytest.raises(UnknownEvent, match=reason):
        decode(EncodedEvent(**values))  # type: ignore[arg-type]


def test_a_payload_that_breaks_a_domain_rule_is_refused() -> None:
    encoded = encode(HoldExpired(occurred_at=NOW, booking=booking()))
    broken = EncodedEvent(
        id=encoded.id,
        type=encoded.type,
        version=encoded.version,
        occurred_at=encoded.occurred_at,
        payload=encoded.payload.replace("K7Q2ZD", "nope"),
    )
    with pytest.raises(UnknownEvent):
        decode(broken)
