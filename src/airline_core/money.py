"""Money as integer minor units with an ISO 4217 currency: never a float."""

from __future__ import annotations

import re
from decimal import Decimal

from attrs import field, frozen

from airline_core.errors import InvalidRequest

__all__ = ["Money", "minor_unit_exponent"]

# ISO 4217 currencies whose minor unit is not 1/100; every other currency has two decimals.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_CURRENCY = re.compile(r"[A-Z]{3}")
_AMOUNT = re.compile(r"-?[0-9]{1,15}(?:\.([0-9]{1,4}))?")


def minor_unit_exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 for EUR, 0 for JPY, 3 for KWD)."""
    return _EXPONENTS.get(currency, 2)


_VALID_CURRENCIES: set[str] = set()


def _check_currency(_instance: object, _attribute: object, value: str) -> None:
    # Every price of a search is a new Money: codes seen valid once skip the pattern.
    if value in _VALID_CURRENCIES:
        return
    if not _CURRENCY.fullmatch(value):
        raise InvalidRequest.for_field("currency", "must be an ISO 4217 code such as EUR")
    if len(_VALID_CURRENCIES) < 1000:
        _VALID_CURRENCIES.add(value)


def _check_whole(_instance: object, _attribute: object, value: int) -> None:
    # Exactly int: a float (1.5 cents) or a bool slipping through would corrupt every total.
    if type(value) is not int:
        raise InvalidRequest.for_field("amount", "must be a whole number of minor units")


@frozen(order=False)
class Money:
    """An amount of one currency, held exactly as an integer count of its minor unit."""

    minor_units: int = field(validator=_check_whole)
    currency: str = field(validator=_check_currency)

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Read a decimal string such as ``"123.45"``; more decimals than the currency has fail."""
        _check_currency(None, None, currency)
        match = _AMOUNT.fullmatch(amount)
        exponent = minor_unit_exponent(currency)
        if match is None:
            raise InvalidRequest.for_field("amount", 'must be a decimal string such as "123.45"')
        decimals = match.group(1) or ""
        if len(decimals) > exponent:
            raise InvalidRequest.for_field(
                "amount", f"{currency} has {exponent} decimal places, got {len(decimals)}"
            )
        return cls(int(Decimal(amount).scaleb(exponent)), currency)

    @property
    def decimal(self) -> Decimal:
        """The amount as an exact :class:`~decimal.Decimal` (``Decimal("123.40")``)."""
        return Decimal(self.minor_units).scaleb(-minor_unit_exponent(self.currency))

    @property
    def amount(self) -> str:
        """The amount as a decimal string with the currency's decimals: ``"123.40"``."""
        exponent = minor_unit_exponent(self.currency)
        units = abs(self.minor_units)
        sign = "-" if self.minor_units < 0 else ""
        if exponent == 0:
            return f"{sign}{units}"
        whole, fraction = divmod(units, 10**exponent)
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidRequest.for_field(
                "currency", f"cannot combine {self.currency} with {other.currency}"
            )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor_units + other.minor_units, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor_units - other.minor_units, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.minor_units * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor_units < other.minor_units

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor_units <= other.minor_units

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
