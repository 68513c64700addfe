"""Email through an SMTP server (aiosmtplib), as a :class:`~airline_core.ports.Notifier`.

One connection per message: simple and robust behind a relay such as Postfix or a provider's
SMTP endpoint. The ``Message-ID`` is made from the notice's key, so a message sent again after
a crash carries the same one. Replies: a 5xx (the recipient refused, a policy rejection) is a
permanent failure; a 4xx (greylisting, a full mailbox for now), a refused login or sender
(credentials to fix), a refused or dropped connection, or a timeout may pass and is retried.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Literal

import aiosmtplib
from attrs import define, field

from airline_core.notifications import Channel, DeliveryFailed, EmailMessage, SmsMessage
from airline_runtime.notify.files import compose

__all__ = ["SMTPNotifier"]


@define
class SMTPNotifier:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay).
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout: float = 30.0
    channels: frozenset[Channel] = frozenset({Channel.EMAIL})

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        if not isinstance(message, EmailMessage):
            raise DeliveryFailed("SMTP sends email only", permanent=True)
        mail = compose(message, self.sender)
        try:
            await aiosmtplib.send(
                mail,
                sender=parseaddr(self.sender)[1],
                recipients=[message.to],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            raise DeliveryFailed(
                f"SMTP refused {message.to}: {detail}", permanent=all(c >= 500 for c in codes)
            ) from error
        except (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPSenderRefused) as error:
            # The account or the sender address to fix, not this message: retried.
            raise DeliveryFailed(
                f"SMTP refused the login or the sender: {error.code} {error.message}",
                permanent=False,
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryFailed(
                f"SMTP answered {error.code} {error.message}", permanent=error.code >= 500
            ) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryFailed(
                f"SMTP server unreachable: {type(error).__name__}: {error}", permanent=False
            ) from error
        domain = self.sender.rpartition("@")[2].rstrip(">") or "airline.invalid"
        return f"<{message.key}@{domain}>"
