"""What the API does when MariaDB drops its connections (a restart, a failover, a proxy that
closes idle links). The shared server is never touched: a small TCP proxy sits in front of it
and cuts every connection through it on demand."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from airline_runtime.bootstrap import bootstrap
from airline_runtime.db import create_database
from airline_runtime.http import create_app
from airline_runtime.settings import Settings
from tests.runtime.conftest import API, problem

pytestmark = [pytest.mark.anyio, pytest.mark.mysql]


class CuttingProxy:
    """Forwards TCP connections to ``target``; :meth:`cut` closes all of them at once.

    It runs on its own threads, not on the test's event loop: Litestar's test client blocks that
    loop while it starts the app in a portal, and the app's lifespan already talks to the database.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.links: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                with self.lock:
                    self.links.update((client, server))
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            links, self.links = self.links, set()
        for link in links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()

    def stop(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
async def proxied_url(mysql_url: str) -> AsyncIterator[tuple[str, CuttingProxy]]:
    parts = urlsplit(mysql_url)
    proxy = CuttingProxy(parts.hostname or "127.0.0.1", parts.port or 3306)
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    yield urlunsplit(parts._replace(netloc=netloc)), proxy
    proxy.stop()


async def test_a_read_survives_its_connection_being_dropped(
    proxied_url: tuple[str, CuttingProxy],
) -> None:
    url, proxy = proxied_url
    database = create_database(url)
    try:
        assert (await database.fetch(text("SELECT 1")))[0][0] == 1
        proxy.cut()  # the pooled connection is dead now, and nothing pings it first
        assert (await database.fetch(text("SELECT 2")))[0][0] == 2
    finally:
        await database.dispose()


async def test_the_api_answers_503_then_recovers(proxied_url: tuple[str, CuttingProxy]) -> None:
    url, proxy = proxied_url
    settings = Settings(database_url=url, jwt_secret="x" * 40)
    async with bootstrap(settings):  # the schema is there (the session migrated it)
        pass
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.get(f"{API}/cities")).status_code == 200
        proxy.cut()
        # A list read is not retried: the request that meets the dead connection answers 503,
        # telling the client to come back, and gives nothing away.
        first = await client.get(f"{API}/cities")
        body: dict[str, Any] = problem(first, 503)
        assert body["detail"] == "the database is unavailable; retry shortly"
        assert first.headers["retry-after"] == "1"
        # SQLAlchemy has discarded the pool's stale connections: the next request is served.
        assert (await client.get(f"{API}/cities")).status_code == 200
        # Search reads are retried once, so they never see the failure.
        proxy.cut()
        search = await client.get(
            f"{API}/search/flights",
            params={"origin": "XXX", "destination": "YYY", "date": "2030-01-01"},
        )
        assert search.status_code == 404  # answered by the database, after the retry
