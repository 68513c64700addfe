"""What the traveller is told, and to whom: notices planned from events, and the messages a
:class:`~airline_core.ports.Notifier` sends.

:func:`plan_notices` is the rule book. Every passenger of a booking gets the booking's emails at
their own address; the events that matter on the move (a confirmation, a cancellation, a
reminder) also go by SMS to every passenger who gave a phone. A passenger without a phone gets
no SMS and that is no error. One address shared by several passengers gets one message.

Each notice has a key made from the event id, the channel and the recipient, the same however
often the event is delivered: the worker records a notice as sent under its key, so a
redelivered event sends only what was not sent yet, and a file or provider that takes the key
as its own id (the console notifier's file name, an SMTP ``Message-ID``) sees the same message
again rather than a new one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Final

from attrs import frozen

from airline_core.booking.model import Booking
from airline_core.errors import AirlineError
from airline_core.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingHeld,
    Event,
    HoldExpired,
    PaymentFailed,
    ReminderDue,
)

__all__ = [
    "Channel",
    "DeliveryFailed",
    "EmailMessage",
    "InboxProgress",
    "Notice",
    "NoticeRecord",
    "NoticeStatus",
    "Settlement",
    "SmsMessage",
    "notice_key",
    "plan_notices",
]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@frozen(kw_only=True)
class Notice:
    """One message to one recipient, before it is rendered."""

    key: str
    event_id: str
    event_type: str
    channel: Channel
    #: An email address or an E.164 phone number.
    to: str
    #: The recipient's name as the booking has it.
    name: str
    #: The template family (``booking_confirmed``): its subject, text, HTML and SMS parts.
    template: str


@frozen(kw_only=True)
class EmailMessage:
    key: str
    to: str
    name: str
    subject: str
    text: str
    html: str


@frozen(kw_only=True)
class SmsMessage:
    key: str
    to: str
    text: str


class NoticeStatus(StrEnum):
    SENT = "sent"
    #: Refused for good by the provider (a 4xx); kept with the reason.
    FAILED = "failed"


@frozen(kw_only=True)
class NoticeRecord:
    """What became of a notice (the worker's record, one per key)."""

    key: str
    message_id: str
    event_type: str
    channel: Channel
    to: str
    template: str
    status: NoticeStatus
    at: datetime
    #: The provider's id of the message (the file name for the console notifier).
    provider_id: str | None = None
    error: str | None = None


@frozen
class InboxProgress:
    """How far a consumer got with a message: finished, and which notices went out."""

    finished: bool = False
    sent: frozenset[str] = frozenset()


@frozen
class Settlement:
    """What one message came to: the records of its notices, and whether it is finished."""

    message_id: str
    records: tuple[NoticeRecord, ...] = ()
    finished: bool = False


class DeliveryFailed(AirlineError):
    """A notifier could not send a message. ``permanent``: the provider refused it for good
    (an address it rejects, a 4xx answer); otherwise it may go through later (5xx, timeout,
    connection refused)."""

    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.permanent = permanent


#: Event type -> (template family, whether it also goes by SMS).
_BOOKING_NOTICES: Final[dict[type[Event], tuple[str, bool]]] = {
    BookingHeld: ("booking_held", False),
    BookingConfirmed: ("booking_confirmed", True),
    BookingCancelled: ("booking_cancelled", True),
    HoldExpired: ("booking_expired", False),
    PaymentFailed: ("payment_failed", False),
}
#: Reminder kinds that go by SMS as well as email.
_SMS_REMINDERS: Final = frozenset({"check_in", "boarding_pass", "flight_changed"})


def notice_key(event_id: str, channel: Channel, to: str) -> str:
    """The notice's key: the event, the channel and a digest of the address (an address is
    no file name and may be long), 26 + 1 + 5 + 1 + 12 characters at most."""
    digest = hashlib.sha256(to.encode()).hexdigest()[:12]
    return f"{event_id}.{channel.value}.{digest}"


def plan_notices(event: Event) -> list[Notice]:
    """The notices ``event`` sends, email first; none for an event that tells travellers
    nothing (a flight change reaches them as a reminder of kind ``flight_changed``)."""
    booking: Booking
    if isinstance(event, ReminderDue):
        template, sms = f"reminder_{event.kind}", event.kind in _SMS_REMINDERS
        booking = event.booking
    elif type(event) in _BOOKING_NOTICES:
        template, sms = _BOOKING_NOTICES[type(event)]
        booking = event.booking  # type: ignore[attr-defined]
    else:
        return []
    notices: list[Notice] = []
    seen: set[tuple[Channel, str]] = set()
    channels = (Channel.EMAIL, Channel.SMS) if sms else (Channel.EMAIL,)
    for channel in channels:
        for passenger in booking.passengers:
            to = passenger.email if channel is Channel.EMAIL else passenger.phone
            if to is None or (channel, to) in seen:
                continue
            seen.add((channel, to))
            notices.append(
                Notice(
                    key=notice_key(event.id, channel, to),
                    event_id=event.id,
                    event_type=event.TYPE,
                    channel=channel,
                    to=to,
                    name=f"{passenger.given_name} {passenger.family_name}",
                    template=template,
                )
            )
    return notices
