"""``airline scheduler``: the reminder sweep, the booking housekeeping and the outbox relay as
jobs of one APScheduler (see :mod:`airline_runtime.scheduling.scheduler`)."""

from airline_runtime.scheduling.scheduler import Scheduler, scheduler_owner

__all__ = ["Scheduler", "scheduler_owner"]
