"""Gateway benchmark: login latency under concurrency, and what the middleware stack costs.

Requires: the project with its server extra (`pip install -e '.[server]'`); nothing else, the
load generator is in this file.
To run: `python benchmarks/gateway.py` (about three minutes; `--seconds` and `--rounds` to change).
`--instructions` adds a count that noise cannot move (it needs valgrind: `apt install valgrind`).

1. Logins: `airline serve` (one worker, SQLite, argon2id at OWASP parameters) answers
   `POST /api/v1/auth/token` from 1, 10 and 50 concurrent clients; it prints p50/p95 latency
   and the server's event-loop lag meanwhile, read from its own probe in /metrics (how late a
   50 ms timer fired: hashing in a worker thread keeps it near zero, hashing on the loop would
   push it to tens of milliseconds per concurrent login).
2. Middleware cost: the same GET served by uvicorn processes that differ only in what wraps
   the app, all running at once and loaded in turn (2 s each by default, the rounds going
   through every order of the setups) by the same generator: `bare` (the endpoint alone),
   `hardened` (the endpoint with the API's two security headers, the gateway's hardening duty,
   added by the cheapest wrapper there is) and `gateway` (the whole stack of the real app:
   request id, access log, metrics, security headers, bearer authentication with a real JWT,
   rate limiting on the memory store). Each cost is the median of the rounds' paired ratios,
   with their range, by throughput and by the server's CPU time per request: the whole gateway
   against `bare` (the target's figure), the stack the target names (authentication, rate
   limiting and tracing) against `hardened`, and the security headers alone (`hardened`
   against `bare`, a check on the others). On a trivial `GET /api/v1/ping` (no I/O: the
   stack's worst case), and on the real app's `GET /api/v1/airports/{code}` (`create_app()`
   against `create_app(with_gateway=False)`).
3. With `--instructions`: the server's CPU instructions per request for the trivial GET in the
   three setups, counted by valgrind's callgrind (one keep-alive client, requests in sequence;
   the count of a short run is subtracted from a long one's, so start-up cancels out). Wall-clock
   rates on a shared machine move by tens of percent from one minute to the next; instruction
   counts repeat within a few hundred per request (what the event loop does between requests
   depends a little on timing), so the ratios they give are the ones to tune against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark passphrase 1"
SECRET_VARIABLE = "AIRLINE_BENCH_SECRET"
#: uvicorn as `airline serve` runs it, for both servers of a comparison: no `Server` header (it
#: would tell attackers what to look for), no proxy-header middleware (the gateway reads
#: X-Forwarded-For itself, from trusted proxies only), and uvicorn's access log off.
SERVE_AS_AIRLINE = ("--log-level", "warning", "--no-access-log", "--no-server-header",
                    "--no-proxy-headers")  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# 1. Logins ----------------------------------------------------------------------------------


def lag_buckets(base: str, client: Any) -> dict[float, float]:
    """The server's event-loop lag histogram (cumulative counts by upper bound) from /metrics."""
    counts: dict[float, float] = {}
    for line in client.get(f"{base}/metrics").text.splitlines():
        if line.startswith("airline_event_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            counts[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
    return counts


def lag_summary(before: dict[float, float], after: dict[float, float]) -> tuple[str, float]:
    """The bucket holding the 99th percentile of the lag samples taken between two scrapes,
    and the share of samples later than 5 ms."""
    delta = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = delta[float("inf")]
    if not total:
        return "n/a", 0.0
    p99 = next(bound for bound, count in delta.items() if count >= 0.99 * total)
    late = 1 - delta[0.005] / total
    return ("> 1000" if p99 == float("inf") else f"<= {p99 * 1000:g}"), late


def bench_logins(levels: tuple[int, ...]) -> None:
    """Logins against `airline serve` in a process of its own; its loop lag from /metrics."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "AIRLINE_DATA_DIR": tempfile.mkdtemp(prefix="airline-bench-"),
        "AIRLINE_RATE_LIMIT_AUTH": "1000000/minute",
        "AIRLINE_LOG_LEVEL": "warning",
    }
    env.pop("AIRLINE_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "airline_runtime", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as probe:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if probe.get(f"{base}/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            account = {"email": "tester@example.org", "password": PASSWORD, "name": "Tester"}
            probe.post(f"{base}/api/v1/auth/register", json=account).raise_for_status()
            print(
                "logins: POST /api/v1/auth/token on `airline serve` (1 worker, SQLite), "
                "argon2id m=19 MiB t=2 p=1; loop lag from the server's own probe (50 ms timer)"
            )
            print(
                f"{'concurrent':>10} {'logins':>7} {'p50 ms':>8} {'p95 ms':>8} "
                f"{'logins/s':>9} {'lag p99 ms':>11} {'lag > 5 ms':>11}"
            )
            for concurrency in levels:
                before = lag_buckets(base, probe)
                latencies, elapsed = asyncio.run(_login_load(base, concurrency))
                p99, late = lag_summary(before, lag_buckets(base, probe))
                print(
                    f"{concurrency:>10} {len(latencies):>7} "
                    f"{percentile(latencies, 0.5) * 1000:>8.1f} "
                    f"{percentile(latencies, 0.95) * 1000:>8.1f} "
                    f"{len(latencies) / elapsed:>9.1f} {p99:>11} {late:>11.1%}"
                )
    finally:
        server.terminate()
        server.wait()


async def _login_load(base: str, concurrency: int) -> tuple[list[float], float]:
    import httpx

    body = {"email": "tester@example.org", "password": PASSWORD}
    total = max(40, concurrency * 4)
    latencies: list[float] = []
    remaining = total
    async with httpx.AsyncClient(
        base_url=base, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.post("/api/v1/auth/token", json=body)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


# 2. Middleware cost -------------------------------------------------------------------------


def _ping_app(**options: Any) -> Any:
    from litestar import Litestar, get

    @get("/api/v1/ping", sync_to_thread=False)
    def ping() -> dict[str, bool]:
        return {"ok": True}

    return Litestar(route_handlers=[ping], logging_config=None, openapi_config=None, **options)


def bare_app() -> Any:
    """uvicorn factory: the ping endpoint and nothing else."""
    return _ping_app()


def hardened_app() -> Any:
    """uvicorn factory: the ping endpoint with the API's security headers and nothing else of
    the gateway. The issue's stack is authentication, rate limiting and tracing; the security
    headers are hardening, which an app without that stack would still send. They are added
    here the cheapest way there is (one ``send`` wrapper appending two constant headers:
    Litestar's own ``response_headers`` cost three times as many instructions), so that the
    stack's cost against this baseline is not flattered by a slow one."""
    from airline_runtime.http.hardening import SecurityHeaders

    app = _ping_app()
    handler = app.asgi_handler
    extra = SecurityHeaders().api.headers

    async def hardened(scope: Any, receive: Any, send: Any) -> None:
        def send_hardened(message: Any) -> Any:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            return send(message)

        await handler(scope, receive, send_hardened)

    app.asgi_handler = hardened
    return app


def gateway_app() -> Any:
    """uvicorn factory: the same endpoint inside the whole gateway stack of the real app."""
    from airline_runtime.http.gateway import gateway
    from airline_runtime.http.observability import HttpMetrics
    from airline_runtime.http.ratelimit import RateLimiter
    from airline_runtime.logs import configure_logging
    from airline_runtime.settings import RateLimits, Settings

    settings = Settings(
        jwt_secret=os.environ[SECRET_VARIABLE],
        log_level="info",
        log_flush_ms=int(os.environ.get("AIRLINE_LOG_FLUSH_MS", "100")),
        rate_limits=RateLimits(read="1000000000/minute"),
    )
    configure_logging(settings)
    limiter = RateLimiter(settings)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with limiter:
            yield

    app = _ping_app(lifespan=[lifespan])
    airline = _airline_with_jwts(settings)
    app.asgi_handler = gateway(
        app.asgi_handler,
        HttpMetrics(),
        limiter=limiter,
        authenticate=airline.accounts.authenticate,
    )
    return app


def _airline_with_jwts(settings: Any) -> Any:
    from airline_core import Airline
    from airline_core.identity import ScryptPasswordHasher
    from airline_core.memory import (
        MemoryAirplaneStore,
        MemoryAirportStore,
        MemoryBookingStore,
        MemoryCatalog,
        MemoryCityStore,
        MemoryFlightStore,
        MemoryIdempotencyStore,
        MemoryInventoryStore,
        MemoryOfferStore,
        MemoryPaymentStore,
        MemoryRefreshTokenStore,
        MemoryReminderStore,
        MemoryUserStore,
    )
    from airline_runtime.bootstrap import access_tokens

    catalog = MemoryCatalog()
    return Airline.from_stores(
        cities=MemoryCityStore(catalog),
        airports=MemoryAirportStore(catalog),
        airplanes=MemoryAirplaneStore(catalog),
        flights=MemoryFlightStore(catalog),
        users=MemoryUserStore(),
        refresh_tokens=MemoryRefreshTokenStore(),
        inventory=MemoryInventoryStore(catalog),
        offers=MemoryOfferStore(),
        bookings=MemoryBookingStore(catalog),
        payments=MemoryPaymentStore(catalog),
        idempotency_keys=MemoryIdempotencyStore(),
        outbox=catalog.outbox,
        reminders=MemoryReminderStore(catalog),
        password_hasher=ScryptPasswordHasher(),
        access_tokens=access_tokens(settings),
    )


async def _load(
    port: int, path: str | list[str], headers: bytes, connections: int, seconds: float
) -> list[float]:
    """Keep-alive HTTP/1.1 GETs on ``connections`` sockets for ``seconds``; the latencies.
    With several paths, each connection goes through them in turn from its own start."""
    paths = [path] if isinstance(path, str) else path
    requests = [
        f"GET {each} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + headers + b"\r\n" for each in paths
    ]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = offset
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(requests[sent % len(requests)])
                sent += 1
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    step = max(1, len(requests) // connections)
    await asyncio.gather(*(connection(index * step) for index in range(connections)))
    return latencies


def _load_process(
    port: int, path: str | list[str], headers: bytes, connections: int, seconds: float, out: Any
) -> None:
    _use_uvloop()
    out.send(asyncio.run(_load(port, path, headers, connections, seconds)))


def _use_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def run_load(
    port: int, path: str | list[str], headers: bytes, connections: int, seconds: float
) -> list[float]:
    """The load generator in a process of its own, so it never shares the server's loop."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(
        target=_load_process, args=(port, path, headers, connections, seconds, sender)
    )
    process.start()
    latencies: list[float] = receiver.recv()
    process.join()
    return latencies


def _generator_process(orders: Any) -> None:
    _use_uvloop()
    while (order := orders.recv()) is not None:
        try:
            orders.send(asyncio.run(_load(*order)))
        except Exception as error:  # noqa: BLE001 - the parent raises it (a non-200 answer, a refused port)
            orders.send(RuntimeError(f"load generator: {error!r}"))


class LoadGenerator:
    """One load-generator process for many short slices of load: starting a process per slice
    would put its start-up (a second of CPU for the imports) between the slices it separates.
    """

    def __init__(self) -> None:
        self._orders, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=_generator_process, args=(theirs,), daemon=True
        )
        self._process.start()

    def run(
        self, port: int, path: str | list[str], headers: bytes, connections: int, seconds: float
    ) -> list[float]:
        """Load ``port`` as :func:`run_load` does; the latencies.

        :raises RuntimeError: the load failed (the generator's error, as it saw it).
        """
        self._orders.send((port, path, headers, connections, seconds))
        answer: list[float] | RuntimeError = self._orders.recv()
        if isinstance(answer, RuntimeError):
            raise answer
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the process is gone already
            self._orders.send(None)
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()


#: The costs printed for the trivial GET: what each measures, its baseline, its subject, and
#: whether the target applies (the security headers alone are a check on the other two).
PING_COSTS: tuple[tuple[str, str, str, bool], ...] = (
    ("the whole gateway", "bare", "gateway", True),
    ("auth + rate limit + tracing alone", "hardened", "gateway", True),
    ("the security headers alone", "bare", "hardened", False),
)

#: The pause before each slice of load: the previous slice's server writes its last batch of
#: access lines and closes its connections meanwhile, not during the next server's slice.
_SETTLE = 0.2


@contextlib.contextmanager
def _running(factory: str, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A server of ``factory`` on ``port`` for the block's duration."""
    server = start_server(factory, port, env)
    try:
        yield server
    finally:
        server.terminate()
        server.wait()


def start_server(
    factory: str, port: int, env: dict[str, str], module: str = "gateway"
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", f"{module}:{factory}", "--factory",
        "--app-dir", str(ROOT / "benchmarks"), "--host", "127.0.0.1", "--port", str(port),
        *SERVE_AS_AIRLINE, "--loop", "auto", "--http", "auto",
    ]  # fmt: skip
    # The access log goes where a container's stdout would: not a terminal.
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"{factory} did not start")


def real_bare_app() -> Any:
    """uvicorn factory: the real API on the environment's settings, without the gateway."""
    from airline_runtime.http import create_app

    return create_app(with_gateway=False)


def real_gateway_app() -> Any:
    """uvicorn factory: the real API on the environment's settings, as `airline serve` runs it."""
    from airline_runtime.http import create_app

    return create_app()


def bench_middleware(seconds: float, rounds: int, connections: int) -> tuple[dict[str, str], bytes]:
    """Both comparisons; the environment and the Authorization header line they used."""
    from airline_core import Principal, Role
    from airline_runtime.bootstrap import access_tokens
    from airline_runtime.settings import Settings

    secret = secrets.token_urlsafe(48)
    # The longest lifetime the settings allow: a long run must not outlive its token.
    token, _ = access_tokens(Settings(jwt_secret=secret, access_token_minutes=60)).issue(
        Principal(user_id="01JDX0000000000000000000AA", role=Role.CUSTOMER),
        datetime.now(UTC),
    )
    data = tempfile.mkdtemp(prefix="airline-bench-")
    env = {
        **os.environ,
        SECRET_VARIABLE: secret,
        "AIRLINE_DATA_DIR": data,
        "AIRLINE_JWT_SECRET": secret,
        "AIRLINE_RATE_LIMIT_READ": "1000000000/minute",
    }
    env.pop("AIRLINE_DATABASE_URL", None)
    # A small real catalog for the real app's cheap GET (one airport by code, one indexed read).
    subprocess.run(
        [sys.executable, "-m", "airline_runtime", "seed", "--airports", "3", "--days", "1"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Both servers get the same requests, token included (the bare app ignores it): what the
    # server spends reading a request's headers is the request's cost, not the stack's.
    auth = f"Authorization: Bearer {token}\r\n".encode()
    compare(
        "GET /api/v1/ping (a trivial route, no I/O)",
        {
            "bare": ("bare_app", auth),
            "hardened": ("hardened_app", auth),
            "gateway": ("gateway_app", auth),
        },
        "/api/v1/ping",
        env,
        seconds,
        rounds,
        connections,
        pairs=PING_COSTS,
    )
    compare(
        "GET /api/v1/airports/ATL on the real app (one indexed SQLite read)",
        {"bare": ("real_bare_app", auth), "gateway": ("real_gateway_app", auth)},
        "/api/v1/airports/ATL",
        env,
        seconds,
        rounds,
        connections,
    )
    return env, auth


def compare(
    title: str,
    setups: dict[str, tuple[str, bytes]],
    path: str,
    env: dict[str, str],
    seconds: float,
    rounds: int,
    connections: int,
    pairs: tuple[tuple[str, str, str, bool], ...] = (
        ("the whole gateway", "bare", "gateway", True),
    ),
) -> None:
    """Load the setups' servers in turn, ``rounds`` times; print each slice and, for each of
    ``pairs`` (what it measures, the baseline, the subject, whether the target applies), the
    subject's cost by throughput and by the server's CPU time per request (from ``/proc``: the
    server is the bottleneck, so this predicts its throughput, and the load generator's share
    of the cores does not move it).

    Every server runs for the whole comparison (an idle one takes no CPU) and the load moves
    from one to the next every ``seconds``: the slices of a round are seconds apart, so the
    host's slower and faster spells (other tenants' load moves a server's rate by tens of
    percent) fall on both sides of a pair alike. The rounds go through every order of the
    setups in turn, so that each runs before and after each other one equally often."""
    names = list(setups)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    # Every order in turn, so that each setup runs before and after each other one equally
    # often (rounds a multiple of their count: 2 for two setups, 6 for three).
    orders = list(itertools.permutations(names))
    with contextlib.ExitStack() as stack:
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        for name, (factory, _) in setups.items():
            port = free_port()
            servers[name] = (stack.enter_context(_running(factory, port, env)), port)
        generator = LoadGenerator()
        stack.callback(generator.close)
        for name, (_, port) in servers.items():
            generator.run(port, path, setups[name][1], connections, 1.0)  # warm-up
        for round_number in range(rounds):
            for name in orders[round_number % len(orders)]:
                server, port = servers[name]
                time.sleep(_SETTLE)  # the last slice's server finishes its batch meanwhile
                before = cpu_seconds(server.pid) or 0.0
                latencies = generator.run(port, path, setups[name][1], connections, seconds)
                cpu = ((cpu_seconds(server.pid) or 0.0) - before) / max(1, len(latencies))
                rate, p99 = len(latencies) / seconds, percentile(latencies, 0.99)
                results[name].append((rate, p99, cpu))
                print(
                    f"  round {round_number + 1} {name:>8}: {rate:8.0f} req/s, "
                    f"p99 {p99 * 1000:.2f} ms, server CPU {cpu * 1e6:.1f} µs/request"
                )
    print(
        f"middleware: {title}; {connections} keep-alive connections, "
        f"{rounds} rounds of {seconds:g} s per setup; each setup's medians, then each cost as "
        "the median of the rounds' paired ratios (so not the ratio of the medians)"
    )
    for name in names:
        rows = results[name]
        print(
            f"{name:>10}: {statistics.median(r for r, _, _ in rows):8.0f} req/s  "
            f"p99 {statistics.median(p for _, p, _ in rows) * 1000:.2f} ms  "
            f"server CPU {statistics.median(c for _, _, c in rows) * 1e6:.1f} µs/request"
        )
    for label, base, subject, targeted in pairs:
        # A round's slices ran seconds apart: the median of the rounds' ratios is the figure
        # to quote, their range its spread.
        rounds_of = list(zip(results[base], results[subject], strict=True))
        by_rate = sorted(new[0] / old[0] for old, new in rounds_of)
        by_cpu = sorted(old[2] / new[2] for old, new in rounds_of if new[2])
        print(
            f"  {label} ({subject} against {base}): costs "
            f"{1 - statistics.median(by_rate):.1%} of the throughput "
            f"(rounds {1 - by_rate[-1]:.1%} to {1 - by_rate[0]:.1%}); "
            + (
                f"{1 - statistics.median(by_cpu):.1%} by CPU per request "
                f"(rounds {1 - by_cpu[-1]:.1%} to {1 - by_cpu[0]:.1%}); "
                if by_cpu
                else ""
            )
            + ("target under 25%" if targeted else "not a target")
        )


def count_instructions(factory: str, headers: bytes, requests: int, env: dict[str, str]) -> int:
    """The instructions a uvicorn server running ``factory`` executes in all, having answered
    ``requests`` GETs of the trivial route (valgrind's callgrind)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            sys.executable, "-m", "uvicorn", f"gateway:{factory}", "--factory",
            "--app-dir", str(ROOT / "benchmarks"), "--host", "127.0.0.1", "--port", str(port),
            *SERVE_AS_AIRLINE,
        ]  # fmt: skip
        # A fixed hash seed: string hashes decide dict probing, which would move the count.
        # Access lines are written when 64 wait or the oldest has waited 100 ms; under load 64
        # fill in a few milliseconds, but under valgrind a request takes ~50 times as long and
        # the timer would close a batch every few requests: a 10 s wait keeps batches as full
        # as under load (the count no longer depends on how fast valgrind runs).
        server = subprocess.Popen(
            command,
            env={**env, "PYTHONHASHSEED": "0", "AIRLINE_LOG_FLUSH_MS": "10000"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client = socket.create_connection(("127.0.0.1", port), timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            request = b"GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"
            with client, client.makefile("rb") as answers:
                for _ in range(requests):
                    client.sendall(request)
                    length = 0
                    while (line := answers.readline()) != b"\r\n":
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    answers.read(length)
        finally:
            server.terminate()
            server.wait()
        for row in out.read_text().splitlines():
            if row.startswith(("summary:", "totals:")):
                return int(row.split()[1])
    raise RuntimeError("callgrind wrote no totals")


def bench_instructions(
    env: dict[str, str], auth: bytes, short: int = 300, long: int = 1300
) -> None:
    per_request = {}
    for name, factory in (("bare", "bare_app"), ("hardened", "hardened_app"),
                          ("gateway", "gateway_app")):  # fmt: skip
        counts = [count_instructions(factory, auth, n, env) for n in (short, long)]
        per_request[name] = (counts[1] - counts[0]) / (long - short)
    print(
        "instructions: GET /api/v1/ping, server instructions per request (callgrind, "
        f"{long} - {short} requests)"
    )
    for name, count in per_request.items():
        print(f"{name:>10}: {count / 1000:8.1f} k")
    for label, base, subject, targeted in PING_COSTS:
        cost = 1 - per_request[base] / per_request[subject]
        print(
            f"  {label} ({subject} against {base}): costs {cost:.1%} of the throughput at equal "
            "CPU speed; " + ("target under 25%" if targeted else "not a target")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-logins", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="also count instructions")
    arguments = parser.parse_args()
    if not arguments.skip_logins:
        bench_logins((1, 10, 50))
    env, auth = bench_middleware(arguments.seconds, arguments.rounds, arguments.connections)
    if arguments.instructions:
        bench_instructions(env, auth)


if __name__ == "__main__":
    main()
