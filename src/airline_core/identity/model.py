"""Users, roles and the principal a request acts as."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from attrs import field, frozen

from airline_core.errors import NotFound
from airline_core.validation import Rules

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Principal",
    "RefreshToken",
    "RefreshUse",
    "Role",
    "TokenPair",
    "User",
    "is_email",
    "normalize_email",
    "reveal_to",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# Deliberately loose (RFC 5322 is not worth matching): one @, a dot in the domain, no spaces.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
MAX_EMAIL_LENGTH = 254


class Role(StrEnum):
    """``admin`` manages the catalog and sees everything; ``customer`` sees only its own."""

    ADMIN = "admin"
    CUSTOMER = "customer"


def is_email(text: str) -> bool:
    """Whether ``text`` (already normalized) has the shape of an email address."""
    return len(text) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(text) is not None


def normalize_email(email: str) -> str:
    """Emails compare without case and surrounding spaces: ``Ann@Example.org`` is ann's."""
    return email.strip().lower()


@frozen(kw_only=True)
class User:
    """An account. ``password_hash`` is the hasher's encoded string (never the password)."""

    id: str
    email: str = field(converter=normalize_email)
    name: str
    role: Role = field(converter=Role)
    password_hash: str = field(repr=False)
    created_at: datetime

    def __attrs_post_init__(self) -> None:
        rules = Rules("user")
        rules.require(
            is_email(self.email),
            "email",
            "must be an email address such as ann@example.org",
        )
        rules.require(
            bool(self.name.strip()) and len(self.name) <= 120,
            "name",
            "must not be empty and at most 120 characters",
        )
        rules.check()


@frozen(kw_only=True)
class Principal:
    """Who a request acts as, from a verified access token."""

    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def reveal_to(principal: Principal | None, owner_id: str, what: str) -> None:
    """Let an owner or an admin see a thing; anyone else learns only that it is not found.

    :raises NotFound: the principal neither owns the thing nor is an admin (the same answer as
        for a thing that does not exist, so ids cannot be probed).
    """
    if principal is None or (principal.user_id != owner_id and not principal.is_admin):
        raise NotFound(f"no {what} with that id")


@frozen(kw_only=True)
class RefreshToken:
    """A stored refresh token: only its hash is kept. Tokens of one login form a family; each
    use rotates the token, and presenting a used one again revokes the whole family."""

    token_hash: str
    family_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime


class RefreshUse(StrEnum):
    """What presenting a refresh token found."""

    #: It was active: it is now used, and a new token of its family may be issued.
    ROTATED = "rotated"
    #: It had been used already: someone replayed it, so its family must be revoked.
    REUSED = "reused"
    #: Unknown, expired or revoked.
    INVALID = "invalid"


@frozen(kw_only=True)
class TokenPair:
    """What a login or a refresh hands out."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
