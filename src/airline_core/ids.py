"""Identifiers the core makes itself, so that every adapter stores the same ids.

An id is 26 characters of Crockford base32: 48 bits of milliseconds since the Unix epoch and 80
random bits (the ULID layout). Ids sort by creation time, which keeps database inserts appending to
their index, and any process can make them without asking the database, which lets writers scale
out. Within one process ids strictly increase, even within one millisecond: the next id is the
previous one plus one until the clock moves on.
"""

from __future__ import annotations

import os
import re
import threading
import time

__all__ = ["is_id", "new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A fresh, time-ordered, 26-character id, greater than every id this process made before."""
    global _last  # noqa: PLW0603 - the one piece of state that keeps ids monotonic
    fresh = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        value = _last = max(fresh, _last + 1)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def is_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id made by :func:`new_id`."""
    return _ID.fullmatch(text) is not None
