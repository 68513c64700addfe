"""Stripe's PaymentIntents API as a :class:`~airline_core.ports.PaymentGateway`, over httpx.

=============  ==========================================================================
``authorize``  ``POST /v1/payment_intents`` with ``confirm=true``, ``capture_method=manual``
               and the client's payment-method token: ``requires_capture`` on success
``capture``    ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture``
``void``       ``POST /v1/payment_intents/{id}/cancel``
``refund``     ``POST /v1/refunds`` with ``payment_intent`` and ``amount``
=============  ==========================================================================

Every call carries ``Idempotency-Key: <payment id>-<step>``, so a retried call (ours after a
timeout, or the client's with the same idempotency key) is the same request to Stripe and never
charges twice; connection failures and 5xx answers are retried once with the same key, then
reported as :class:`~airline_core.errors.PaymentGatewayUnavailable`. A ``card_error`` is a
:class:`~airline_core.errors.PaymentDeclined` with Stripe's ``decline_code`` (or ``code``); an
unknown payment method (``resource_missing`` on ``payment_method``) is an
:class:`~airline_core.errors.InvalidRequest` on ``payment_method``. Amounts are the currency's
smallest unit, as Stripe and :class:`~airline_core.money.Money` both count them.
"""

from __future__ import annotations

from typing import Any

import httpx
from attrs import define, field

from airline_core.errors import (
    InvalidRequest,
    PaymentDeclined,
    PaymentGatewayUnavailable,
)
from airline_core.money import Money

__all__ = ["STRIPE_API", "StripePaymentGateway"]

STRIPE_API = "https://api.stripe.com"
#: The API version these requests and answers follow.
STRIPE_VERSION = "2024-06-20"
_ATTEMPTS = 2


@define
class StripePaymentGateway:
    """Payments through Stripe. Close it with :meth:`aclose` (the runtime does)."""

    secret_key: str = field(repr=False)
    api_url: str = STRIPE_API
    timeout: float = 20.0
    transport: httpx.AsyncBaseTransport | None = None
    _client: httpx.AsyncClient = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=self.timeout,
            transport=self.transport,
            headers={
                "Authorization": f"Bearer {self.secret_key}",
                "Stripe-Version": STRIPE_VERSION,
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, form: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                response = await self._client.post(
                    path, data=form, headers={"Idempotency-Key": idempotency_key}
                )
            except httpx.HTTPError as error:
                if attempt == _ATTEMPTS:
                    raise PaymentGatewayUnavailable(
                        f"Stripe could not be reached: {type(error).__name__}"
                    ) from error
                continue
            if response.status_code >= 500 or response.status_code == 429:
                if attempt == _ATTEMPTS:
                    raise PaymentGatewayUnavailable(f"Stripe answered {response.status_code}")
                continue
            body: dict[str, Any] = response.json()
            if response.is_success:
                return body
            self._raise(response.status_code, body.get("error", {}))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _raise(status: int, error: dict[str, Any]) -> None:
        message = error.get("message") or f"Stripe refused the request ({status})"
        if error.get("type") == "card_error":
            code = error.get("decline_code") or error.get("code") or "card_declined"
            raise PaymentDeclined(f"the card was declined ({code})", code=code)
        if error.get("param") == "payment_method":
            raise InvalidRequest.for_field("payment_method", message)
        if status in (401, 403):
            raise PaymentGatewayUnavailable("Stripe refused our credentials")
        raise InvalidRequest.for_field("payment", message)

    async def authorize(self, payment_id: str, amount: Money, method: str, description: str) -> str:
        intent = await self._post(
            "/v1/payment_intents",
            {
                "amount": amount.minor_units,
                "currency": amount.currency.lower(),
                "payment_method": method,
                "payment_method_types[]": "card",
                "confirm": "true",
                "capture_method": "manual",
                "description": description,
                "metadata[payment_id]": payment_id,
            },
            f"{payment_id}-authorize",
        )
        if intent.get("status") != "requires_capture":
            raise PaymentDeclined(
                f"the payment needs more than a card ({intent.get('status')})",
                code=str(intent.get("status")),
            )
        return str(intent["id"])

    async def capture(self, payment_id: str, reference: str, amount: Money) -> None:
        intent = await self._post(
            f"/v1/payment_intents/{reference}/capture",
            {"amount_to_capture": amount.minor_units},
            f"{payment_id}-capture",
        )
        if intent.get("status") != "succeeded":
            raise PaymentGatewayUnavailable(f"the capture ended {intent.get('status')}")

    async def void(self, payment_id: str, reference: str) -> None:
        await self._post(f"/v1/payment_intents/{reference}/cancel", {}, f"{payment_id}-void")

    async def refund(self, payment_id: str, reference: str, amount: Money) -> None:
        refund = await self._post(
            "/v1/refunds",
            {"payment_intent": reference, "amount": amount.minor_units},
            f"{payment_id}-refund",
        )
        if refund.get("status") not in ("succeeded", "pending"):
            raise PaymentGatewayUnavailable(f"the refund ended {refund.get('status')}")
