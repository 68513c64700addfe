"""The runtime's password hasher (argon2id) and access tokens (signed JWTs).

- Passwords: argon2id with OWASP's minimum parameters (19 MiB, 2 iterations, 1 lane). Hashing
  takes tens of milliseconds of CPU, so it runs in a worker thread: the event loop keeps serving
  other requests meanwhile. Hashes made with older parameters are upgraded at the next login.
- Access tokens: HS256 JWTs that every API replica can verify with the shared secret. Decoding
  accepts only HS256 (so ``alg: none`` and algorithm confusion fail), requires ``exp``, ``iat``,
  ``sub``, ``jti``, ``aud``, ``iss`` and ``typ``, and checks audience and issuer.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime, timedelta

import anyio
import anyio.to_thread
import argon2
import jwt
from attrs import define, field

from airline_core.errors import NotAuthenticated
from airline_core.identity.model import Principal, Role

__all__ = ["Argon2PasswordHasher", "JWTAccessTokens"]


def _owasp_argon2id() -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=2, memory_cost=19 * 1024, parallelism=1, type=argon2.Type.ID
    )


def _spare_cores() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


@define
class Argon2PasswordHasher:
    """argon2id in worker threads, at most ``concurrency`` at once.

    The hash releases the GIL, so threads keep the event loop free of it; but a login storm
    would still start one hash per login and take every core, and the loop's own thread would
    then wait for the CPU (measured here: a third of 50 ms timers late by over 5 ms at 50
    concurrent logins on 2 cores). Leaving a core to the loop keeps every other request fast;
    logins queue for a hashing slot instead, their throughput bounded by the cores given.
    """

    hasher: argon2.PasswordHasher = field(factory=_owasp_argon2id)
    concurrency: int = field(factory=_spare_cores)
    _slots: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    def _limiter(self) -> anyio.CapacityLimiter:
        # Made on first use: a CapacityLimiter belongs to the running event loop.
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self.concurrency)
        return self._slots

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hasher.hash, password, limiter=self._limiter())

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await anyio.to_thread.run_sync(
                self.hasher.verify, password_hash, password, limiter=self._limiter()
            )
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True


_ALGORITHM = "HS256"
_TYPE = "access"
_INVALID = "the access token is not valid"


@define
class JWTAccessTokens:
    """Issues and verifies access tokens.

    A client sends the same token on every request for up to 15 minutes, and decoding and
    checking it costs far more than answering a cheap GET (PyJWT validates every character), so
    each replica remembers the tokens it verified lately: a token is checked in full once, then
    found by its exact text, with only its expiry checked again. Only tokens that passed every
    check are remembered, and the signing secret never changes while the process runs. When
    more than :attr:`remembered` are, the one verified first is forgotten: a token lives 15
    minutes, so the oldest is the nearest its end (no reordering on each use, as an LRU would).
    """

    secret: str = field(repr=False)
    issuer: str
    audience: str
    lifetime: timedelta = timedelta(minutes=15)
    #: Clock skew tolerated between the replica that issued a token and the one checking it.
    leeway: timedelta = timedelta(seconds=10)
    #: How many verified tokens to remember (a few hundred bytes each).
    remembered: int = 10_000
    #: token -> (principal, the instant it stops being accepted: its expiry plus the leeway).
    _verified: dict[str, tuple[Principal, float]] = field(factory=dict, init=False, repr=False)

    def issue(self, principal: Principal, now: datetime) -> tuple[str, int]:
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.user_id,
            "role": principal.role.value,
            "typ": _TYPE,
            "jti": secrets.token_urlsafe(12),
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
        }
        return jwt.encode(claims, self.secret, algorithm=_ALGORITHM), int(
            self.lifetime.total_seconds()
        )

    def verify(self, token: str) -> Principal:
        verified = self._verified
        known = verified.get(token)
        if known is not None:
            principal, until = known
            if time.time() < until:
                return principal
            del verified[token]
            raise NotAuthenticated(_INVALID)
        principal, expires = self._decode(token)
        verified[token] = (principal, expires + self.leeway.total_seconds())
        if len(verified) > self.remembered:
            del verified[next(iter(verified))]
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "jti", "aud", "iss", "typ"]},
            )
        except jwt.PyJWTError:
            raise NotAuthenticated(_INVALID) from None
        if claims.get("typ") != _TYPE:
            raise NotAuthenticated(_INVALID)
        try:
            principal = Principal(user_id=str(claims["sub"]), role=Role(str(claims.get("role"))))
        except ValueError:
            raise NotAuthenticated(_INVALID) from None
        return principal, float(claims["exp"])
