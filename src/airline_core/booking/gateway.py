"""The built-in test payment gateway: outcomes chosen by documented payment-method tokens.

It knows the tokens a payment provider documents for tests (Stripe's names), and one of its own:

=========================================== =============================================
token                                       outcome
=========================================== =============================================
``pm_card_visa`` (and ``pm_card_mastercard``) authorized and captured
``pm_card_chargeDeclined``                  declined, ``card_declined``
``pm_card_chargeDeclinedInsufficientFunds`` declined, ``insufficient_funds``
``pm_card_networkError``                    the provider cannot be reached (503, retry)
=========================================== =============================================

Any other token is unknown (422). Each call is keyed by payment id and step, as a real provider's
idempotency keys are: calling ``authorize`` twice for one payment returns the first answer and
charges once. :attr:`TestPaymentGateway.charges` lists what was captured and refunded, for tests.
"""

from __future__ import annotations

from attrs import define, field

from airline_core.errors import (
    InvalidRequest,
    PaymentDeclined,
    PaymentGatewayUnavailable,
)
from airline_core.ids import new_id
from airline_core.money import Money

__all__ = ["DECLINES", "SUCCEEDS", "UNREACHABLE", "TestPaymentGateway"]

SUCCEEDS = frozenset({"pm_card_visa", "pm_card_mastercard"})
DECLINES = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
UNREACHABLE = "pm_card_networkError"


@define
class Charge:
    reference: str
    amount: Money
    captured: bool = False
    voided: bool = False
    refunded: int = 0


@define
class TestPaymentGateway:
    """Payments decided by the token (see the module docstring); nothing leaves the process."""

    __test__ = False  # not a pytest test class, whatever its name says

    charges: dict[str, Charge] = field(factory=dict)
    _authorized: dict[str, str] = field(factory=dict)
    _refunded: set[str] = field(factory=set)

    async def authorize(self, payment_id: str, amount: Money, method: str, description: str) -> str:
        if payment_id in self._authorized:
            return self._authorized[payment_id]
        if method == UNREACHABLE:
            raise PaymentGatewayUnavailable("the payment provider could not be reached")
        if method in DECLINES:
            code = DECLINES[method]
            raise PaymentDeclined(f"the card was declined ({code})", code=code)
        if method not in SUCCEEDS:
            raise InvalidRequest.for_field("payment_method", f"unknown payment method {method!r}")
        reference = f"pi_test_{new_id().lower()}"
        self.charges[reference] = Charge(reference, amount)
        self._authorized[payment_id] = reference
        return reference

    def _charge(self, reference: str) -> Charge:
        charge = self.charges.get(reference)
        if charge is None:
            raise InvalidRequest.for_field("reference", f"no charge {reference}")
        return charge

    async def capture(self, payment_id: str, reference: str, amount: Money) -> None:
        charge = self._charge(reference)
        if amount.minor_units > charge.amount.minor_units or charge.voided:
            raise InvalidRequest.for_field("amount", "more than was authorized")
        charge.captured = True

    async def void(self, payment_id: str, reference: str) -> None:
        self._charge(reference).voided = True

    async def refund(self, payment_id: str, reference: str, amount: Money) -> None:
        if payment_id in self._refunded:
            return
        charge = self._charge(reference)
        if not charge.captured or charge.refunded + amount.minor_units > charge.amount.minor_units:
            raise InvalidRequest.for_field("amount", "more than was captured")
        charge.refunded += amount.minor_units
        self._refunded.add(payment_id)

    @property
    def captured(self) -> list[Charge]:
        """Charges that took money (refunded or not)."""
        return [charge for charge in self.charges.values() if charge.captured]
