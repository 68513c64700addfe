"""A tiny ASGI base for the provider fakes: read the request, answer JSON."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsonApp"]


class JsonApp:
    """Subclasses answer :meth:`handle` with (status, JSON answer, extra headers)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, extra = self.handle(scope["method"], scope["path"], headers, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        response_headers = [(b"content-type", b"application/json")]
        response_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError
