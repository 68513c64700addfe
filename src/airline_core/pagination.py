"""Keyset pagination with opaque cursors.

A list is read in the order of a sort key that is unique (a code, an id, or a tuple ending in the
id). A cursor carries the key of the last (or first) row shown and a fingerprint of the query that
made it, so that a cursor can only continue the query it came from.

Stores never see cursors: a use case turns a :class:`PageRequest` into a :class:`KeysetWindow`
(decoded keys), the store returns up to ``window.fetch`` rows on the requested side of the key, and
:func:`make_page` turns those rows back into a :class:`Page` with the cursors for the neighbours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from attrs import field, frozen

from airline_core.errors import InvalidRequest

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "KeysetWindow",
    "Page",
    "PageRequest",
    "Scope",
    "SortKey",
    "make_page",
    "select_window",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

SortKey = tuple[str | int, ...]
#: What a cursor is bound to: the query in one string, or a function that makes it (called only
#: when a cursor is read or written, since most first pages need neither).
Scope = str | Callable[[], str]
T = TypeVar("T")


def _check_limit(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest.for_field("limit", f"must be between 1 and {MAX_LIMIT}")


@frozen(kw_only=True)
class PageRequest:
    """Which page to read: at most ``limit`` rows after (or before) a cursor."""

    limit: int = field(default=DEFAULT_LIMIT, validator=_check_limit)
    after: str | None = None
    before: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.after is not None and self.before is not None:
            raise InvalidRequest.for_field("before", "give either after or before, not both")


@frozen(kw_only=True)
class KeysetWindow:
    """What a store reads: ``fetch`` rows strictly after ``after`` in ascending key order, or,
    when ``before`` is set, strictly before it in descending order."""

    limit: int
    after: SortKey | None = None
    before: SortKey | None = None

    @property
    def fetch(self) -> int:
        # One row more than shown tells whether another page follows.
        return self.limit + 1

    @property
    def backwards(self) -> bool:
        return self.before is not None

    @classmethod
    def open(
        cls, request: PageRequest, scope: Scope, shape: tuple[type, ...] = (str,)
    ) -> KeysetWindow:
        """Decode the request's cursor for the query named by ``scope``, whose sort key has the
        types in ``shape``."""
        return cls(
            limit=request.limit,
            after=None if request.after is None else _decode("after", request.after, scope, shape),
            before=None
            if request.before is None
            else _decode("before", request.before, scope, shape),
        )


@frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list, and the cursors that lead to its neighbours (``None`` at an end)."""

    items: Sequence[T]
    limit: int
    after: str | None = None
    before: str | None = None


def make_page(
    rows: Sequence[T], window: KeysetWindow, key: Callable[[T], SortKey], scope: Scope
) -> Page[T]:
    """Build the page from the rows a store returned for ``window``."""
    more = len(rows) > window.limit
    shown = list(rows[: window.limit])
    if window.backwards:
        shown.reverse()
        before = _encode(key(shown[0]), scope) if more and shown else None
        after = _encode(key(shown[-1]), scope) if shown else None
    else:
        after = _encode(key(shown[-1]), scope) if more and shown else None
        before = _encode(key(shown[0]), scope) if window.after is not None and shown else None
    return Page(items=tuple(shown), limit=window.limit, after=after, before=before)


def _fingerprint(scope: Scope) -> str:
    text = scope if isinstance(scope, str) else scope()
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


def _encode(key: SortKey, scope: Scope) -> str:
    payload = json.dumps([_fingerprint(scope), list(key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(name: str, cursor: str, scope: Scope, shape: tuple[type, ...]) -> SortKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fingerprint, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRequest.for_field(name, "is not a cursor this API made") from None
    if fingerprint != _fingerprint(scope):
        raise InvalidRequest.for_field(name, "belongs to another query")
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(
            isinstance(part, kind) and not isinstance(part, bool)
            for part, kind in zip(key, shape, strict=True)
        )
    ):
        raise InvalidRequest.for_field(name, "is not a cursor this API made")
    return tuple(key)


def select_window(items: Sequence[T], key: Callable[[T], SortKey], window: KeysetWindow) -> list[T]:
    """Apply ``window`` to items held in memory, as a store's ``list`` must (module docstring)."""
    ordered = sorted(items, key=key, reverse=window.backwards)
    if window.after is not None:
        after = window.after
        ordered = [item for item in ordered if key(item) > after]
    if window.before is not None:
        before = window.before
        ordered = [item for item in ordered if key(item) < before]
    return ordered[: window.fetch]
