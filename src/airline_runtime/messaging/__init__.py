"""Events from the outbox to their consumers: the relay, the in-process bus of the embedded
default and the RabbitMQ adapter (``[rabbitmq]`` extra; import
:mod:`airline_runtime.messaging.rabbitmq` for it)."""

from airline_runtime.messaging.base import (
    ALL_EVENTS,
    BrokerUnavailable,
    Handler,
    Published,
    Publisher,
    Reject,
    RetryLater,
    Subscription,
    topic_matches,
)
from airline_runtime.messaging.inprocess import DeadLetter, InProcessBus
from airline_runtime.messaging.metrics import MessagingMetrics
from airline_runtime.messaging.relay import Relay, RelayRound, relay_owner

__all__ = [
    "ALL_EVENTS",
    "BrokerUnavailable",
    "DeadLetter",
    "Handler",
    "InProcessBus",
    "MessagingMetrics",
    "Published",
    "Publisher",
    "Reject",
    "Relay",
    "RelayRound",
    "RetryLater",
    "Subscription",
    "relay_owner",
    "topic_matches",
]
