"""What the relay, the buses and the consumers agree on.

A :class:`Publisher` takes a batch of encoded events and says, per event, whether the broker
confirmed it (:class:`Published`). A consumer is a :class:`Subscription`: a name (its queue),
the routing keys it wants and a :data:`Handler`. A handler returns normally when the event is
handled (or was handled before: a redelivery), raises :class:`RetryLater` for a failure that may
pass (a provider's 5xx, a timeout) and :class:`Reject` for one that never will (a malformed
message, a provider's 4xx): the bus then retries the delivery later or dead-letters it with the
reason. Any other exception is treated as passing, so a bug is retried a bounded number of times
and then dead-lettered, never lost and never looping for ever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Protocol

from attrs import field, frozen

from airline_core.errors import Unavailable
from airline_core.events import EVENT_TYPES, EncodedEvent

__all__ = [
    "ALL_EVENTS",
    "BatchHandler",
    "BrokerUnavailable",
    "Handler",
    "Outcome",
    "Published",
    "Publisher",
    "Reject",
    "RetryLater",
    "Subscription",
    "topic_matches",
]


class BrokerUnavailable(Unavailable):
    """The message broker cannot be reached (or the connection was lost mid-batch)."""


class RetryLater(Exception):
    """The handler failed in a way that may pass: deliver the event again later."""


class Reject(Exception):
    """The handler can never handle this message: dead-letter it with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: A consumer's work on one event. It may return how it ended for the metrics (``"duplicate"``
#: for a redelivery it had handled before); ``None`` means ``"handled"``.
Handler = Callable[[EncodedEvent], Awaitable[str | None]]

#: What became of one event of a batch: like a :data:`Handler`'s return value, or the
#: exception it would have raised (:class:`RetryLater`, :class:`Reject`, any other).
Outcome = str | None | Exception

#: A consumer's work on several events at once (one outcome per event, in order): what lets a
#: consumer read and write its database once per batch instead of once per message.
BatchHandler = Callable[[Sequence[EncodedEvent]], Awaitable[Sequence[Outcome]]]

#: The routing keys of every event this package knows (``booking.held``, ...).
ALL_EVENTS: tuple[str, ...] = tuple(sorted(EVENT_TYPES))


@frozen
class Subscription:
    """A consumer: ``name`` is its queue, ``keys`` the routing-key patterns it binds (topic
    patterns: ``*`` one word, ``#`` any number), ``handler`` its work."""

    name: str
    keys: tuple[str, ...]
    handler: Handler = field(eq=False)
    #: When given, buses hand over what arrived together through it instead of ``handler``.
    batch: BatchHandler | None = field(default=None, eq=False)

    def wants(self, routing_key: str) -> bool:
        return any(topic_matches(pattern, routing_key) for pattern in self.keys)


@frozen
class Published:
    """What became of a batch: ids the broker confirmed; ids it refused, with why (returned
    as unroutable, or nacked); ids whose fate is unknown because the connection went first."""

    confirmed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    lost: tuple[str, ...] = ()


class Publisher(Protocol):
    async def publish(self, events: Sequence[EncodedEvent]) -> Published:
        """Publish ``events`` (their type is the routing key, their id the message id) and wait
        until the broker confirmed or refused each.

        :raises BrokerUnavailable: nothing could be published (no connection).
        """


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic exchange would route ``routing_key`` to a binding of ``pattern``
    (``*`` is exactly one word, ``#`` zero or more)."""
    return _matches(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@lru_cache(maxsize=1024)
def _matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_matches(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _matches(rest, words[1:])
