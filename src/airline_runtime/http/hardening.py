"""Browser-facing protections: security headers on every answer, and CORS from the settings.

The API answers JSON to programs. What protects a JSON answer that a browser is tricked into
opening is ``X-Content-Type-Options: nosniff`` (never read JSON as HTML or script) and
``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` (never framed, never
running or loading anything), plus ``Cache-Control: no-store`` where tokens or personal data
travel. ``Strict-Transport-Security`` belongs to whatever terminates TLS in front of the API.
Every answer costs each of its headers once in the server and once in the client, so JSON
answers carry only those: ``X-Frame-Options`` says what ``frame-ancestors`` already says to
every browser still supported (it only helped Internet Explorer), and the headers that govern
a document's behaviour (``Referrer-Policy``, ``Cross-Origin-Opener-Policy``,
``Permissions-Policy``) mean nothing on a JSON answer, which makes no requests and opens no
windows. HTML pages get all of them. The one HTML the
service serves is the Swagger UI under ``/schema``. Its scripts and stylesheet come from
``/schema/assets`` (``'self'``), but Litestar renders one inline script (which embeds the whole
OpenAPI document, so it changes with every API change) and one inline style. Rather than allow
every inline script, :func:`docs_sender` reads that page as it goes out and allows exactly its
inline blocks by SHA-256 hash; the page is small and rarely fetched.

The gateway (:mod:`airline_runtime.http.gateway`) adds them around Litestar's whole ASGI handler,
so 404s, 405s and CORS preflights get them too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from litestar.config.cors import CORSConfig
from litestar.types import (
    HTTPResponseStartEvent,
    Message,
    Method,
    Send,
)

from airline_runtime.settings import Settings

__all__ = [
    "API_CONTENT_SECURITY_POLICY",
    "NO_STORE_PATHS",
    "NO_STORE_PREFIXES",
    "REMEMBERED_PATHS",
    "HeaderSet",
    "SecurityHeaders",
    "cors_config",
    "docs_content_security_policy",
    "docs_sender",
    "is_private",
    "merged_headers",
]

API_CONTENT_SECURITY_POLICY: Final = "default-src 'none'; frame-ancestors 'none'"
#: Answers that carry tokens or personal data (accounts, bookings with their passengers'
#: names, emails and phones, payments) must not be kept by browsers or shared caches.
NO_STORE_PREFIXES: Final = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/users/", "/api/v1/bookings/")
NO_STORE_PATHS: Final = frozenset({"/api/v1/me", "/api/v1/users", "/api/v1/bookings"})

_Header = tuple[bytes, bytes]
_EVERY_ANSWER: Final[tuple[_Header, ...]] = ((b"x-content-type-options", b"nosniff"),)
_DOCUMENT: Final[tuple[_Header, ...]] = (
    *_EVERY_ANSWER,
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # Nothing here needs a powerful feature; deny the ones a hijacked page would want.
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=(), payment=(), usb=()"),
)
_API_CSP: Final = (b"content-security-policy", API_CONTENT_SECURITY_POLICY.encode())
_NO_STORE: Final = (b"cache-control", b"no-store")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
_INLINE_STYLE = re.compile(rb"<style[^>]*>(.*?)</style\s*>", re.S | re.I)


def _sources(blocks: Iterable[bytes]) -> str:
    hashes = sorted(
        {
            f"'sha256-{base64.b64encode(hashlib.sha256(block).digest()).decode()}'"
            for block in blocks
        }
    )
    return " ".join(["'self'", *hashes])


def docs_content_security_policy(page: bytes) -> str:
    """The policy for an HTML page of the API docs: its own scripts, stylesheets and images
    (``data:`` ones are icons inside swagger-ui.css), its inline blocks by hash, and requests to
    this origin only (the OpenAPI document and "Try it out")."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {_sources(_INLINE_SCRIPT.findall(page))}",
            f"style-src {_sources(_INLINE_STYLE.findall(page))}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def merged_headers(headers: Iterable[_Header], extra: Sequence[_Header]) -> list[_Header]:
    """``headers`` plus those of ``extra`` the app did not set itself (a route that sets its
    own Cache-Control, say, keeps it)."""
    headers = list(headers)
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in extra if header[0] not in present)
    return headers


class HeaderSet:
    """Headers to add to answers, with their names at hand for the check that an answer does
    not set one of them itself."""

    __slots__ = ("headers", "names")

    def __init__(self, headers: Sequence[_Header]) -> None:
        self.headers = tuple(headers)
        self.names = frozenset(name for name, _ in self.headers)

    def __bool__(self) -> bool:
        return bool(self.headers)


#: Paths whose need of ``Cache-Control: no-store`` is remembered (the least recently used
#: forgotten first): a few hundred bytes each.
REMEMBERED_PATHS: Final = 4096


@functools.lru_cache(maxsize=REMEMBERED_PATHS)
def is_private(path: str) -> bool:
    """Whether answers to ``path`` carry tokens or personal data (:data:`NO_STORE_PATHS`,
    :data:`NO_STORE_PREFIXES`). Remembered: the prefix checks cost a few hundred nanoseconds on
    every request, a lookup of a path whose hash the request has computed already a tenth."""
    return path in NO_STORE_PATHS or path.startswith(NO_STORE_PREFIXES)


class SecurityHeaders:
    """Which security headers an answer gets, by path.

    :param docs_prefix: where the API docs live; their HTML pages get
        :func:`docs_content_security_policy` instead of the API's policy.
    """

    def __init__(self, *, docs_prefix: str = "/schema") -> None:
        self.docs_prefix = docs_prefix
        self.api = HeaderSet((*_EVERY_ANSWER, _API_CSP))
        self.private = HeaderSet((*_EVERY_ANSWER, _API_CSP, _NO_STORE))

    def for_path(self, path: str) -> HeaderSet | None:
        """The headers of an answer to ``path``; ``None`` under the docs prefix, whose answers
        go through :func:`docs_sender`."""
        if path.startswith(self.docs_prefix):
            return None
        return self.private if is_private(path) else self.api


def docs_sender(send: Send, security: SecurityHeaders) -> Send:
    """A ``send`` for answers under the docs prefix. It holds back an HTML answer until its body
    is complete, to hash its inline blocks into the policy; any other answer there (assets, the
    OpenAPI document) goes out at once with the API's headers."""
    held: HTTPResponseStartEvent | None = None
    body: list[bytes] = []

    async def send_docs(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
            if content_type.startswith(b"text/html"):
                message["headers"] = headers
                held = message
                return
            message["headers"] = merged_headers(headers, security.api.headers)
        elif held is not None and message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            policy = docs_content_security_policy(page).encode()
            held["headers"] = merged_headers(
                held["headers"], (*_DOCUMENT, (b"content-security-policy", policy))
            )
            await send(held)
            held = None
            message = {"type": "http.response.body", "body": page, "more_body": False}
        await send(message)

    return send_docs


_CORS_METHODS: Final[tuple[Method, ...]] = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
_CORS_REQUEST_HEADERS: Final = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
# The rate limiter's fields (the IETF draft's RateLimit and RateLimit-Policy) among them.
_CORS_EXPOSED_HEADERS: Final = ["X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"]


def cors_config(settings: Settings) -> CORSConfig | None:
    """Cross-origin access for the browser apps named in ``AIRLINE_CORS_ORIGINS``; none when it
    is empty (the default: a browser on another origin can then not read answers at all).

    Credentials (cookies) are not allowed: the API authenticates with a bearer header, so a
    cross-origin page must hold the token itself and cannot ride on a user's cookies.
    """
    if not settings.cors_origins:
        return None
    methods: list[Literal["*"] | Method] = [*_CORS_METHODS]
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=methods,
        allow_headers=list(_CORS_REQUEST_HEADERS),
        expose_headers=list(_CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=600,
    )
