"""Clocks: the system one, and a fake one that tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import define, field

__all__ = ["FakeClock", "SystemClock"]


class SystemClock:
    """The real time, always an aware UTC instant."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@define
class FakeClock:
    """A clock that only moves when told to: ``clock.advance(minutes=20)``."""

    current: datetime = field(factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        self.current += delta if delta is not None else timedelta(**parts)
        return self.current

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FakeClock needs an aware instant")
        self.current = instant.astimezone(UTC)
