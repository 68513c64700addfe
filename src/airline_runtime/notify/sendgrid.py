"""Email through SendGrid's v3 Mail Send API (``POST /v3/mail/send``), over httpx.

The request follows SendGrid's documented shape: ``personalizations`` with the recipient,
``from``, ``subject``, ``content`` as ``text/plain`` then ``text/html``, and the notice's key in
``custom_args`` (it comes back in SendGrid's event webhooks). ``202 Accepted`` is sent; the
answer's ``X-Message-Id`` is the provider id. 429 and 5xx are retried; another 4xx (a bad
address, a sender not verified) is permanent, with SendGrid's first error message.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

import httpx
from attrs import define, field

from airline_core.notifications import Channel, DeliveryFailed, EmailMessage, SmsMessage
from airline_runtime.notify.providers import classify, post

__all__ = ["SENDGRID_API", "SendGridNotifier"]

SENDGRID_API = "https://api.sendgrid.com"


@define
class SendGridNotifier:
    """Close it with :meth:`aclose` (the runtime does)."""

    api_key: str = field(repr=False)
    #: ``Name <address>`` or a bare address (a verified sender of the account).
    sender: str
    api_url: str = SENDGRID_API
    timeout: float = 20.0
    transport: httpx.AsyncBaseTransport | None = None
    channels: frozenset[Channel] = frozenset({Channel.EMAIL})
    _client: httpx.AsyncClient = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=self.timeout,
            transport=self.transport,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def body(self, message: EmailMessage) -> dict[str, Any]:
        name, address = parseaddr(self.sender)
        sender: dict[str, str] = {"email": address}
        if name:
            sender["name"] = name
        return {
            "personalizations": [{"to": [{"email": message.to, "name": message.name}]}],
            "from": sender,
            "subject": message.subject,
            "content": [
                {"type": "text/plain", "value": message.text},
                {"type": "text/html", "value": message.html},
            ],
            "custom_args": {"notification_key": message.key},
        }

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        if not isinstance(message, EmailMessage):
            raise DeliveryFailed("SendGrid sends email only", permanent=True)
        response = await post(self._client, "SendGrid", "/v3/mail/send", json=self.body(message))
        if response.status_code != 202:
            raise classify("SendGrid", response, _first_error(response))
        return str(response.headers.get("X-Message-Id", message.key))


def _first_error(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or [{}]
        return str(errors[0].get("message") or response.reason_phrase)
    except (ValueError, AttributeError, TypeError):
        return response.reason_phrase
