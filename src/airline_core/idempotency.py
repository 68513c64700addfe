"""Idempotency keys: a retried request gets the first answer instead of running twice.

A client sends ``Idempotency-Key: <key>`` with a request that must not happen twice (creating a
booking, paying). The key is the client's, per user, kept for 24 hours with a fingerprint of the
request (SHA-256 of method, path and body) and, once the first request has an answer, that
answer:

- a new key runs the request and keeps its answer;
- the same key and the same request again gets the kept answer, not a second booking or charge;
- the same key while the first request still runs is 409 ``idempotency-key-in-use`` (for a
  use case that keeps the answer with its effect, :class:`KeyedRequest`, the retry waits for
  the first's transaction instead and gets its answer);
- the same key with another request is 422 ``idempotency-key-reused``;
- no key is 400 ``idempotency-key-missing``.

Answers the client caused (2xx and 4xx) are kept; a 5xx (a provider or the database down) is not,
so the client may retry with the same key. A request whose process died mid-way holds its key for
:attr:`Idempotency.lease` and is then run again by the next retry; what it reached meanwhile is
protected by the layers below (a payment's lease on its booking, the provider's own keys).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from attrs import define, frozen

from airline_core.errors import AirlineError, Conflict, InvalidRequest
from airline_core.ports import Clock, IdempotencyStore

__all__ = [
    "Idempotency",
    "IdempotencyKeyInUse",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "KeptKey",
    "KeyClaim",
    "KeyState",
    "KeyedRequest",
    "StoredAnswer",
    "fingerprint",
]

_KEY = re.compile(r"[\x21-\x7e]{1,255}")
T = TypeVar("T")


class IdempotencyKeyMissing(AirlineError):
    """The request needs an ``Idempotency-Key`` header (400)."""


class IdempotencyKeyInUse(Conflict):
    """The first request with this key is still running (409)."""


class IdempotencyKeyReused(InvalidRequest):
    """The key was used for another request (422)."""


def _in_use() -> IdempotencyKeyInUse:
    return IdempotencyKeyInUse("a request with this Idempotency-Key is still running")


def _reused() -> InvalidRequest:
    return IdempotencyKeyReused.for_field(
        "Idempotency-Key", "was used for another request: use a new key"
    )


@frozen
class StoredAnswer:
    """An answer as it was sent: status, media type and body."""

    status: int
    media_type: str
    body: bytes


class KeyState(StrEnum):
    #: The key is this request's now: run it, then :meth:`Idempotency.complete`.
    NEW = "new"
    #: The key's request finished: send :attr:`KeyClaim.answer` again.
    DONE = "done"
    #: The key's request is still running.
    RUNNING = "running"
    #: The key was used for a request with another fingerprint.
    OTHER_REQUEST = "other_request"


@frozen
class KeyClaim:
    state: KeyState
    answer: StoredAnswer | None = None


@frozen
class KeptKey:
    """A key as a store keeps it, for a use case that reads it in its own transaction."""

    fingerprint: str
    expires_at: datetime
    lease_until: datetime
    answer: StoredAnswer | None = None


@frozen
class KeyedRequest(Generic[T]):
    """A request whose key is kept in the same transaction as its effect.

    A use case that can (a hold) reads the key's :class:`KeptKey` with what it decides on,
    replays a kept answer (:meth:`Idempotency.replay`), or makes its effect and keeps
    ``render(result)`` as the key's answer in that very transaction: the effect never exists
    without its answer, so a retry after any crash replays it and never repeats it.
    """

    user_id: str
    key: str
    fingerprint: str
    expires_at: datetime
    render: Callable[[T], StoredAnswer]
    #: Until when a request that stores the key before its effect (a payment) holds it.
    lease_until: datetime
    #: The answer to keep for a refusal (an :class:`~airline_core.errors.AirlineError`); the
    #: use case keeps it unless the error is retryable or a 5xx.
    refusal: Callable[[AirlineError], StoredAnswer] | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 (hex) of the request's method, path and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@define
class Idempotency:
    """The rules above over an :class:`~airline_core.ports.IdempotencyStore`."""

    store: IdempotencyStore
    clock: Clock
    #: How long a key and its answer are kept.
    retention: timedelta = timedelta(hours=24)
    #: How long a running request holds its key before a retry may run it again.
    lease: timedelta = timedelta(minutes=2)

    @staticmethod
    def check_key(key: str | None) -> str:
        """:raises IdempotencyKeyMissing: no key. :raises InvalidRequest: a malformed one."""
        if key is None or not key.strip():
            raise IdempotencyKeyMissing(
                "this request needs an Idempotency-Key header: a value of your own, unique "
                "per request, such as a UUID"
            )
        if _KEY.fullmatch(key) is None:
            raise InvalidRequest.for_field(
                "Idempotency-Key", "must be 1 to 255 visible ASCII characters"
            )
        return key

    def request(
        self,
        user_id: str,
        key: str | None,
        print_: str,
        render: Callable[[T], StoredAnswer],
        refusal: Callable[[AirlineError], StoredAnswer] | None = None,
    ) -> KeyedRequest[T]:
        """A :class:`KeyedRequest` for ``key``, kept for :attr:`retention` from now.

        :raises IdempotencyKeyMissing: no key. :raises InvalidRequest: a malformed one.
        """
        now = self.clock.now()
        return KeyedRequest(
            user_id,
            self.check_key(key),
            print_,
            now + self.retention,
            render,
            now + self.lease,
            refusal,
        )

    async def refused(self, request: KeyedRequest[T], error: AirlineError) -> None:
        """Keep the answer to a refusal that changed nothing (none was stored for the key),
        unless trying again may succeed: a retryable error, a 5xx, or an error about the key
        itself."""
        if request.refusal is None or error.retryable:
            return
        if isinstance(error, IdempotencyKeyInUse | IdempotencyKeyReused):
            return
        await self.keep(request, request.refusal(error))

    async def settle(self, request: KeyedRequest[T], error: AirlineError) -> None:
        """The answer for a key stored as running (a payment past its first transaction) that
        ended in ``error``: kept, or the key let go when trying again may succeed."""
        answer = None if request.refusal is None else request.refusal(error)
        if answer is None or error.retryable or answer.status >= 500:
            await self.store.release(request.user_id, request.key)
        else:
            await self.store.complete(request.user_id, request.key, answer)

    @staticmethod
    def replay(kept: KeptKey | None, print_: str, now: datetime) -> StoredAnswer | None:
        """The answer to send again for a key found as ``kept``, or ``None``: run the request
        (no key, one past its retention, or one whose running request's lease lapsed).

        :raises IdempotencyKeyInUse: the key's first request is still running.
        :raises IdempotencyKeyReused: the key belongs to another request.
        """
        if kept is None or kept.expires_at <= now:
            return None
        if kept.fingerprint != print_:
            raise _reused()
        if kept.answer is not None:
            return kept.answer
        if kept.lease_until > now:
            raise _in_use()
        return None

    async def keep(self, request: KeyedRequest[T], answer: StoredAnswer) -> None:
        """Keep ``answer`` (a refusal: the request changed nothing) for a keyed request, unless
        the key has a live answer already; a 5xx is not kept, so a retry runs again."""
        if answer.status < 500:
            await self.store.keep(
                request.user_id,
                request.key,
                request.fingerprint,
                answer,
                self.clock.now(),
                request.expires_at,
            )

    async def begin(self, user_id: str, key: str, print_: str) -> StoredAnswer | None:
        """Claim ``key`` for this request: ``None`` means run it; an answer means send that.

        :raises IdempotencyKeyInUse: the key's first request is still running.
        :raises IdempotencyKeyReused: the key belongs to another request.
        """
        now = self.clock.now()
        claim = await self.store.claim(
            user_id, self.check_key(key), print_, now, now + self.retention, now + self.lease
        )
        if claim.state is KeyState.RUNNING:
            raise _in_use()
        if claim.state is KeyState.OTHER_REQUEST:
            raise _reused()
        return claim.answer

    async def complete(self, user_id: str, key: str, answer: StoredAnswer) -> None:
        """Keep the answer (or, for a 5xx, let the key go so a retry runs again)."""
        if answer.status >= 500:
            await self.store.release(user_id, key)
        else:
            await self.store.complete(user_id, key, answer)

    async def abandon(self, user_id: str, key: str) -> None:
        """Let the key go: the request ended without an answer worth repeating."""
        await self.store.release(user_id, key)

    async def purge(self) -> int:
        """Remove the keys past their retention; how many went."""
        return await self.store.purge(self.clock.now())
