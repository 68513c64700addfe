"""The notification service: templates, the worker, and the notifiers (files and log on the
embedded default; SMTP, SendGrid and Twilio with the ``[notify]`` extra, imported from their
modules)."""

from airline_runtime.notify.files import FileNotifier
from airline_runtime.notify.templates import TemplateError, Templates, local_time
from airline_runtime.notify.worker import CONSUMER, NOTIFIED_EVENTS, NotificationWorker

__all__ = [
    "CONSUMER",
    "NOTIFIED_EVENTS",
    "FileNotifier",
    "NotificationWorker",
    "TemplateError",
    "Templates",
    "local_time",
]
