"""What the HTTP notifiers (SendGrid, Twilio) share: one pooled httpx client, and the rule that
sorts a provider's answers into sent, passing and permanent failures."""

from __future__ import annotations

from typing import Any

import httpx

from airline_core.notifications import DeliveryFailed

__all__ = ["classify", "post"]


#: 4xx answers that say nothing against the message: a key or account to fix (401, 403), a
#: timeout (408), too many requests (429). Retried, so that fixing the credentials sends what
#: waited, instead of every message meanwhile being refused for good.
_PASSING_4XX = frozenset({401, 403, 408, 429})


def classify(provider: str, response: httpx.Response, detail: str) -> DeliveryFailed:
    """The failure a non-2xx answer is: 5xx and :data:`_PASSING_4XX` may pass; any other 4xx
    is permanent (the same message will be refused again)."""
    status = response.status_code
    passing = status >= 500 or status in _PASSING_4XX
    return DeliveryFailed(f"{provider} answered {status}: {detail}", permanent=not passing)


async def post(
    client: httpx.AsyncClient, provider: str, url: str, **request: Any
) -> httpx.Response:
    """POST, a transport failure or timeout being a passing failure."""
    try:
        return await client.post(url, **request)
    except httpx.HTTPError as error:
        raise DeliveryFailed(
            f"{provider} unreachable: {type(error).__name__}", permanent=False
        ) from error
