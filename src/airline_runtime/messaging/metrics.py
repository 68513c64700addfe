"""Prometheus counters of the relay and the consumers.

The API's ``/metrics`` shows them when the relay and the worker run in its process (``airline
demo``); ``airline worker`` and ``airline outbox relay`` serve them on ``--metrics-port``.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter

__all__ = ["OUTCOMES", "MessagingMetrics"]

#: What became of a consumed message.
OUTCOMES: Final = ("handled", "duplicate", "retried", "dead_lettered")


class MessagingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.published = Counter(
            "events_published",
            "Events the broker confirmed, by type.",
            ["type"],
            namespace="airline",
            registry=self.registry,
        )
        self.publish_retries = Counter(
            "events_publish_retries",
            "Publishes the broker refused (returned or nacked), to be tried again.",
            namespace="airline",
            registry=self.registry,
        )
        self.given_up = Counter(
            "events_given_up",
            "Events the relay stopped trying to publish (see `airline outbox status`).",
            namespace="airline",
            registry=self.registry,
        )
        self.consumed = Counter(
            "messages_consumed",
            "Messages a consumer finished with, by consumer and outcome (handled, duplicate: a "
            "redelivery the inbox absorbed, retried, dead_lettered).",
            ["consumer", "outcome"],
            namespace="airline",
            registry=self.registry,
        )
        self.notifications = Counter(
            "notifications",
            "Notifications by channel and outcome (sent, failed: given up for good).",
            ["channel", "outcome"],
            namespace="airline",
            registry=self.registry,
        )

    def relayed(self, types: Iterable[str], *, retried: int = 0, gave_up: int = 0) -> None:
        for kind, count in Tally(types).items():
            self.published.labels(kind).inc(count)
        if retried:
            self.publish_retries.inc(retried)
        if gave_up:
            self.given_up.inc(gave_up)

    def finished(self, consumer: str, outcome: str) -> None:
        self.consumed.labels(consumer, outcome).inc()

    def notified(self, channel: str, outcome: str) -> None:
        self.notifications.labels(channel, outcome).inc()
