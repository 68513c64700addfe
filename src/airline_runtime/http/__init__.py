"""The HTTP API: a Litestar app factory, controllers per resource, problem details."""

from airline_runtime.http.app import create_app

__all__ = ["create_app"]
