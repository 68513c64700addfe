"""The argon2id hasher: OWASP parameters, off the event loop, rehash on login."""

from __future__ import annotations

import time

import anyio
import argon2
import pytest

from airline_core import Airline, FakeClock
from airline_runtime.security import Argon2PasswordHasher
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.anyio


async def test_hashes_with_owasp_argon2id_parameters() -> None:
    hasher = Argon2PasswordHasher()
    encoded = await hasher.hash("a long enough passphrase")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(encoded, "a long enough passphrase")
    assert not await hasher.verify(encoded, "another passphrase!")
    assert not await hasher.verify("not a hash", "a long enough passphrase")
    assert not hasher.needs_rehash(encoded)
    assert hasher.needs_rehash("not a hash")


async def test_hashing_never_stalls_the_event_loop() -> None:
    hasher = Argon2PasswordHasher()
    worst_gap = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst_gap
        last = time.perf_counter()
        while not done:
            await anyio.sleep(0.002)
            now = time.perf_counter()
            worst_gap = max(worst_gap, now - last)
            last = now

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        started = time.perf_counter()
        for _ in range(4):
            await hasher.hash("a long enough passphrase")
        hashing = time.perf_counter() - started
        done = True
    # Four hashes take tens of ms each; the loop kept ticking all along.
    assert hashing > 0.02
    assert worst_gap < hashing / 2


async def test_login_upgrades_hashes_made_with_old_parameters() -> None:
    old = Argon2PasswordHasher(argon2.PasswordHasher(time_cost=1, memory_cost=8 * 1024))
    current = Argon2PasswordHasher()
    async with Airline.in_memory(clock=FakeClock(TEST_NOW), password_hasher=old) as airline:
        user = await airline.accounts.register(
            email="ann@example.org", password="a long enough passphrase", name="Ann"
        )
        assert current.needs_rehash(user.password_hash)
        airline.accounts.hasher = current
        await airline.accounts.login("ann@example.org", "a long enough passphrase")
        upgraded = await airline.accounts.users.get(user.id)
        assert not current.needs_rehash(upgraded.password_hash)
        await airline.accounts.login("ann@example.org", "a long enough passphrase")
