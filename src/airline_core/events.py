"""Domain events: what happened to a booking or a flight, for everyone downstream.

An event is a frozen fact with an id (a core id, so it sorts by time and any process can make
one), the instant it happened and a schema version per type. It is written to the outbox in
the same transaction as the change it reports (see :class:`~airline_core.ports.OutboxStore`),
so a booking never changes without its event, nor an event go out for a change that was rolled
back; the relay then hands it to the message bus, where the event id is the message id that
consumers deduplicate by.

Booking events carry the booking as it stood after the change (its passengers' names and
contacts included): a consumer sends the confirmation from the event alone, without reading
the booking back, which might have moved on meanwhile.

On the wire an event is its type (``booking.held``, also the routing key), its version and its
fields as JSON (:func:`encode`, :func:`decode`). A change to an event's fields that an old
consumer cannot read gets a new version; :func:`decode` refuses a type or version it does not
know (:class:`UnknownEvent`), for the consumer to dead-letter rather than guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

import cattrs
from attrs import field, frozen
from cattrs.preconf.json import make_converter

from airline_core.booking.model import Booking
from airline_core.catalog.model import Flight
from airline_core.errors import InvalidRequest
from airline_core.ids import new_id
from airline_core.money import Money

__all__ = [
    "EVENT_TYPES",
    "BookingCancelled",
    "BookingConfirmed",
    "BookingHeld",
    "ClaimedEvent",
    "EncodedEvent",
    "Event",
    "FlightChanged",
    "HoldExpired",
    "OutboxStatus",
    "PaymentFailed",
    "ReminderDue",
    "UnknownEvent",
    "decode",
    "encode",
]


@frozen(kw_only=True)
class Event:
    """What every event has: its id, the instant it happened, its type and schema version."""

    #: The event's type on the wire and its routing key (``booking.held``).
    TYPE: ClassVar[str] = ""
    #: The schema version of the type's fields.
    VERSION: ClassVar[int] = 1

    occurred_at: datetime
    id: str = field(factory=new_id)


@frozen(kw_only=True)
class BookingHeld(Event):
    """Seats were held for a booking: the price is kept until ``price_guarantee_expires_at`` and
    the booking is the traveller's until ``payment_required_by``."""

    TYPE: ClassVar[str] = "booking.held"

    booking: Booking


@frozen(kw_only=True)
class BookingConfirmed(Event):
    """A booking was paid (by ``payment_id``) and its seats sold."""

    TYPE: ClassVar[str] = "booking.confirmed"

    booking: Booking
    payment_id: str


@frozen(kw_only=True)
class BookingCancelled(Event):
    """A held or confirmed booking was cancelled and its seats released; ``refund`` is what the
    fare rules gave back of a confirmed one (zero for a fare that refunds nothing; ``None``
    for a hold, which was never paid)."""

    TYPE: ClassVar[str] = "booking.cancelled"

    booking: Booking
    refund: Money | None = None


@frozen(kw_only=True)
class HoldExpired(Event):
    """A hold reached its payment deadline unpaid; its seats are free again."""

    TYPE: ClassVar[str] = "booking.expired"

    booking: Booking


@frozen(kw_only=True)
class PaymentFailed(Event):
    """A payment of a booking failed; the booking stays held until its deadline."""

    TYPE: ClassVar[str] = "payment.failed"

    booking: Booking
    payment_id: str
    #: The provider's reason (``card_declined``, ``insufficient_funds``, ...).
    code: str


@frozen(kw_only=True)
class FlightChanged(Event):
    """An admin changed a flight's times or status; ``previous`` is the flight before."""

    TYPE: ClassVar[str] = "flight.changed"

    flight: Flight
    previous: Flight


@frozen(kw_only=True)
class ReminderDue(Event):
    """A planned reminder of a booking fell due (``kind``: ``check_in``, ``boarding_pass``,
    ``payment_deadline``, ...)."""

    TYPE: ClassVar[str] = "reminder.due"

    reminder_id: str
    kind: str
    booking: Booking
    due_at: datetime
    #: The flight the reminder is about (``None`` for a payment deadline).
    flight_id: str | None = None


EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    kind.TYPE: kind
    for kind in (
        BookingHeld,
        BookingConfirmed,
        BookingCancelled,
        HoldExpired,
        PaymentFailed,
        FlightChanged,
        ReminderDue,
    )
}


@frozen(kw_only=True)
class EncodedEvent:
    """An event as the outbox stores it and the bus carries it."""

    id: str
    type: str
    version: int
    occurred_at: datetime
    #: The event's own fields as a JSON object (without its id and instant).
    payload: str


@frozen(kw_only=True)
class ClaimedEvent:
    """An event a relay claimed from the outbox, with how many times publishing it failed
    before (the relay's backoff and its giving up go by that count)."""

    event: EncodedEvent
    failures: int = 0


@frozen(kw_only=True)
class OutboxStatus:
    """What the outbox holds (``airline outbox status``)."""

    pending: int
    failed: int
    #: When the oldest pending event happened: how far behind the relay is.
    oldest_pending_at: datetime | None = None
    #: Failed events as (event id, type, last error), newest first, at most 20.
    failures: tuple[tuple[str, str, str], ...] = ()


class UnknownEvent(InvalidRequest):
    """A message that is no event this code knows: an unknown type or version, or fields
    that do not make one. Permanent: the same bytes will never decode."""


_converter = make_converter()
_ENVELOPE: Final = frozenset({"id", "occurred_at"})


def encode(event: Event) -> EncodedEvent:
    """The event as the outbox stores it."""
    fields: dict[str, Any] = _converter.unstructure(event)
    for name in _ENVELOPE:
        fields.pop(name)
    return EncodedEvent(
        id=event.id,
        type=event.TYPE,
        version=event.VERSION,
        occurred_at=event.occurred_at,
        payload=json.dumps(fields, separators=(",", ":"), ensure_ascii=False),
    )


def decode(encoded: EncodedEvent) -> Event:
    """The event again.

    :raises UnknownEvent: the type or version is unknown, or the payload does not make one.
    """
    kind = EVENT_TYPES.get(encoded.type)
    if kind is None:
        raise UnknownEvent(f"unknown event type {encoded.type!r}")
    if encoded.version != kind.VERSION:
        raise UnknownEvent(
            f"{encoded.type} version {encoded.version} is not the known {kind.VERSION}"
        )
    try:
        fields = json.loads(encoded.payload)
        if not isinstance(fields, dict):
            raise TypeError("the payload is not a JSON object")
        fields.update(id=encoded.id, occurred_at=_converter.unstructure(encoded.occurred_at))
        return _converter.structure(fields, kind)
    except (ValueError, TypeError, KeyError, cattrs.BaseValidationError) as error:
        raise UnknownEvent(f"{encoded.type} {encoded.id}: the payload does not decode") from error
