"""The request journal: what the gateway keeps of each answered request until a batch is due.

On every request the gateway appends one tuple (:data:`Answered`) to the journal and does
nothing else for the metrics and the access log. When a batch is due, the journal counts its
requests in the app's :class:`~airline_runtime.http.observability.HttpMetrics` and writes their
access lines in one write (:func:`airline_runtime.logs.write_access`). A batch is due when
:data:`~airline_runtime.logs.ACCESS_FLUSH_LINES` requests wait, ``AIRLINE_LOG_FLUSH_MS`` after
the first of them (0: at once), before any other log line is written (so lines keep their
order), before the metrics are read (a scrape, a worker writing its file) and at exit.

Why batches: on a cheap request the edge's bookkeeping is a large share of the answer, and
each step of it spread over the requests runs amid their other code, where the processor's
caches hold something else: measured under load on a two-core host, each microsecond of work
on a request's path cost the server two to three. The same work for 64 requests in one loop
runs at its in-process speed. Nothing is lost by waiting: a request's timestamp is taken from
the clock reading the gateway makes anyway for its duration, and the metrics a scrape sees
include every request answered before it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from time import perf_counter
from typing import Final

from airline_core.identity.model import Principal
from airline_runtime import logs
from airline_runtime.http.observability import Answered, HttpMetrics
from airline_runtime.logs import ACCESS_FLUSH_LINES, AccessLine

__all__ = ["RequestJournal"]

_BATCH: Final = ACCESS_FLUSH_LINES
#: A batch whose time is up within this many seconds is written now rather than waited for.
_TIMER_SLACK: Final = 0.001


class RequestJournal:
    """The answered requests of one app that wait for their batch (see the module's
    documentation).

    The gateway appends to :attr:`pending` itself and calls :meth:`due` when the first request
    of a batch or a full batch waits. Appending happens on the event loop's thread; a batch may
    be written from any thread (another logger's line, a scrape), so writing holds a lock and
    takes the requests out of the deque one by one: one appended meanwhile waits for the next
    batch, never lost.

    :param metrics: where to count the requests; ``None`` counts nothing.
    """

    def __init__(self, metrics: HttpMetrics | None = None) -> None:
        self.metrics = metrics
        self.pending: deque[Answered] = deque()
        self._writing = threading.Lock()
        #: The loop on which the batch timer is armed; ``None`` when none is.
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        logs.defer(self)
        if metrics is not None:
            metrics.read_after(self.flush)
        # Held weakly by the log module: a journal collected with requests still waiting
        # writes their lines first (and at exit, as the module's flush does for live ones).
        # Not the metrics: they hold this journal, so they are gone too when it is, and holding
        # them here would keep both alive for ever.
        weakref.finalize(self, _write, self.pending, None, self._writing)

    def add(self, answered: Answered) -> None:
        """Keep one answered request for its batch (the gateway does the same inline)."""
        pending = self.pending
        pending.append(answered)
        if len(pending) == 1 or len(pending) >= _BATCH:
            self.due()

    def due(self) -> None:
        """The first request of a batch, or a full batch, waits: write now, or plan to.

        One timer at a time: a full batch written before its timer fired leaves the timer armed,
        and when it fires it writes the batch that waits then only if its first request has
        waited its time, else it waits for the rest of that time (a timer per batch would write
        each new batch when an earlier batch's time was up, a fraction of its own).
        """
        if len(self.pending) >= _BATCH:
            self.flush()
            return
        seconds = logs.access_flush_seconds()
        if seconds <= 0:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to wait on: write now
            self.flush()
            return
        if self._timer_loop is not loop:  # none armed, or armed on a loop that is gone
            self._timer_loop = loop
            loop.call_later(seconds, self._time_up, loop)

    def _time_up(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer fired: write the waiting batch if its first request has waited its time,
        else wait for the rest of it."""
        if self._timer_loop is not loop:  # a newer loop has a timer of its own
            return
        try:
            first_ended = self.pending[0][8]
        except IndexError:  # nothing waits (written meanwhile): the next request arms a timer
            self._timer_loop = None
            return
        seconds = logs.access_flush_seconds()
        left = first_ended + seconds - perf_counter()
        if seconds > 0 and left > _TIMER_SLACK:
            loop.call_later(left, self._time_up, loop)
            return
        self._timer_loop = None
        self.flush()

    def flush(self) -> None:
        """Count and log every request that waits (and wait for a batch another thread is
        writing, so that a line logged after it is written after it)."""
        _write(self.pending, self.metrics, self._writing)


def _write(pending: deque[Answered], metrics: HttpMetrics | None, writing: threading.Lock) -> None:
    with writing:
        answered = []
        while pending:
            answered.append(pending.popleft())
        if not answered:
            return
        if metrics is not None:
            metrics.record_answered(answered)
        if logs.access_enabled():
            logs.write_access(_lines(answered))


def _lines(answered: list[Answered]) -> list[AccessLine]:
    """The access lines of a batch; each request's wall-clock time from its end on the
    performance counter (the two clocks' difference read once per batch)."""
    offset = time.time() - perf_counter()
    stamps = logs.access_timestamps([int((record[8] + offset) * 1_000_000) for record in answered])
    return [
        AccessLine(
            request_id,
            method,
            path,
            route,
            status,
            int(seconds * 1_000_000) / 1000,  # milliseconds to the microsecond
            user.user_id if isinstance(user, Principal) else None,
            client[0] if client else None,
            stamp,
        )
        for (request_id, method, path, route, status, seconds, user, client, _), stamp in zip(
            answered, stamps, strict=True
        )
    ]
