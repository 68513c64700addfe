"""Structured logs: one JSON object per line (or a readable console form), from every logger.

Two kinds of producer share one format:

- our own events go through :mod:`structlog` straight to the stream (``structlog.get_logger()``):
  no :class:`logging.LogRecord` is built, which matters for the access line written on every
  request;
- everything written with :mod:`logging` (uvicorn, Litestar, SQLAlchemy, our
  ``logging.getLogger(...)`` loggers, tracebacks) reaches a root handler whose
  :class:`structlog.stdlib.ProcessorFormatter` runs the same processors and renderer.

Both add the id of the request being served (:data:`request_id`, set by the request middleware)
and merge :mod:`structlog.contextvars`, so every line logged while a request runs carries its id,
whoever logs it.

The access line, written once per request, takes a shorter road in the JSON format
(:func:`write_access`): a batch of lines is encoded in one step, a fraction of a microsecond a
line where the processor chain costs several microseconds, which counts on an API's hottest
path. Access lines are written in batches, as nginx's ``access_log ... buffer= flush=`` does:
the gateway's request journal (:mod:`airline_runtime.http.journal`) keeps what it needs of each
answered request and makes the lines of up to :data:`ACCESS_FLUSH_LINES` requests at once, or
``settings.log_flush_ms`` (``AIRLINE_LOG_FLUSH_MS``, 100 ms by default; 0 writes each line at
once) after the first of them, whichever comes first, in one write (one system call instead of
one per request). Whatever holds lines back registers with :func:`defer`: any other line
written to the stream first writes the waiting access lines, so the order of lines is kept;
:func:`flush` writes what waits (the process does it at exit).

Nothing happens at import time: entry points call :func:`configure_logging` (the CLI before
uvicorn starts, the app factory in each worker process).
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
import weakref
from contextvars import ContextVar
from time import time_ns
from typing import Any, Final, Protocol, TextIO, cast

import msgspec
import structlog
from structlog.typing import EventDict, Processor

from airline_runtime.settings import Settings

__all__ = [
    "ACCESS_FLUSH_LINES",
    "AccessLine",
    "Deferred",
    "access_enabled",
    "access_flush_seconds",
    "access_timestamps",
    "configure_logging",
    "defer",
    "flush",
    "request_id",
    "write_access",
]

#: Access lines are written when this many wait (or when the oldest has waited its time).
#: A batch's work runs in one tight loop, where the same work spread over its requests runs
#: amid each request's other code, several times slower.
ACCESS_FLUSH_LINES: Final = 64

#: The id of the request being served; ``None`` outside requests.
request_id: ContextVar[str | None] = ContextVar("airline_request_id", default=None)


def _add_request_id(logger: Any, method_name: str, event: EventDict) -> EventDict:
    current = request_id.get()
    if current is not None:
        event.setdefault("request_id", current)
    return event


#: Loggers that uvicorn gives handlers of its own; ours replace them so every line has one format.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
#: uvicorn's access log: silenced, since the gateway writes each request's line itself.
_UVICORN_ACCESS = "uvicorn.access"


class _AirlineHandler(logging.StreamHandler[TextIO]):
    """The root handler this module installs; its class tells a repeat call which one to replace
    (pytest's capture handlers and anyone else's stay where they are)."""


def _encode_unknown(value: Any) -> str:
    # A log line must never fail to render: whatever msgspec cannot encode is written as its repr.
    return repr(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_encode_unknown)


def _dumps(event: dict[str, Any], **_ignored: Any) -> str:
    """JSON for :class:`structlog.processors.JSONRenderer`, several times faster than
    :func:`json.dumps` (this runs for every request's access line)."""
    return _ENCODER.encode(event).decode()


_THREE_DIGITS: Final = tuple(f"{number:03d}" for number in range(1000))


class _UtcTimestamp:
    """Adds ``timestamp``: ISO 8601 in UTC with microseconds (``2026-05-01T09:30:00.123456Z``),
    as ``TimeStamper(fmt="iso", utc=True)`` writes it but several times faster: the date and time
    of day are formatted once per second, not on every line."""

    def __init__(self) -> None:
        #: The second, and its text up to the decimal point.
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self, logger: Any, method_name: str, event: EventDict) -> EventDict:
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        return self.at(time_ns() // 1000)  # whole integers: no float to round on every line

    def many(self, micros: list[int]) -> list[str]:
        """The timestamps of a batch of instants (microseconds since the epoch), as :meth:`at`
        writes each, at a fraction of its cost: the fraction of a second from two table
        lookups instead of ``%06d``."""
        cached_second, prefix = self._cached
        stamps: list[str] = []
        add = stamps.append
        for instant in micros:
            second, fraction = divmod(instant, 1_000_000)
            if second != cached_second:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
                cached_second = second
            milliseconds, rest = divmod(fraction, 1000)
            add(prefix + _THREE_DIGITS[milliseconds] + _THREE_DIGITS[rest] + "Z")
        self._cached = (cached_second, prefix)
        return stamps

    def at(self, micros: int) -> str:
        """The timestamp of ``micros`` microseconds since the epoch."""
        second, fraction = divmod(micros, 1_000_000)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            # One tuple, so a thread never pairs one second with another's text.
            self._cached = (second, prefix)
        return "%s%06dZ" % (prefix, fraction)  # noqa: UP031 - the fastest form, on every access line


def _renderer(log_format: str, stream: TextIO) -> tuple[list[Processor], Processor]:
    """The processors that prepare an event for rendering, and the renderer itself."""
    if log_format == "console":
        colors = bool(getattr(stream, "isatty", lambda: False)())
        # The console renderer prints exc_info itself, with a readable traceback.
        return [], structlog.dev.ConsoleRenderer(colors=colors)
    return [structlog.processors.format_exc_info], structlog.processors.JSONRenderer(
        serializer=_dumps
    )


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to ``stream`` (standard error by default) in
    ``settings.log_format``, at ``settings.log_level``, with ISO 8601 UTC timestamps.

    Safe to call again: the structlog configuration and this module's root handler are replaced,
    not added to. Loggers obtained and bound *before* a call keep the configuration they were made
    with (the request middleware binds its logger when the app is built, after this call).
    """
    stream = sys.stderr if stream is None else stream
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    prepare, render = _renderer(settings.log_format, stream)
    timestamp = _UtcTimestamp()
    shared: list[Processor] = [
        _add_request_id,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        timestamp,
    ]
    global _access  # noqa: PLW0603 - the access line's writer follows the one configuration
    json_lines = settings.log_format == "json"
    _write_deferred()
    _access = _AccessLog(
        stream,
        timestamp,
        enabled=level <= logging.INFO,
        flush_seconds=settings.log_flush_ms / 1000,
        console=None if json_lines else render,
    )
    # Every other writer goes through this, which writes the waiting access lines first.
    writer = cast(TextIO, _AfterAccessLines(stream))

    structlog.configure(
        processors=[*shared, *prepare, render],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=writer),
        context_class=dict,
        # Off so that a later configure_logging (tests, embedding) reaches module-level loggers;
        # the one hot logger (the access log) is bound once when the app is built.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *prepare, render],
    )
    handler = _AirlineHandler(writer)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AirlineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

    for name in _UVICORN_LOGGERS:
        # uvicorn's dictConfig runs in every worker before the app factory; undo its handlers so
        # its lines reach ours instead of being printed twice in two formats.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # No handler and no propagation: uvicorn checks `hasHandlers()` when a connection opens and,
    # finding none, neither writes a second access line per request nor formats its arguments
    # (it does that before the level check; ~10 k instructions a request, see benchmarks.md).
    access = logging.getLogger(_UVICORN_ACCESS)
    access.handlers.clear()
    access.propagate = False


class AccessLine(msgspec.Struct, gc=False):
    """One request's access line, as the gateway logs it once the request is answered."""

    request_id: str
    method: str
    path: str
    #: The matched route template (``/api/v1/flights/{flight_id}``), ``unmatched`` for none.
    route: str
    status: int
    duration_ms: float
    user_id: str | None
    client: str | None
    timestamp: str = ""
    event: str = "request"
    level: str = "info"
    logger: str = "airline.access"

    def fields(self) -> dict[str, Any]:
        """The request's own fields, for a logger that adds the rest itself."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if name not in _ACCESS_LOGGER_FIELDS
        }


_ACCESS_LOGGER_FIELDS = frozenset({"timestamp", "event", "level", "logger"})


class Deferred(Protocol):
    """Something holding log lines back for a batch (the gateway's request journal): it writes
    them when :meth:`flush` is called."""

    def flush(self) -> None: ...


class _AccessLog:
    """Where access lines go: encoded in one step and written to the stream in one write per
    batch; in the console format, each rendered by the console renderer; before
    :func:`configure_logging` (``stream`` None), through structlog's defaults.

    Batches are written to the stream itself, never through structlog's logger: that logger
    holds its stream's lock while it writes, and its writes first write what journals hold
    back, so a journal writing through it could wait on a lock its own thread or another one
    holding the journal's lock already has.
    """

    def __init__(
        self,
        stream: TextIO | None,
        timestamp: _UtcTimestamp,
        *,
        enabled: bool,
        flush_seconds: float = 0.0,
        console: Processor | None = None,
    ) -> None:
        self.stream = stream
        self.timestamp = timestamp
        self.enabled = enabled
        self.flush_seconds = flush_seconds
        self.console = console

    def write(self, lines: list[AccessLine]) -> None:
        stream = self.stream
        if stream is None:
            log = structlog.get_logger()
            for line in lines:
                log.info("request", logger="airline.access", **line.fields())
            return
        console = self.console
        if console is None:
            # One call encodes the batch: a call per line costs more than its encoding.
            stream.write(_ENCODER.encode_lines(lines).decode())
        else:
            rendered = (
                cast(str, console(None, "info", {f: getattr(line, f) for f in _CONSOLE_ORDER}))
                for line in lines
            )
            stream.write("".join(f"{text}\n" for text in rendered))
        stream.flush()


#: The access line's fields in the order the console renderer is given them (it puts the
#: timestamp, level and event first itself).
_CONSOLE_ORDER: Final = (
    "timestamp",
    "level",
    "event",
    "logger",
    "request_id",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "client",
)


#: Whatever holds access lines back for a batch; each is flushed before any other line is
#: written, so lines reach the stream in the order they were logged, and at exit.
_deferred: weakref.WeakSet[Deferred] = weakref.WeakSet()


def _write_deferred() -> None:
    for holder in list(_deferred):
        holder.flush()


class _AfterAccessLines:
    """The stream as every other writer sees it: each write first writes the access lines
    that wait, so lines reach the stream in the order they were logged."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        _write_deferred()
        return self._stream.write(text)

    def flush(self) -> None:
        _write_deferred()
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# Until configure_logging runs (tests, embedding), lines go through structlog's defaults.
_access = _AccessLog(None, _UtcTimestamp(), enabled=True)


def access_enabled() -> bool:
    """Whether access lines are written at all (the level is ``info`` or lower)."""
    return _access.enabled


def access_flush_seconds() -> float:
    """How long the first access line of a batch may wait for the rest
    (``AIRLINE_LOG_FLUSH_MS``); 0 writes each at once."""
    return _access.flush_seconds


def access_timestamps(epoch_micros: list[int]) -> list[str]:
    """The ``timestamp`` fields of lines logged at ``epoch_micros`` (microseconds since the
    epoch, UTC), in the form every other line has."""
    return _access.timestamp.many(epoch_micros)


def defer(holder: Deferred) -> None:
    """Have ``holder``'s waiting lines written before any other line, and at exit. Held
    weakly: a holder that is gone needs no flushing."""
    _deferred.add(holder)


def write_access(lines: list[AccessLine]) -> None:
    """Write answered requests' access lines now, in one write (their ``timestamp`` set).
    Batching is the caller's: the gateway's request journal keeps them for a batch."""
    if lines and _access.enabled:
        _access.write(lines)


def flush() -> None:
    """Write the access lines that wait (see the module's documentation)."""
    _write_deferred()


atexit.register(flush)
