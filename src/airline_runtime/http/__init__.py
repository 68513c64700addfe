"""The HTTP API: a Litestar app factory, controllers per resource, problem details."""

from airline_runtime.http.app import create_app, settle_garbage_collector

__all__ = ["create_app", "settle_garbage_collector"]
