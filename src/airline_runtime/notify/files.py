"""The console notifier of the embedded default: every message a file under a folder, and a line
in the log.

An email is ``<key>.eml`` (RFC 5322, plain text and HTML alternatives: open it in any mail
program), an SMS ``<key>.sms.txt``. The file is written under a temporary name and renamed, so a
reader never sees half a message, and the name is the notice's key, so sending the same notice
again replaces its file instead of adding one: the folder holds exactly one file per notice.
"""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr
from pathlib import Path

import anyio
from attrs import define, field

from airline_core.notifications import Channel, DeliveryFailed, EmailMessage, SmsMessage

__all__ = ["FileNotifier"]

logger = logging.getLogger(__name__)


def mime(message: EmailMessage, sender: str) -> MimeMessage:
    """The email as a MIME message; its ``Message-ID`` is made from the notice's key, so every
    attempt of one notice carries the same one (receivers may drop a repeat by it)."""
    mail = MimeMessage()
    mail["From"] = sender
    mail["To"] = formataddr((message.name, message.to))
    mail["Subject"] = message.subject
    domain = sender.rpartition("@")[2].rstrip(">") or "airline.invalid"
    mail["Message-ID"] = f"<{message.key}@{domain}>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


@define
class FileNotifier:
    directory: Path
    sender: str = "Airline <bookings@airline.invalid>"
    channels: frozenset[Channel] = field(default=frozenset(Channel))

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        if isinstance(message, EmailMessage):
            name = f"{message.key}.eml"
            content = bytes(mime(message, self.sender))
            summary = f"email to {message.to}: {message.subject}"
        else:
            name = f"{message.key}.sms.txt"
            content = f"To: {message.to}\n\n{message.text}\n".encode()
            summary = f"SMS to {message.to}: {message.text}"
        try:
            await anyio.to_thread.run_sync(self._write, name, content)
        except OSError as error:  # a full disk or a missing folder may be fixed: retry
            raise DeliveryFailed(f"cannot write {name}: {error}", permanent=False) from error
        logger.info("notification %s (%s)", summary, name)
        return name

    def _write(self, name: str, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / name
        partial = self.directory / f".{name}.{os.getpid()}.part"
        partial.write_bytes(content)
        os.replace(partial, final)
