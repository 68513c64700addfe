"""The password policy, and a stdlib password hasher for the core's own use.

The policy follows NIST SP 800-63B: a minimum length and a deny-list of common passwords, no
composition rules. The runtime hashes with argon2id; :class:`ScryptPasswordHasher` lets the core
work on its own (memory adapters, embedding) with a memory-hard function from the standard
library, run in a worker thread so the event loop never stalls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import anyio.to_thread
from attrs import frozen

from airline_core.errors import InvalidRequest
from airline_core.identity.model import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

__all__ = ["ScryptPasswordHasher", "check_password"]

# Passwords of at least the minimum length that lead every published list of leaked passwords.
_COMMON = frozenset(
    {
        "1234567890", "0987654321", "1111111111", "0000000000", "qwertyuiop", "asdfghjkl;",
        "1q2w3e4r5t", "1qaz2wsx3edc", "qwerty123456", "123456789a", "a123456789",
        "password12", "password123", "password1234", "passw0rd12", "iloveyou12",
        "abcdefghij", "abcd123456", "qwerty1234", "1234qwerty", "zaq12wsxcde",
        "football12", "baseball12", "welcome123", "letmein123", "changeme123",
        "administrator", "trustno1trustno1", "superman123", "princess12",
    }
)  # fmt: skip


def check_password(password: str, email: str = "") -> None:
    """:raises InvalidRequest: naming ``password`` when it is too short, too long, common, one
    repeated character, or the email (or its local part)."""
    problem = None
    lowered = password.lower()
    local_part = email.partition("@")[0].lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        problem = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    elif len(password) > MAX_PASSWORD_LENGTH:
        problem = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    elif lowered in _COMMON or len(set(password)) == 1:
        problem = "is too common; choose a longer, less guessable one"
    elif email and (lowered == email.lower() or (len(local_part) >= 4 and local_part in lowered)):
        problem = "must not contain your email address"
    if problem is not None:
        raise InvalidRequest.for_field("password", problem)


@frozen
class ScryptPasswordHasher:
    """scrypt from :mod:`hashlib`; the default work factor costs 16 MiB and tens of ms."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def _derive(self, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=32
        )

    async def hash(self, password: str) -> str:
        salt = os.urandom(16)
        digest = await anyio.to_thread.run_sync(
            self._derive, password, salt, self.n, self.r, self.p
        )
        encoded = base64.b64encode(salt + digest).decode()
        return f"scrypt${self.n}${self.r}${self.p}${encoded}"

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            scheme, n, r, p, encoded = password_hash.split("$")
            raw = base64.b64decode(encoded)
        except ValueError:
            return False
        if scheme != "scrypt":
            return False
        digest = await anyio.to_thread.run_sync(
            self._derive, password, raw[:16], int(n), int(r), int(p)
        )
        return hmac.compare_digest(digest, raw[16:])

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"scrypt${self.n}${self.r}${self.p}$")
