"""Notification templates: Jinja2, the package's own unless an operator's folder has a file of
the same name.

A template family ``F`` (``booking_confirmed``) is up to four files: ``F.subject.txt``,
``F.txt`` (the plain-text email), ``F.html`` (the HTML email, autoescaped) and ``F.sms.txt``.
Templates see ``name`` (the recipient), ``booking``, ``event``, ``flights`` (number, origin,
destination, and departure and arrival in each airport's local time), ``seats``, ``total``,
``passengers``, ``cabin``, ``pay_by`` and ``price_guaranteed_until`` (in the first departure's
local time), and per event ``refund``/``refund_is_zero`` (cancelled) or ``reason`` (payment
failed). A reminder (``reminder_<kind>``: ``reminder_check_in``, ``reminder_boarding_pass``,
``reminder_payment_deadline``, ``reminder_flight_changed``) also sees ``kind`` (the reminder's
kind), ``flight`` (the flight it is about, as an entry of ``flights`` is: its own flight, else
the booking's first; ``None`` when the booking has no flight left), ``flight_seats`` (the seats
on that flight, ``Ann Traveller: 12A``) and ``due`` (when it fell due, in the local time of
that flight's origin). Every event has these names: ``""``, ``None``, ``[]`` and ``""`` when it
is no reminder. Flights are as they are now, so a changed flight shows its new time and status
(``scheduled``, ``delayed``, ``cancelled``). An unknown name in a template is an error, not an
empty string: a typo in an override fails its messages (dead-lettered with the reason) instead
of sending blanks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from attrs import define, field

from airline_core.booking.model import Booking
from airline_core.catalog.model import Flight
from airline_core.events import BookingCancelled, Event, PaymentFailed, ReminderDue
from airline_core.money import Money
from airline_core.notifications import Channel, EmailMessage, Notice, SmsMessage

__all__ = ["TemplateError", "Templates", "local_time"]

#: SMS text longer than this is cut (10 concatenated segments of 153 characters).
SMS_LIMIT = 1530


class TemplateError(Exception):
    """A template is missing or fails to render: the same message will always fail."""


@lru_cache(maxsize=4096)
def local_time(instant: datetime, zone: str) -> str:
    """``Mon 02 Mar 2030 09:00 GMT``: the instant in the zone, with its abbreviation
    (remembered: the bookings of one flight all show its times)."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M %Z")


def _money(amount: Money) -> str:
    return f"{amount.currency} {amount.amount}"


_REASONS = {
    "card_declined": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "PaymentGatewayUnavailable": "the payment provider could not be reached",
    "capture_failed": "the payment could not be completed",
    "InvalidRequest": "the payment method was not accepted",
}


def _seats(booking: Booking, flights: Sequence[Flight], only: str | None = None) -> list[str]:
    """``Ann Traveller: 12A`` per seat (``on BA117`` added when the booking has several
    flights); with ``only``, the seats on that flight alone, without the flight."""
    numbers = {flight.id: flight.number for flight in flights}
    lines = []
    for seat in booking.seats if only is None else booking.seats_on(only):
        passenger = booking.passengers[seat.passenger]
        line = f"{passenger.given_name} {passenger.family_name}: {seat.seat}"
        if only is None and len(booking.flight_ids) > 1:
            line += f" on {numbers.get(seat.flight_id, 'a flight no longer scheduled')}"
        lines.append(line)
    return lines


def _flight_view(flight: Flight) -> dict[str, str]:
    """A flight as templates see it: its times in each airport's local time."""
    return {
        "number": flight.number,
        "origin": flight.origin,
        "destination": flight.destination,
        "departs": local_time(flight.departs_at, flight.origin_time_zone),
        "arrives": local_time(flight.arrives_at, flight.destination_time_zone),
        "status": flight.status.value,
    }


@define
class Templates:
    #: A folder whose files replace the package's templates of the same name.
    override: Path | None = None
    _environment: jinja2.Environment = field(init=False)
    _loaded: dict[str, jinja2.Template] = field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if self.override is not None:
            loaders.append(jinja2.FileSystemLoader(self.override))
        loaders.append(jinja2.PackageLoader("airline_runtime.notify", "templates"))
        self._environment = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            # Templates are read once: checking each file's time on every use cost a tenth of
            # the worker's time. A changed override takes effect on restart.
            auto_reload=False,
            trim_blocks=True,
        )

    def context(self, event: Event, flights: Sequence[Flight]) -> dict[str, Any]:
        """What the templates of the event's notices see (:meth:`render` adds each one's
        ``name``): made once per event, however many notices it sends."""
        booking = event.booking  # type: ignore[attr-defined]
        zone = flights[0].origin_time_zone if flights else "UTC"
        views = [_flight_view(flight) for flight in flights]
        context: dict[str, Any] = {
            "event": event,
            "booking": booking,
            "flights": views,
            "seats": _seats(booking, flights),
            "total": _money(booking.total),
            "passengers": len(booking.passengers),
            "cabin": booking.cabin.value.replace("_", " "),
            "pay_by": local_time(booking.payment_required_by, zone),
            "price_guaranteed_until": local_time(booking.price_guarantee_expires_at, zone),
            "refund": None,
            "refund_is_zero": False,
            "reason": "",
            "kind": "",
            "flight": None,
            "flight_seats": [],
            "due": "",
        }
        if isinstance(event, BookingCancelled) and event.refund is not None:
            context["refund"] = _money(event.refund)
            context["refund_is_zero"] = event.refund.minor_units == 0
        if isinstance(event, PaymentFailed):
            context["reason"] = _REASONS.get(event.code, event.code.replace("_", " "))
        if isinstance(event, ReminderDue):
            # Its own flight; a payment deadline has none, and a flight deleted since is not
            # among ``flights``: the first flight then.
            index = next((i for i, flight in enumerate(flights) if flight.id == event.flight_id), 0)
            about = flights[index] if flights else None
            context["kind"] = event.kind
            context["flight"] = views[index] if views else None
            if about is not None:
                context["flight_seats"] = _seats(booking, [about], about.id)
            context["due"] = local_time(
                event.due_at, about.origin_time_zone if about is not None else zone
            )
        return context

    def render(self, notice: Notice, context: Mapping[str, Any]) -> EmailMessage | SmsMessage:
        """The message of ``notice``.

        :raises TemplateError: a template of its family is missing or does not render.
        """
        family = notice.template
        context = {**context, "name": notice.name}
        if notice.channel is Channel.SMS:
            text = " ".join(self._render(f"{family}.sms.txt", context).split())
            return SmsMessage(key=notice.key, to=notice.to, text=text[:SMS_LIMIT])
        subject = " ".join(self._render(f"{family}.subject.txt", context).split())
        return EmailMessage(
            key=notice.key,
            to=notice.to,
            name=notice.name,
            subject=subject,
            text=self._render(f"{family}.txt", context).strip() + "\n",
            html=self._render(f"{family}.html", context),
        )

    def _template(self, name: str) -> jinja2.Template:
        template = self._loaded.get(name)
        if template is None:
            template = self._environment.get_template(name)
            # Its globals are a ChainMap over the environment's, copied into every render's
            # context: flattened once, the copy is a plain dict's (the globals never change).
            template.globals = dict(template.globals)
            self._loaded[name] = template
        return template

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self._template(name).render(context)
        except jinja2.TemplateNotFound as error:
            raise TemplateError(f"no template {error.name}") from error
        except jinja2.TemplateError as error:
            raise TemplateError(f"template {name}: {error}") from error
