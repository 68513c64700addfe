"""Events as message bodies: the encoded event's envelope and payload as one JSON object.

The body is self-contained (a message read from a dead-letter queue, or by a tool that knows
nothing of AMQP properties, still says what it is); the AMQP properties repeat the id
(``message_id``), the type and the instant for brokers and dashboards.
"""

from __future__ import annotations

import json
from datetime import datetime

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


def from_body(body: bytes) -> EncodedEvent:
    """The encoded event in a message body.

    :raises UnknownEvent: the body is no event envelope (the payload is checked by
        :func:`airline_core.events.decode`).
    """
    try:
        envelope = json.loads(body)
        payload = envelope["payload"]
        occurred_at = datetime.fromisoformat(envelope["occurred_at"])
        event = EncodedEvent(
            id=_text(envelope["id"]),
            type=_text(envelope["type"]),
            version=int(envelope["version"]),
            occurred_at=occurred_at,
            payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        )
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as error:
        raise UnknownEvent(f"the message is no event envelope: {error}") from error
    if occurred_at.tzinfo is None or not isinstance(payload, dict):
        raise UnknownEvent("the message is no event envelope: naive instant or no payload")
    return event


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("id and type must be non-empty strings")
    return value
