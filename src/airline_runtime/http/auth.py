"""Who a request acts as: bearer-token authentication, role guards, and the identity routes.

:class:`AuthenticationMiddleware` reads ``Authorization: Bearer <token>`` once per request and
leaves the verified :class:`~airline_core.identity.model.Principal` (or ``None`` for an anonymous
request) in ``scope["user"]``, where guards, the rate limiter and the access log find it. A
request that presents a bad token is refused with 401 even on a public route: a client whose token
went stale should learn it at once rather than silently lose its identity.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.enums import ScopeType
from litestar.params import FromPath, JSONBody
from litestar.types import (
    ASGIApp,
    Receive,
    Scope,
    Send,
)

from airline_core import Airline, NotAuthenticated, PageRequest
from airline_core.identity.model import User
from airline_runtime.http.catalog import After, AirlineDependency, Before, Limit
from airline_runtime.http.guards import admin_only, principal_of, signed_in
from airline_runtime.http.problems import problem_responses, send_problem
from airline_runtime.http.schemas import (
    LoginBody,
    RefreshBody,
    RegisterBody,
    TokenResponse,
    UserList,
    UserOut,
    UserResponse,
    meta_of,
)

__all__ = [
    "AuthController",
    "AuthenticationMiddleware",
    "UserController",
]

_BEARER = b"bearer "


def _airline(scope: Scope) -> Airline:
    airline: Airline = scope["litestar_app"].state.runtime.airline
    return airline


class AuthenticationMiddleware:
    """Pure ASGI (no Request object on the hot path): one header lookup and one verify."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        header = next((value for key, value in scope["headers"] if key == b"authorization"), None)
        if header is None:
            scope["user"] = None
            await self.app(scope, receive, send)
            return
        if header[: len(_BEARER)].lower() != _BEARER:
            await _unauthorized(scope, send, "use the Bearer scheme: Authorization: Bearer <token>")
            return
        try:
            principal = _airline(scope).accounts.authenticate(header[len(_BEARER) :].decode())
        except (NotAuthenticated, UnicodeDecodeError):
            await _unauthorized(scope, send, "the access token is not valid")
            return
        scope["user"] = principal
        await self.app(scope, receive, send)


async def _unauthorized(scope: Scope, send: Send, detail: str) -> None:
    await send_problem(
        scope,
        send,
        status=401,
        slug="unauthorized",
        title="Authentication required",
        detail=detail,
        headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, name=user.name, role=user.role, created_at=user.created_at
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ("identity",)

    @post(
        "/register",
        summary="Create a customer account",
        responses=problem_responses(400, 409, 413, 422),
    )
    async def register(
        self, airline: AirlineDependency, data: JSONBody[RegisterBody]
    ) -> UserResponse:
        user = await airline.accounts.register(
            email=data.email, password=data.password, name=data.name
        )
        return UserResponse(data=user_out(user))

    @post(
        "/token",
        status_code=200,
        summary="Log in: email and password for an access and a refresh token",
        responses=problem_responses(400, 401, 422),
    )
    async def token(self, airline: AirlineDependency, data: JSONBody[LoginBody]) -> TokenResponse:
        return TokenResponse.of(await airline.accounts.login(data.email, data.password))

    @post(
        "/refresh",
        status_code=200,
        summary="Trade a refresh token for a new pair (the old one stops working)",
        description="Presenting a refresh token a second time revokes its whole session.",
        responses=problem_responses(400, 401, 422),
    )
    async def refresh(
        self, airline: AirlineDependency, data: JSONBody[RefreshBody]
    ) -> TokenResponse:
        return TokenResponse.of(await airline.accounts.refresh(data.refresh_token))

    @post(
        "/logout",
        status_code=204,
        summary="End the session of a refresh token",
        responses=problem_responses(400, 422),
    )
    async def logout(self, airline: AirlineDependency, data: JSONBody[RefreshBody]) -> None:
        await airline.accounts.logout(data.refresh_token)


class UserController(Controller):
    path = "/api/v1"
    tags = ("identity",)

    @get("/me", summary="The signed-in user", guards=[signed_in], responses=problem_responses(401))
    async def me(self, airline: AirlineDependency, request: Request[Any, Any, Any]) -> UserResponse:
        principal = principal_of(request)
        assert principal is not None  # noqa: S101 - the signed_in guard ran
        return UserResponse(data=user_out(await airline.accounts.get(principal.user_id, principal)))

    @get(
        "/users",
        summary="Every account (admins)",
        guards=[admin_only],
        responses=problem_responses(401, 403, 422),
    )
    async def list_users(
        self,
        airline: AirlineDependency,
        limit: Limit = 50,
        after: After = None,
        before: Before = None,
    ) -> UserList:
        page = await airline.accounts.list(PageRequest(limit=limit, after=after, before=before))
        return UserList(data=[user_out(user) for user in page.items], meta=meta_of(page))

    @get(
        "/users/{user_id:str}",
        summary="An account: your own, or any for an admin",
        description="Another user's account answers 404, as if it did not exist.",
        guards=[signed_in],
        responses=problem_responses(401, 404),
    )
    async def get_user(
        self,
        airline: AirlineDependency,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
    ) -> UserResponse:
        user = await airline.accounts.get(user_id, principal_of(request))
        return UserResponse(data=user_out(user))
