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
(:func:`write_access`): the fields are encoded and written in one step, a few microseconds where
the processor chain costs several times that, which counts on an API's hottest path.

Nothing happens at import time: entry points call :func:`configure_logging` (the CLI before
uvicorn starts, the app factory in each worker process).
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor

from airline_runtime.settings import Settings

__all__ = ["AccessLine", "configure_logging", "request_id", "write_access"]

#: The id of the request being served; ``None`` outside requests.
request_id: ContextVar[str | None] = ContextVar("airline_request_id", default=None)


def _add_request_id(logger: Any, method_name: str, event: EventDict) -> EventDict:
    current = request_id.get()
    if current is not None:
        event.setdefault("request_id", current)
    return event


#: Loggers that uvicorn gives handlers of its own; ours replace them so every line has one format.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


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


class _UtcTimestamp:
    """Adds ``timestamp``: ISO 8601 in UTC with microseconds (``2026-05-01T09:30:00.123456Z``),
    as ``TimeStamper(fmt="iso", utc=True)`` writes it but several times faster: the date and time
    of day are formatted once per second, not on every line."""

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self, logger: Any, method_name: str, event: EventDict) -> EventDict:
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        now = time.time()
        second = int(now)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            # One tuple, so a thread never pairs one second with another's text.
            self._cached = (second, prefix)
        return "%s.%06dZ" % (prefix, (now - second) * 1_000_000)  # noqa: UP031 - faster than f"{:06d}", on every access line


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
    _access = _AccessLog(stream if json_lines else None, timestamp, enabled=level <= logging.INFO)

    structlog.configure(
        processors=[*shared, *prepare, render],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        context_class=dict,
        # Off so that a later configure_logging (tests, embedding) reaches module-level loggers;
        # the one hot logger (the access log) is bound once when the app is built.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *prepare, render],
    )
    handler = _AirlineHandler(stream)
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


class AccessLine(msgspec.Struct):
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


class _AccessLog:
    """Where access lines go: straight to the stream in the JSON format (one struct encoded,
    one write), else (``stream`` None) through structlog."""

    def __init__(self, stream: TextIO | None, timestamp: _UtcTimestamp, *, enabled: bool) -> None:
        self.stream = stream
        self.timestamp = timestamp
        self.enabled = enabled


# Until configure_logging runs (tests, embedding), the line goes through structlog's defaults.
_access = _AccessLog(None, _UtcTimestamp(), enabled=True)


def write_access(line: AccessLine) -> None:
    """Log one request's access line."""
    access = _access
    if not access.enabled:
        return
    stream = access.stream
    if stream is None:
        structlog.get_logger().info("request", logger="airline.access", **line.fields())
        return
    line.timestamp = access.timestamp.now()
    stream.write(_ENCODER.encode(line).decode() + "\n")
