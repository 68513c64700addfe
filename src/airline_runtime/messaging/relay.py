"""The outbox relay: claim a batch of events, publish it, drop what the broker confirmed.

One round (:meth:`Relay.run_once`) is: claim up to ``batch`` due events with a lease; publish
them all at once and wait for every confirmation; delete the confirmed ones; for each event the
broker refused, count a failure and try it again after a backoff (1 s, 2 s, 4 s, ... up to
``max_backoff``), or, after ``max_failures`` failures, mark it failed for an operator
(``airline outbox status``, ``airline outbox requeue``). An event whose fate is unknown (the
connection dropped before its confirmation, or before it was published) is released without a
failure counted, so that whichever relay reaches the broker first sends it again at once
rather than when the lease lapses; sending it twice is safe because consumers deduplicate by
the event id. Only a relay that dies, or loses the database as well, leaves its claims to
lapse.

:meth:`Relay.run` repeats rounds: at once while batches come back full, every ``idle`` seconds
when the outbox is drained, and with a growing pause (up to ``max_outage_pause``) while the
broker or the database is down. Several relays may run at once, in several processes or hosts: the
outbox's leases keep their batches apart.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import timedelta

import anyio
from attrs import define, field, frozen
from sqlalchemy.exc import DBAPIError

from airline_core.errors import Unavailable
from airline_core.ids import new_id
from airline_core.ports import Clock, OutboxStore
from airline_runtime.messaging.base import Publisher
from airline_runtime.messaging.metrics import MessagingMetrics

__all__ = ["Relay", "RelayRound", "relay_owner"]

logger = logging.getLogger(__name__)


def relay_owner() -> str:
    """A name for this relay that no other relay has: host, process and a fresh id."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{new_id()[-8:]}"


@frozen
class RelayRound:
    """What one round did."""

    claimed: int = 0
    published: int = 0
    retried: int = 0
    gave_up: int = 0
    lost: int = 0


@define
class Relay:
    outbox: OutboxStore
    publisher: Publisher
    clock: Clock
    #: How many events one round claims and publishes at once.
    batch: int = 200
    #: How long a claim lasts: longer than a round takes, short enough that events of a relay
    #: that died go out again soon.
    lease: timedelta = timedelta(seconds=60)
    #: The pause between rounds while the outbox is empty, in seconds.
    idle: float = 0.2
    #: The first wait after a failure; it doubles with each further one.
    first_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=5)
    #: The longest pause between tries while the broker or the database is down.
    max_outage_pause: timedelta = timedelta(seconds=30)
    #: Failures (refusals by the broker) after which an event is given up.
    max_failures: int = 12
    #: Rounds in flight at once in this relay (their claims never overlap).
    parallel: int = 2
    owner: str = field(factory=relay_owner)
    metrics: MessagingMetrics = field(factory=MessagingMetrics)

    def backoff(self, failures: int) -> timedelta:
        """The wait after the ``failures``-th failure (1-based)."""
        return min(self.first_backoff * (1 << min(failures - 1, 30)), self.max_backoff)

    async def run_once(self) -> RelayRound:
        """One round: claim, publish, settle.

        :raises BrokerUnavailable: nothing could be published; the claims are released.
        """
        now = self.clock.now()
        claimed = await self.outbox.claim(self.owner, now, self.lease, self.batch)
        if not claimed:
            return RelayRound()
        try:
            result = await self.publisher.publish([entry.event for entry in claimed])
        except Exception:
            await self._release([entry.event.id for entry in claimed])
            raise
        if result.confirmed:
            await self.outbox.sent(self.owner, result.confirmed)
        if result.lost:
            await self._release(result.lost)
        confirmed, refused = set(result.confirmed), dict(result.failed)
        retried = gave_up = 0
        for entry in claimed:
            reason = refused.get(entry.event.id)
            if reason is None:
                continue
            failures = entry.failures + 1
            if failures >= self.max_failures:
                await self.outbox.retry(self.owner, entry.event.id, reason, None)
                gave_up += 1
                logger.error(
                    "outbox: gave up on event %s (%s) after %d failures: %s",
                    entry.event.id,
                    entry.event.type,
                    failures,
                    reason,
                )
            else:
                next_attempt = now + self.backoff(failures)
                await self.outbox.retry(self.owner, entry.event.id, reason, next_attempt)
                retried += 1
        self.metrics.relayed(
            [entry.event.type for entry in claimed if entry.event.id in confirmed],
            retried=retried,
            gave_up=gave_up,
        )
        return RelayRound(
            claimed=len(claimed),
            published=len(result.confirmed),
            retried=retried,
            gave_up=gave_up,
            lost=len(result.lost),
        )

    async def _release(self, event_ids: Sequence[str]) -> None:
        """Release claims whose fate is unknown; should the database fail too, their leases
        lapse instead."""
        try:
            await self.outbox.release(self.owner, event_ids)
        except Exception as error:  # noqa: BLE001 - the lease is the fallback
            logger.warning("outbox relay: claims left to lapse (%s)", _reason(error))

    def _outage_pause(self, outages: int) -> float:
        return min(self.backoff(outages), self.max_outage_pause).total_seconds()

    async def run(self) -> None:
        """Relay for ever (until cancelled), ``parallel`` rounds at a time: while one waits for
        the broker's confirmations, another claims and publishes the next batch."""
        async with anyio.create_task_group() as group:
            for _ in range(self.parallel):
                group.start_soon(self._rounds)

    async def _rounds(self) -> None:
        outages = 0
        while True:
            try:
                done = await self.run_once()
            except Exception as error:
                if not isinstance(error, Unavailable | DBAPIError | OSError):
                    logger.exception("outbox relay: a round failed")
                outages += 1
                pause = self._outage_pause(outages)
                logger.warning("outbox relay: %s; next try in %.0f s", _reason(error), pause)
                await anyio.sleep(pause)
                continue
            if done.lost:
                outages += 1
                await anyio.sleep(self._outage_pause(outages))
                continue
            if outages:
                logger.info("outbox relay: publishing again")
            outages = 0
            if done.claimed < self.batch:
                await anyio.sleep(self.idle)


def _reason(error: Exception) -> str:
    if isinstance(error, DBAPIError):
        return f"database unreachable ({type(error.orig).__name__})"
    return str(error) or type(error).__name__
