"""Guards: which principal may call a route (set by the authentication middleware)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from airline_core import Forbidden, NotAuthenticated, Principal

__all__ = ["admin_only", "principal_of", "signed_in"]


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    principal = connection.scope.get("user")
    return principal if isinstance(principal, Principal) else None


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: any signed-in user."""
    if principal_of(connection) is None:
        raise NotAuthenticated("sign in first: send Authorization: Bearer <access token>")


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: admins only (catalog writes, user lists)."""
    principal = principal_of(connection)
    if principal is None:
        raise NotAuthenticated("sign in first: send Authorization: Bearer <access token>")
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
