"""The scheduler process: cron-triggered jobs on APScheduler 3 (asyncio).

Jobs:

- ``reminders`` (``AIRLINE_REMINDER_SWEEP_CRON``, every minute by default): send every reminder
  that is due (:meth:`airline_core.reminders.Reminders.sweep`);
- ``housekeeping`` (``AIRLINE_HOUSEKEEPING_CRON``, every minute): expire unpaid holds, retry owed
  refunds, forget old idempotency keys and offers (:meth:`airline_core.Airline.sweep`);
- ``relay``: the outbox relay (:class:`~airline_runtime.messaging.Relay`), started once and
  running for as long as the scheduler does (with the in-process bus the notification worker
  runs beside it, as in ``airline worker``).

Every job runs with ``coalesce`` (runs missed while the process was busy or asleep collapse
into one), ``max_instances=1`` (a slow sweep is never overlapped by the next) and
``misfire_grace_time=None`` (a late run still runs). Both sweeps run once at start, so a
scheduler that was down catches up at once: the reminder sweep takes everything due since,
whatever its age, and the rule of each reminder (:mod:`airline_core.reminders.planning`)
decides whether it is still worth sending.

APScheduler 3 keeps its jobs in the memory of each process, so every scheduler process runs
every job. That is by design here: each job is a claim on shared rows (reminder and outbox
leases, compare-and-set updates of holds), so N schedulers share the work and never do a piece
of it twice. Run two or more for availability.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from attrs import define, field

from airline_core.ids import new_id
from airline_core.reminders import SweepReport
from airline_runtime.bootstrap import Runtime

__all__ = ["JOB_DEFAULTS", "Scheduler", "scheduler_owner"]

logger = logging.getLogger(__name__)

#: How every job runs (see the module's notes).
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


def scheduler_owner() -> str:
    """A name for this scheduler's claims that no other process has."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id()[-8:]}"


@define
class Scheduler:
    """The jobs of one scheduler process on an open runtime."""

    runtime: Runtime
    #: Run the outbox relay as a job (``airline scheduler --no-relay`` when relays run apart).
    relay: bool = True
    #: Run the booking housekeeping as a job (``airline demo`` leaves it to the API process).
    housekeeping: bool = True
    owner: str = field(factory=scheduler_owner)

    async def sweep_reminders(self) -> SweepReport:
        """The ``reminders`` job: one sweep of everything due now."""
        try:
            report = await self.runtime.airline.reminders.sweep(self.owner)
        except Exception:
            logger.exception("the reminder sweep failed; it runs again at its next time")
            return SweepReport()
        if report.sent or report.skipped:
            logger.info("reminder sweep: %d sent, %d skipped", report.sent, report.skipped)
        return report

    async def sweep_bookings(self) -> dict[str, int]:
        """The ``housekeeping`` job."""
        try:
            done = await self.runtime.airline.sweep()
        except Exception:
            logger.exception("the booking housekeeping failed; it runs again at its next time")
            return {}
        if any(done.values()):
            logger.info("booking housekeeping", extra=done)
        return done

    def build(self, stack: AsyncExitStack | None = None) -> AsyncIOScheduler:
        """The APScheduler with this process's jobs (not started). ``stack`` is where the
        relay's messaging is closed; without one the relay job is left out."""
        settings = self.runtime.settings
        # APScheduler logs two INFO lines per run of every job (every minute); its warnings
        # (a run skipped because the last one still runs) and errors still show.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))
        now = datetime.now(UTC)
        scheduler.add_job(
            self.sweep_reminders,
            CronTrigger.from_crontab(settings.reminder_sweep_cron, timezone=UTC),
            id="reminders",
            name="reminder sweep",
            next_run_time=now,  # catch up on start
        )
        if self.housekeeping:
            scheduler.add_job(
                self.sweep_bookings,
                CronTrigger.from_crontab(settings.housekeeping_cron, timezone=UTC),
                id="housekeeping",
                name="booking housekeeping",
                next_run_time=now,
            )
        if self.relay and stack is not None:
            scheduler.add_job(
                self._relay,
                DateTrigger(now, timezone=UTC),
                id="relay",
                name="outbox relay",
                args=[stack],
            )
        return scheduler

    async def _relay(self, stack: AsyncExitStack) -> None:
        from airline_runtime.messaging.service import open_messaging

        runtime = self.runtime
        messaging = await stack.enter_async_context(open_messaging(runtime, stack))
        if runtime.broker is not None:
            await runtime.broker.connect_forever()
        await messaging.relay().run()

    async def run(self) -> None:
        """Run the jobs until cancelled."""
        async with AsyncExitStack() as stack:
            scheduler = self.build(stack)
            scheduler.start()
            jobs = ", ".join(job.name for job in scheduler.get_jobs())
            logger.info("scheduler %s running: %s", self.owner, jobs)
            try:
                await anyio.sleep_forever()
            finally:
                # Cancels the jobs still running (the relay's for one).
                scheduler.shutdown(wait=False)
