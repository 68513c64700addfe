"""Security headers on every answer, a docs policy that lets Swagger UI run, and CORS."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
import swagger_ui_bundle
from litestar import Litestar, Response, get, post
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.testing import AsyncTestClient

from airline_runtime.http.gateway import gateway
from airline_runtime.http.hardening import (
    API_CONTENT_SECURITY_POLICY,
    REMEMBERED_PATHS,
    SecurityHeaders,
    cors_config,
    is_private,
)
from airline_runtime.settings import Settings

ASSETS = "/schema/assets"
ALLOWED = "https://app.example.org"

COMMON = {"x-content-type-options": "nosniff"}
# Headers that only govern an HTML document (or that frame-ancestors already covers): the docs
# page gets them, JSON answers do not.
DOCUMENT = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


@get("/api/v1/flights")
async def flights() -> dict[str, list[str]]:
    return {"data": []}


@post("/api/v1/auth/token")
async def token() -> dict[str, str]:
    return {"access_token": "secret"}


@get("/api/v1/me")
async def me() -> dict[str, str]:
    return {"id": "user-1"}


@get("/api/v1/cached")
async def cached() -> Response[dict[str, str]]:
    return Response({"data": "x"}, headers={"Cache-Control": "max-age=60"})


def build_app(settings: Settings) -> Litestar:
    swagger = SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
    )
    app = Litestar(
        [
            flights,
            token,
            me,
            cached,
            create_static_files_router(
                path=ASSETS,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
            ),
        ],
        openapi_config=OpenAPIConfig(
            title="Airline", version="1", path="/schema", render_plugins=[swagger]
        ),
        cors_config=cors_config(settings),
        logging_config=None,
    )
    app.asgi_handler = gateway(app.asgi_handler, authenticate=None)
    return app


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(build_app(Settings(cors_origins=(ALLOWED,)))) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/v1/flights", 200), ("GET", "/nowhere", 404), ("DELETE", "/api/v1/me", 405)],
)
async def test_every_answer_carries_the_security_headers(
    client: AsyncTestClient[Litestar], method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    for name, value in COMMON.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY
    for name in [*DOCUMENT, "permissions-policy"]:
        assert name not in response.headers
    assert "cache-control" not in response.headers or path == "/api/v1/me"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/v1/auth/token"), ("GET", "/api/v1/me")]
)
async def test_tokens_and_personal_data_are_not_stored(
    client: AsyncTestClient[Litestar], method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code in (200, 201)
    assert response.headers["cache-control"] == "no-store"


async def test_a_route_keeps_its_own_header(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/cached")
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


class InlineBlocks(HTMLParser):
    """Collects the text of inline scripts and styles, as a browser hashes them."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._into: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not dict(attrs).get("src"):
            self._into = self.scripts
        elif tag == "style":
            self._into = self.styles
        if self._into is not None:
            self._into.append("")

    def handle_endtag(self, tag: str) -> None:
        self._into = None

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_docs_page_may_run_exactly_its_own_inline_blocks(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["x-request-id"]
    for name, value in {**COMMON, **DOCUMENT}.items():
        assert response.headers[name] == value
    assert "camera=()" in response.headers["permissions-policy"]
    blocks = InlineBlocks()
    blocks.feed(response.text)
    assert len(blocks.scripts) == 1
    assert "SwaggerUIBundle" in blocks.scripts[0]
    directives = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'self' {sha256_source(blocks.scripts[0])}"
    assert directives["style-src"] == f"'self' {sha256_source(blocks.styles[0])}"
    assert directives["img-src"] == "'self' data:"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]


async def test_the_docs_assets_and_document_get_the_api_policy(
    client: AsyncTestClient[Litestar],
) -> None:
    for path in (f"{ASSETS}/swagger-ui-bundle.js", "/schema/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == API_CONTENT_SECURITY_POLICY


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
    }


async def test_a_configured_origin_passes_the_preflight(client: AsyncTestClient[Litestar]) -> None:
    response = await client.options("/api/v1/auth/token", headers=preflight(ALLOWED))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-max-age"] == "600"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "idempotency-key" in response.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["x-request-id"]  # preflights never reach a route, yet get an id
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_another_origin_is_refused(client: AsyncTestClient[Litestar]) -> None:
    response = await client.options(
        "/api/v1/auth/token", headers=preflight("https://evil.example.com")
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_cross_origin_answer_exposes_the_request_id(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/api/v1/flights", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"x-request-id", "retry-after", "ratelimit", "ratelimit-policy"} <= exposed


def test_the_headers_of_a_path_are_the_same_remembered_and_memory_stays_bounded() -> None:
    security = SecurityHeaders()
    paths = ["/api/v1/cities", "/api/v1/me", "/api/v1/auth/token", "/schema/swagger"]
    first = [security.for_path(path) for path in paths]
    again = [security.for_path(path) for path in paths]
    assert first == again == [security.api, security.private, security.private, None]
    for number in range(REMEMBERED_PATHS + 10):
        assert security.for_path(f"/api/v1/flights/{number}") is security.api
    assert is_private.cache_info().currsize <= REMEMBERED_PATHS
    assert security.for_path("/api/v1/me") is security.private


def test_no_cors_without_origins() -> None:
    assert cors_config(Settings()) is None
    config = cors_config(Settings(cors_origins=(ALLOWED,)))
    assert config is not None
    assert config.allow_origins == [ALLOWED]
    assert config.allow_credentials is False
