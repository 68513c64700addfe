"""Fixtures for the pure core: an airline on memory stores whose clock only moves when told to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from airline_core import Airline, FakeClock
from tests.core.samples import NOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def airline(clock: FakeClock) -> AsyncIterator[Airline]:
    async with Airline.in_memory(clock=clock) as airline:
        yield airline
