"""RFC 9457 problem details for every error the API answers.

One table maps each core error class to a status and a problem type; subclasses inherit their
parent's entry. Framework errors (validation, unknown routes, oversized bodies) are rewritten in
the same shape, and anything unexpected is logged with its traceback and answered as a bare 500
that gives nothing away.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import (
    ExceptionHandlersMap,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Scope,
    Send,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from airline_core.errors import (
    AirlineError,
    AlreadyExists,
    Conflict,
    FieldError,
    Forbidden,
    HoldLimitReached,
    InvalidRequest,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    OfferExpired,
    PaymentDeclined,
    PaymentGatewayUnavailable,
    PaymentInProgress,
    PriceChanged,
    SeatUnavailable,
    StillReferenced,
    Unavailable,
)
from airline_core.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
)
from airline_core.money import Money
from airline_runtime.http.schemas import Problem

__all__ = [
    "PROBLEM_JSON",
    "core_error_response",
    "exception_handlers",
    "problem",
    "problem_responses",
    "send_problem",
]

PROBLEM_JSON = "application/problem+json"
_PROBLEM_JSON_BYTES = PROBLEM_JSON.encode()
_TYPE_PREFIX = "urn:airline:problem:"
logger = logging.getLogger("airline_runtime.http")

# Most specific first: the first class an error is an instance of decides.
_CORE_PROBLEMS: tuple[tuple[type[AirlineError], int, str, str], ...] = (
    (
        IdempotencyKeyReused,
        422,
        "idempotency-key-reused",
        "Idempotency key used for another request",
    ),
    (IdempotencyKeyMissing, 400, "idempotency-key-missing", "Idempotency-Key header required"),
    (IdempotencyKeyInUse, 409, "idempotency-key-in-use", "A request with this key is running"),
    (InvalidRequest, 422, "validation", "The request is not valid"),
    (NotFound, 404, "not-found", "Not found"),
    (NotAuthenticated, 401, "unauthorized", "Authentication required"),
    (Forbidden, 403, "forbidden", "Forbidden"),
    (AlreadyExists, 409, "already-exists", "Already exists"),
    (StillReferenced, 409, "still-referenced", "Still in use"),
    (OfferExpired, 409, "offer-expired", "The offer has expired"),
    (SeatUnavailable, 409, "seat-unavailable", "Seat unavailable"),
    (HoldLimitReached, 409, "hold-limit-reached", "Too many seats held"),
    (InvalidTransition, 409, "invalid-transition", "Not allowed in the booking's state"),
    (PriceChanged, 409, "price-changed", "The price has changed"),
    (PaymentInProgress, 409, "payment-in-progress", "A payment is already running"),
    (PaymentDeclined, 402, "payment-declined", "The payment was declined"),
    (Conflict, 409, "conflict", "Conflict"),
    (
        PaymentGatewayUnavailable,
        503,
        "payment-gateway-unavailable",
        "The payment provider is unavailable",
    ),
    (Unavailable, 503, "unavailable", "Service unavailable"),
    (AirlineError, 400, "bad-request", "Bad request"),
)

# 401 tells the client how to authenticate; 503 when to come back.
_HEADERS_BY_STATUS = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "1"}}

_HTTP_PROBLEMS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


_RESPONSE_DESCRIPTIONS = {
    400: "The body is not valid JSON, or a required header is missing",
    402: "The payment provider declined the payment method",
    401: "No valid access token (or wrong credentials, on login)",
    403: "The token's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state (taken code or seat, still referenced, an expired "
    "offer, the booking's state)",
    413: "The body is too large",
    422: "The request breaks a rule; `errors` names each field",
    503: "A dependency is unavailable; retry later",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route can answer, so clients see them in /schema."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_RESPONSE_DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def problem(
    request: Request[Any, Any, Any],
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: tuple[FieldError, ...] | list[FieldError] = (),
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": _TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    for name, value in (extensions or {}).items():
        body[name] = (
            {"amount": value.amount, "currency": value.currency}
            if isinstance(value, Money)
            else value
        )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def send_problem(
    scope: Scope,
    send: Send,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer a problem straight from ASGI middleware, in the same shape as :func:`problem`
    (middleware that refuses a request runs outside Litestar's exception handlers)."""
    body = msgspec.json.encode(
        {
            "type": _TYPE_PREFIX + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope["path"],
        }
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", _PROBLEM_JSON_BYTES),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    end: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": b"" if scope.get("method") == "HEAD" else body,
        "more_body": False,
    }
    await send(start)
    await send(end)


def core_error_response(
    request: Request[Any, Any, Any], error: AirlineError
) -> Response[dict[str, Any]]:
    """The problem answer for a core error, as the exception handlers send it."""
    return _core_error(request, error)


def _core_error(request: Request[Any, Any, Any], error: AirlineError) -> Response[dict[str, Any]]:
    for kind, status, slug, title in _CORE_PROBLEMS:
        if isinstance(error, kind):
            headers = _HEADERS_BY_STATUS.get(status)
            return problem(
                request,
                status,
                slug,
                title,
                str(error),
                errors=error.errors,
                headers=headers,
                extensions=error.extensions,
            )
    raise AssertionError("AirlineError is the last entry")  # pragma: no cover


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
# Litestar names a missing query, path or header parameter only in its message.
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")


def _field_path(key: str, message: str) -> str:
    """Litestar's ``layout.cabins[0]`` plus the message's field, as ``layout.cabins.0.seats``."""
    path = "" if key in ("data", "") else re.sub(r"\[(\d+|\.\.\.)\]", r".\1", key)
    named = _UNKNOWN_FIELD.search(message) or _MISSING_FIELD.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body"


def _validation_error(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, Any]]:
    extra = error.extra if isinstance(error.extra, list) else []
    errors = [
        FieldError(_field_path(str(item.get("key", "")), str(item["message"])), item["message"])
        for item in extra
        if isinstance(item, dict) and "message" in item
    ]
    missing = _MISSING_PARAMETER.match(str(error.detail))
    if not errors and missing:
        errors = [FieldError(missing.group(1), "is required")]
    detail = "; ".join(str(e) for e in errors) or str(error.detail)
    return problem(request, 422, "validation", "The request is not valid", detail, errors=errors)


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    if status >= 500:
        return _unexpected(request, error)
    slug, title = _HTTP_PROBLEMS.get(status, ("bad-request", "Bad request"))
    detail = str(error.detail) if error.detail else title
    if status == 400 and _caused_by_undecodable_body(error):
        slug, title = "malformed-body", "The body is not valid JSON"
    return problem(request, status, slug, title, detail, headers=error.headers)


def _caused_by_undecodable_body(error: BaseException) -> bool:
    cause = error.__cause__ or error.__context__
    while cause is not None:
        if isinstance(cause, msgspec.DecodeError) and not isinstance(
            cause, msgspec.ValidationError
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(
        request,
        500,
        "internal",
        "Internal server error",
        "The server failed to answer this request; it has been logged.",
    )


def _database_error(request: Request[Any, Any, Any], error: DBAPIError) -> Response[dict[str, Any]]:
    """A lost connection or a server that stopped answering is worth retrying; anything else
    the database says is a bug of ours."""
    if error.connection_invalidated or isinstance(error, OperationalError):
        logger.warning(
            "database unavailable on %s %s: %s", request.method, request.url.path, error.orig
        )
        return problem(
            request,
            503,
            "unavailable",
            "Service unavailable",
            "the database is unavailable; retry shortly",
            headers=_HEADERS_BY_STATUS[503],
        )
    return _unexpected(request, error)


exception_handlers: ExceptionHandlersMap = {
    AirlineError: _core_error,
    DBAPIError: _database_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
