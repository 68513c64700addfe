"""A small collector for domain rules, so that one bad request reports every broken field."""

from __future__ import annotations

from enum import Enum
from typing import NoReturn, TypeVar

from attrs import define, field

from airline_core.errors import FieldError, InvalidRequest

__all__ = ["Rules", "choice"]

E = TypeVar("E", bound=Enum)


def choice(kind: type[E], value: E | str, field_name: str) -> E:
    """The member of ``kind`` named by ``value``; :class:`InvalidRequest` naming
    ``field_name`` and listing the choices otherwise."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        raise InvalidRequest.for_field(field_name, f"{value!r} is not one of {choices}") from None


@define
class Rules:
    """Collects broken rules; :meth:`check` raises one :class:`InvalidRequest` naming them all."""

    subject: str
    broken: list[FieldError] = field(factory=list)

    def require(self, condition: bool, field_name: str, message: str) -> bool:
        if not condition:
            self.broken.append(FieldError(field_name, message))
        return condition

    def add(self, field_name: str, message: str) -> None:
        self.broken.append(FieldError(field_name, message))

    def absorb(self, error: InvalidRequest, prefix: str) -> None:
        """Take over another object's broken rules under ``prefix`` (``layout.cabins.1``)."""
        for item in error.errors:
            self.broken.append(FieldError(f"{prefix}.{item.field}", item.message))

    def fail(self) -> NoReturn:
        """Raise for the rules broken so far (there must be at least one)."""
        raise InvalidRequest(f"invalid {self.subject}", errors=self.broken)

    def check(self) -> None:
        if self.broken:
            raise InvalidRequest(f"invalid {self.subject}", errors=self.broken)
