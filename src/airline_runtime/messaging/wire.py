"""Events as message bodies: the encoded event's envelope and payload as one JSON object.

The body is self-contained (a message read from a dead-letter queue, or by a tool that knows
nothing of AMQP properties, still says what it is); the AMQP properties repeat the id
(``message_id``), the type and the instant for brokers and dashboards.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Final

import msgspec

from airline_core.events import EncodedEvent, UnknownEvent

__all__ = ["from_body", "to_body"]


def to_body(event: EncodedEvent) -> bytes:
    """The message body of ``event``; its payload is copied as it is, not parsed again."""
    envelope = json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "version": event.version,
            "occurred_at": event.occurred_at.isoformat(),
        },
        separators=(",", ":"),
    )
    return f'{envelope[:-1]},"payload":{event.payload}}}'.encode()


class _Envelope(msgspec.Struct):
    """What :func:`from_body` reads of a body; the payload is kept as its raw JSON text (valid
    JSON, checked while the body is parsed), not parsed into objects and encoded again."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    type: Annotated[str, msgspec.Meta(min_length=1)]
    version: int
    occurred_at: str
    payload: msgspec.Raw


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)


def from_body(body: bytes) -> EncodedEvent:
    """The encoded event in a message body.

    :raises UnknownEvent: the body is no event envelope (the payload is checked by
        :func:`airline_core.events.decode`).
    """
    try:
        envelope = _ENVELOPE.decode(body)
        occurred_at = datetime.fromisoformat(envelope.occurred_at)
        payload = bytes(envelope.payload).decode()
    except (msgspec.DecodeError, ValueError) as error:  # ValidationError is a DecodeError
        raise UnknownEvent(f"the message is no event envelope: {error}") from error
    if occurred_at.tzinfo is None or not payload.startswith("{"):
        raise UnknownEvent("the message is no event envelope: naive instant or no payload")
    return EncodedEvent(
        id=envelope.id,
        type=envelope.type,
        version=envelope.version,
        occurred_at=occurred_at,
        payload=payload,
    )
