"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

from airline_runtime.bootstrap import Runtime
from airline_runtime.http.ratelimit import RateLimiter

__all__ = ["HealthController"]


class HealthController(Controller):
    path = "/health"
    tags = ("operations",)

    @get("/live", summary="The process answers")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Dependencies answer",
        description="503 problem naming the failing dependency, so a balancer stops routing here.",
    )
    async def ready(self, state: State) -> Response[dict[str, Any]]:
        runtime: Runtime = state.runtime
        checks = await runtime.check_ready()
        limiter: RateLimiter | None = state.get("limiter")
        if limiter is not None and (redis := await limiter.ready()) is not None:
            checks["redis"] = redis
        return Response({"status": "ready", "checks": checks})
