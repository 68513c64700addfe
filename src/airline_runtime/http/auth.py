"""The identity routes: register, log in, refresh, log out, the signed-in user, accounts.

Who a request acts as is settled before any route runs: the gateway
(:mod:`airline_runtime.http.gateway`) verifies ``Authorization: Bearer <token>`` and leaves the
:class:`~airline_core.identity.model.Principal` (or ``None``) in ``scope["user"]``, where the
guards (:mod:`airline_runtime.http.guards`) and these routes find it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from airline_core import PageRequest
from airline_core.identity.model import User
from airline_runtime.http.catalog import After, AirlineDependency, Before, Limit
from airline_runtime.http.guards import admin_only, principal_of, signed_in
from airline_runtime.http.problems import problem_responses
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
    "UserController",
]


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
