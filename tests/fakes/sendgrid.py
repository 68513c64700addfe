"""A local fake of SendGrid's v3 Mail Send endpoint, following its documented requests and
answers: ``POST /v3/mail/send`` with ``Authorization: Bearer <key>`` and a JSON body of
``personalizations``, ``from``, ``subject`` and ``content``; ``202 Accepted`` with an empty body
and ``X-Message-Id``; ``400`` with ``{"errors": [{"message", "field", "help"}]}`` for a bad
request, ``401`` for a wrong key. Recipients ``bounce@...`` answer 400 (an address SendGrid
refuses); ``flaky@...`` answers 503 on its first try, then 202."""

from __future__ import annotations

import itertools
import json
from typing import Any

from attrs import define, field

from tests.fakes.asgi import JsonApp

__all__ = ["API_KEY", "FakeSendGrid"]

API_KEY = "SG.fake-key"


@define
class FakeSendGrid(JsonApp):
    sent: list[dict[str, Any]] = field(factory=list)
    _ids: Any = field(factory=lambda: itertools.count(1))
    _failed_once: set[str] = field(factory=set)

    def handle(  # noqa: PLR0911 - one answer per documented case
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if (method, path) != ("POST", "/v3/mail/send"):
            return 404, {"errors": [{"message": "Not found"}]}, {}
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, {"errors": [{"message": "The provided authorization grant is invalid"}]}, {}
        try:
            mail = json.loads(body)
            to = mail["personalizations"][0]["to"][0]["email"]
            types = [part["type"] for part in mail["content"]]
            assert mail["from"]["email"]
            assert mail["subject"]
        except (ValueError, KeyError, IndexError, AssertionError):
            return 400, _error("Bad Request", None), {}
        if types != ["text/plain", "text/html"]:
            return 400, _error("The text/plain content type must come first", "content"), {}
        if to.startswith("bounce@"):
            return 400, _error("Does not contain a valid address.", "personalizations.0.to"), {}
        if to.startswith("flaky@") and to not in self._failed_once:
            self._failed_once.add(to)
            return 503, None, {}
        self.sent.append(mail)
        return 202, None, {"X-Message-Id": f"sg-{next(self._ids)}"}


def _error(message: str, where: str | None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": where, "help": None}]}
