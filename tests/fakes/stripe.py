"""A local fake of the parts of Stripe's API the adapter uses, following Stripe's documented
requests and answers: form-encoded bodies, ``Authorization: Bearer sk_...``, ``Idempotency-Key``
replays, PaymentIntents with manual capture, refunds, and the documented test payment methods
(``pm_card_visa`` succeeds, ``pm_card_chargeDeclined`` is ``card_declined``,
``pm_card_chargeDeclinedInsufficientFunds`` is ``card_declined`` with ``decline_code``
``insufficient_funds``). ``pm_card_fake500`` makes this fake answer 500 once, to test retries.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qsl

from attrs import define, field

from tests.fakes.asgi import JsonApp

__all__ = ["FakeStripe"]

SECRET = "sk_test_fake"
_SUCCEEDS = {"pm_card_visa", "pm_card_mastercard"}
_DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
}


@define
class FakeStripe(JsonApp):
    """An ASGI app; :attr:`intents` and :attr:`refunds` show what it was asked to do."""

    intents: dict[str, dict[str, Any]] = field(factory=dict)
    refunds: dict[str, dict[str, Any]] = field(factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(factory=list)
    _replays: dict[str, tuple[int, dict[str, Any]]] = field(factory=dict)
    _ids: Any = field(factory=lambda: itertools.count(1))
    _failed_once: set[str] = field(factory=set)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        status, answer = self.answer(method, path, headers, body.decode())
        return status, answer, {}

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any]]:
        form = dict(parse_qsl(body))
        self.requests.append((method, path, form))
        if headers.get("authorization") != f"Bearer {SECRET}":
            return 401, _error("invalid_request_error", "Invalid API Key provided.")
        if form.get("payment_method") == "pm_card_fake500" and path not in self._failed_once:
            self._failed_once.add(path)
            return 500, _error("api_error", "An unknown error occurred.")
        key = headers.get("idempotency-key")
        if key is not None and key in self._replays:
            return self._replays[key]
        answer = self._route(method, path, form)
        if key is not None:
            self._replays[key] = answer
        return answer

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_intent(form)
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"]:
            return self._intent_action(parts[2], parts[3], form)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(form)
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _intent_action(
        self, intent_id: str, action: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(intent_id)
        if intent is None or action not in ("capture", "cancel"):
            return 404, _error("invalid_request_error", "No such payment_intent", "intent")
        if action == "cancel":
            intent["status"] = "canceled"
            return 200, intent
        amount = int(form.get("amount_to_capture", intent["amount"]))
        if intent["status"] != "requires_capture" or amount > intent["amount"]:
            return 400, _error("invalid_request_error", "This PaymentIntent could not be captured")
        intent.update(status="succeeded", amount_received=amount)
        return 200, intent

    def _refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("invalid_request_error", "This charge cannot be refunded")
        amount = int(form.get("amount", intent["amount_received"]))
        done = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        if done + amount > intent["amount_received"]:
            return 400, _error("invalid_request_error", "Refund is greater than unrefunded amount")
        refund = {
            "id": f"re_{next(self._ids)}",
            "object": "refund",
            "amount": amount,
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    def _create_intent(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for name in ("amount", "currency"):
            if name not in form:
                return 400, _error(
                    "invalid_request_error", f"Missing required param: {name}.", name
                )
        method = form.get("payment_method", "")
        intent = {
            "id": f"pi_{next(self._ids)}",
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "capture_method": form.get("capture_method", "automatic"),
            "payment_method": method,
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "status": "requires_payment_method",
        }
        if method in _DECLINES:
            code, decline, message = _DECLINES[method]
            self.intents[intent["id"]] = intent
            error = _error("card_error", message)
            error["error"].update(code=code, decline_code=decline, payment_intent=intent)
            return 402, error
        if method not in _SUCCEEDS and method != "pm_card_fake500":
            return 400, _error(
                "invalid_request_error",
                f"No such PaymentMethod: '{method}'",
                "payment_method",
                code="resource_missing",
            )
        manual = intent["capture_method"] == "manual"
        intent["status"] = "requires_capture" if manual else "succeeded"
        self.intents[intent["id"]] = intent
        return 200, intent


def _error(
    kind: str, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return {"error": error}
