"""Reminders: planning rules in the core, sent by a sweep (see docs/reminders.md)."""

from airline_core.reminders.model import (
    DueReminder,
    Reminder,
    ReminderChanges,
    ReminderContext,
    ReminderKind,
    ReminderQuery,
    ReminderRules,
    ReminderStatus,
    ReminderTiming,
    SweepReport,
)
from airline_core.reminders.planning import (
    dispatch,
    flight_change_notice,
    plan,
    replan,
    why_not_send,
)
from airline_core.reminders.service import Reminders

__all__ = [
    "DueReminder",
    "Reminder",
    "ReminderChanges",
    "ReminderContext",
    "ReminderKind",
    "ReminderQuery",
    "ReminderRules",
    "ReminderStatus",
    "ReminderTiming",
    "Reminders",
    "SweepReport",
    "dispatch",
    "flight_change_notice",
    "plan",
    "replan",
    "why_not_send",
]
