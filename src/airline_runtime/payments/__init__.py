"""Payment provider adapters for the core's :class:`~airline_core.ports.PaymentGateway`."""

from airline_runtime.payments.stripe import StripePaymentGateway

__all__ = ["StripePaymentGateway"]
