"""The errors the core raises, one tree for every use case and adapter.

::

    AirlineError
     +-- InvalidRequest (ValueError)     the input breaks a rule; ``errors`` names each field
     +-- NotFound (LookupError)          the thing asked for does not exist
     +-- Conflict                        the request clashes with the current state
     |    +-- AlreadyExists              a unique code or key is taken
     |    +-- StillReferenced            something else still points at it
     |    +-- OfferExpired               the offer's price is no longer on offer
     |    +-- SeatUnavailable            a seat asked for is taken, or too few are left
     |    +-- HoldLimitReached           the user already holds as many seats as allowed
     |    +-- InvalidTransition          a booking cannot move from its state that way
     |    +-- PriceChanged               the price guarantee ended and the total moved
     |    +-- PaymentInProgress          another payment of the booking is running
     +-- PaymentDeclined                the payment provider refused the payment method
     +-- NotAuthenticated                no valid credentials (missing, wrong, expired, revoked)
     +-- Forbidden                       authenticated, but the role does not allow it
     +-- Unavailable                     a dependency failed; retrying later may work
          +-- PaymentGatewayUnavailable  the payment provider could not be reached

The HTTP layer maps each class (and so every subclass) to one status and problem type; the CLI
prints ``str(error)`` as one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

__all__ = [
    "AirlineError",
    "AlreadyExists",
    "Conflict",
    "FieldError",
    "Forbidden",
    "HoldLimitReached",
    "InvalidRequest",
    "InvalidTransition",
    "NotAuthenticated",
    "NotFound",
    "OfferExpired",
    "PaymentDeclined",
    "PaymentGatewayUnavailable",
    "PaymentInProgress",
    "PriceChanged",
    "SeatUnavailable",
    "StillReferenced",
    "Unavailable",
]


@frozen
class FieldError:
    """One broken rule: ``field`` is a dotted path into the request (``layout.cabins.0.seats``)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class AirlineError(Exception):
    """Base of every error the core raises on purpose."""

    #: Whether the same request may succeed if simply sent again (someone else's request was
    #: running, a race was lost): such answers are never kept for an idempotency key.
    retryable: bool = False

    def __init__(
        self,
        detail: str,
        *,
        errors: Iterable[FieldError] = (),
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: tuple[FieldError, ...] = tuple(errors)
        #: More members for the problem answer (values are JSON-ready or :class:`Money`).
        self.extensions: dict[str, Any] = dict(extensions or {})

    def __str__(self) -> str:
        explained = "; ".join(str(error) for error in self.errors)
        if not explained or explained == self.detail:
            return self.detail
        return f"{self.detail}: {explained}"


class InvalidRequest(AirlineError, ValueError):
    """The input breaks a rule of the domain; nothing was changed."""

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidRequest:
        error = FieldError(field, message)
        return cls(str(error), errors=[error])


class NotFound(AirlineError, LookupError):
    """The thing asked for does not exist (or the caller may not know that it does)."""


class Conflict(AirlineError):
    """The request clashes with the current state of the thing it names."""


class AlreadyExists(Conflict):
    """A unique code or key is already taken."""


class StillReferenced(Conflict):
    """The thing cannot be removed or changed that way while others point at it."""


class OfferExpired(Conflict):
    """The offer's validity ended: ask for a new one (the price may have moved)."""


class SeatUnavailable(Conflict):
    """A seat asked for is taken or does not exist, or the cabin has too few seats left.
    ``errors`` names each seat (``seats.0``) when seats were chosen."""


class HoldLimitReached(Conflict):
    """The user already holds as many seats in unpaid bookings as one user may."""


class InvalidTransition(Conflict):
    """The booking's state does not allow this (paying a cancelled booking, say)."""


class PriceChanged(Conflict):
    """The hold's price guarantee ended and the total moved: ``extensions`` hold
    ``old_total`` and ``new_total``; pay again accepting the new total."""


class PaymentInProgress(Conflict):
    """Another payment of the booking is running; wait for its answer."""

    retryable = True


class PaymentDeclined(AirlineError):
    """The payment provider refused the payment method: ``code`` says why
    (``card_declined``, ``insufficient_funds``, ...)."""

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, extensions={"decline_code": code})
        self.code = code


class NotAuthenticated(AirlineError):
    """The request carries no valid credentials. Its message never says which part was wrong."""


class Forbidden(AirlineError):
    """The caller is known but its role does not allow this."""


class Unavailable(AirlineError):
    """A dependency (database, broker) failed or stayed busy; the request may succeed later."""


class PaymentGatewayUnavailable(Unavailable):
    """The payment provider could not be reached or failed; nothing was charged that is not
    refunded, and paying again (with the same idempotency key) is safe."""
