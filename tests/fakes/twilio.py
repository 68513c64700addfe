"""A local fake of Twilio's Messages resource, following its documented requests and answers:
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``Body`` and
``From`` or ``MessagingServiceSid``, HTTP basic auth with the account SID and auth token;
``201`` with the message resource (``sid`` ``SM...``, ``status`` ``queued``); ``400`` with
``{"code", "message", "more_info", "status"}``: 21211 for an invalid ``To``, 21604 for a missing
``Body``; ``401`` (code 20003) for bad credentials. ``+15005550009`` answers 500 on its first
try, then 201."""

from __future__ import annotations

import base64
import itertools
from typing import Any
from urllib.parse import parse_qsl

from attrs import define, field

from tests.fakes.asgi import JsonApp

__all__ = ["ACCOUNT", "TOKEN", "FakeTwilio"]

ACCOUNT = "AC" + "0" * 32
TOKEN = "fake-auth-token"


@define
class FakeTwilio(JsonApp):
    sent: list[dict[str, str]] = field(factory=list)
    _ids: Any = field(factory=lambda: itertools.count(1))
    _failed_once: set[str] = field(factory=set)

    def handle(  # noqa: PLR0911 - one answer per documented case
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if (method, path) != ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"):
            return 404, _error(20404, "The requested resource was not found", 404), {}
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if headers.get("authorization") != expected:
            return 401, _error(20003, "Authenticate", 401), {}
        form = dict(parse_qsl(body.decode()))
        to = form.get("To", "")
        if not form.get("Body"):
            return 400, _error(21604, "A 'Body' parameter is required.", 400), {}
        if not (to.startswith("+") and to[1:].isdigit()) or to == "+15005550001":
            return 400, _error(21211, f"The 'To' number {to} is not a valid phone number.", 400), {}
        if "From" not in form and "MessagingServiceSid" not in form:
            return 400, _error(21603, "A 'From' phone number is required.", 400), {}
        if to == "+15005550009" and to not in self._failed_once:
            self._failed_once.add(to)
            return 500, _error(20500, "An internal server error has occurred", 500), {}
        self.sent.append(form)
        sid = f"SM{next(self._ids):032x}"
        return 201, {"sid": sid, "status": "queued", "to": to, "body": form["Body"]}, {}


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
