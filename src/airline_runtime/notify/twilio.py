"""SMS through Twilio's Programmable Messaging API, over httpx.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``Body`` and
either ``From`` (a Twilio number) or ``MessagingServiceSid``, HTTP basic auth with the account
SID and auth token, as Twilio documents. ``201 Created`` is sent and its ``sid`` (``SM...``) is
the provider id. 429 and 5xx are retried; another 4xx (an invalid or unreachable number, code
21211 or 21614) is permanent, with Twilio's code and message.
"""

from __future__ import annotations

import httpx
from attrs import define, field

from airline_core.notifications import Channel, DeliveryFailed, EmailMessage, SmsMessage
from airline_runtime.notify.providers import classify, post

__all__ = ["TWILIO_API", "TwilioNotifier"]

TWILIO_API = "https://api.twilio.com"


@define
class TwilioNotifier:
    """Close it with :meth:`aclose` (the runtime does)."""

    account_sid: str
    auth_token: str = field(repr=False)
    #: A Twilio phone number (E.164) or a Messaging Service SID (``MG...``).
    sender: str
    api_url: str = TWILIO_API
    timeout: float = 20.0
    transport: httpx.AsyncBaseTransport | None = None
    channels: frozenset[Channel] = frozenset({Channel.SMS})
    _client: httpx.AsyncClient = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=self.timeout,
            transport=self.transport,
            auth=(self.account_sid, self.auth_token),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        if not isinstance(message, SmsMessage):
            raise DeliveryFailed("Twilio sends SMS only", permanent=True)
        form = {"To": message.to, "Body": message.text}
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        response = await post(self._client, "Twilio", path, data=form)
        if response.status_code != 201:
            raise classify("Twilio", response, _error(response))
        try:
            return str(response.json()["sid"])
        except (ValueError, KeyError, TypeError):
            return message.key


def _error(response: httpx.Response) -> str:
    try:
        answer = response.json()
        return f"{answer.get('code')} {answer.get('message')}"
    except (ValueError, AttributeError):
        return response.reason_phrase
