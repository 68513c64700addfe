"""Users, roles, passwords and tokens."""

from airline_core.identity.model import (
    Principal,
    RefreshToken,
    RefreshUse,
    Role,
    TokenPair,
    User,
    normalize_email,
    reveal_to,
)
from airline_core.identity.passwords import ScryptPasswordHasher, check_password
from airline_core.identity.service import BAD_CREDENTIALS, Accounts, hash_refresh_token

__all__ = [
    "BAD_CREDENTIALS",
    "Accounts",
    "Principal",
    "RefreshToken",
    "RefreshUse",
    "Role",
    "ScryptPasswordHasher",
    "TokenPair",
    "User",
    "check_password",
    "hash_refresh_token",
    "normalize_email",
    "reveal_to",
]
