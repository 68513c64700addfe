"""Search benchmark on MariaDB: a year of flights between the 79 busiest airports.

Requires: the project with its MySQL extra (`pip install -e '.[mysql]'`) and a MariaDB/MySQL
server; `AIRLINE_BENCH_MYSQL_URL` names the database (default
`mysql://root@127.0.0.1:3306/airline_bench`; it is created when missing).
To run: `python benchmarks/search.py` (the first run seeds 1.2 million flights, about 3 minutes;
later runs reuse them; `--reseed` starts afresh). `--quick` runs fewer, shorter rounds.

It prints, measured in one run:

1. ANALYZE of each query search sends, on the benchmark data: which index each one reads, and
   how many rows it estimated and read.
2. Service level: p50/p99 of direct (`max_stops=0`), one-stop (`max_stops=1`) and two-stop
   (`max_stops=2`) searches called on the Python API, one at a time, over random pairs of
   airports and days of the year.
3. HTTP: requests per second, p50 and p99 at 64 keep-alive connections, one uvicorn worker,
   of the real `GET /api/v1/search/flights` (the app `airline serve` runs, limits off) and of a
   minimal Litestar endpoint that runs the direct query as raw SQL and returns its rows: the
   ceiling of this machine, twice: on SQLAlchemy's engine defaults (`raw`) and on the real
   app's own read engine (`raw-ac`: autocommit, no ROLLBACK after a read). Each
   round starts with the next app in turn; medians and the ratios against both ceilings are
   printed, with each round's ratio and the worker's CPU time per request (from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import cpu_seconds, free_port, percentile, run_load, start_server

DEFAULT_URL = "mysql://root@127.0.0.1:3306/airline_bench"
AIRPORTS = 79
DAYS = 365
DENSITY = 2
MIN_FLIGHTS = 1_000_000
CONNECTIONS = 64
BENCH_SECRET = "benchmark-signing-secret-of-at-least-32-chars"


def bench_url() -> str:
    return os.environ.get("AIRLINE_BENCH_MYSQL_URL", DEFAULT_URL)


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "AIRLINE_DATABASE_URL": bench_url(),
        "AIRLINE_JWT_SECRET": BENCH_SECRET,
        "AIRLINE_RATE_LIMIT": "off",
        "AIRLINE_DATABASE_POOL_SIZE": "20",
    }


# 1. Data -----------------------------------------------------------------------------------


async def prepare(reseed: bool) -> tuple[int, date]:
    """Create, migrate and seed the benchmark database; the flight count and first day."""
    from sqlalchemy import func, select, text

    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.db import create_database, upgrade
    from airline_runtime.db.tables import flights
    from airline_runtime.seed import seed_catalog
    from airline_runtime.settings import Settings, normalize_database_url

    url = bench_url()
    server, _, name = url.rpartition("/")
    admin = create_database(normalize_database_url(server + "/"))
    async with admin.engine.begin() as connection:
        if reseed:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        known = await connection.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
            {"name": name},
        )
        if known.first() is None:  # IF NOT EXISTS would still print a warning
            await connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    await admin.dispose()
    database = create_database(normalize_database_url(url))
    await upgrade(database)
    async with database.engine.connect() as connection:
        # Fresh statistics after a bulk load, so the plans below are the ones a settled
        # server picks (right after seeding they were not).
        await connection.execute(text("ANALYZE TABLE flights, airports"))
    async with database.engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(flights))).scalar_one()
        first = (await connection.execute(select(func.min(flights.c.departs_on)))).scalar_one()
    await database.dispose()
    if count < MIN_FLIGHTS:
        print(f"seeding {AIRPORTS} airports x {DAYS} days (density {DENSITY}) ...", flush=True)
        started = time.perf_counter()
        settings = Settings(database_url=url, jwt_secret=BENCH_SECRET)
        async with bootstrap(settings) as runtime:
            report = await seed_catalog(
                runtime.airline, airports=AIRPORTS, days=DAYS, density=DENSITY
            )
        print(f"{report} in {time.perf_counter() - started:.0f} s", flush=True)
        return await prepare(reseed=False)
    return count, first


async def route_pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Airport pairs with a direct service, and pairs of big airports without one."""
    from sqlalchemy import select

    from airline_runtime.db import create_database
    from airline_runtime.db.tables import flights
    from airline_runtime.seed import BUSIEST_AIRPORTS
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(bench_url()))
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            select(flights.c.origin, flights.c.destination)
            .distinct()
            .where(flights.c.departs_on == select(flights.c.departs_on).limit(1).scalar_subquery())
        )
        direct = sorted((row[0], row[1]) for row in rows)
    await database.dispose()
    served = {airport for pair in direct for airport in pair}
    busy = [code for code in BUSIEST_AIRPORTS[:40] if code in served]
    linked = set(direct)
    indirect = [(a, b) for a in busy for b in busy if a != b and (a, b) not in linked]
    return direct, indirect


def random_queries(
    pairs: list[tuple[str, str]], first_day: date, count: int, rng: random.Random
) -> list[tuple[str, str, date]]:
    # Days 1..360 of the schedule: the first is partly in the past when it was seeded today.
    return [
        (*rng.choice(pairs), first_day + timedelta(days=rng.randint(1, DAYS - 5)))
        for _ in range(count)
    ]


async def buffer_pool(megabytes: int | None) -> int | None:
    """Make MariaDB's buffer pool hold the data set (a server sized for its working set, as in
    production; the default 128 MiB holds a quarter of this one, so every search would wait
    for the disk), then read every index into it. The size it had, to restore afterwards."""
    from sqlalchemy import text

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(bench_url()))
    try:
        async with database.engine.connect() as connection:
            before = int(
                (await connection.execute(text("SELECT @@innodb_buffer_pool_size"))).scalar_one()
            )
            if megabytes is not None and before < megabytes << 20:
                await connection.execute(
                    text(f"SET GLOBAL innodb_buffer_pool_size = {megabytes << 20}")
                )
                await asyncio.sleep(2)  # the server grows the pool in the background
            for index in (
                "PRIMARY",
                "ix_flights_origin_departs_on_destination",
                "ix_flights_origin_departs_at",
                "ix_flights_destination_departs_at",
            ):
                await connection.execute(
                    text(f"SELECT COUNT(*) FROM flights FORCE INDEX ({index})")  # noqa: S608
                )
            await connection.execute(text("SELECT SUM(seats_economy) FROM flights"))
            size = int(
                (await connection.execute(text("SELECT @@innodb_buffer_pool_size"))).scalar_one()
            )
        print(f"buffer pool: {size >> 20} MiB (was {before >> 20} MiB), indexes read into it")
        return before if size != before else None
    finally:
        await database.dispose()


async def restore_buffer_pool(size: int) -> None:
    from sqlalchemy import text

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    database = create_database(normalize_database_url(bench_url()))
    async with database.engine.connect() as connection:
        await connection.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {size}"))
    await database.dispose()


# 2. EXPLAIN --------------------------------------------------------------------------------


async def explain(first_day: date) -> None:
    """The plan of each query search sends, captured from a real one-stop search."""
    from sqlalchemy import event

    from airline_core import SearchQuery
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.settings import Settings

    captured: list[tuple[str, Any]] = []

    def remember(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if "FROM flights" in statement and statement.lstrip().startswith("SELECT"):
            captured.append((statement, parameters))

    settings = Settings(database_url=bench_url(), jwt_secret=BENCH_SECRET)
    async with bootstrap(settings) as runtime:
        engine = runtime.database.reader  # type: ignore[union-attr]  # searches read there
        event.listen(engine.sync_engine, "before_cursor_execute", remember)
        day = first_day + timedelta(days=30)
        for max_stops in (0, 1, 2):
            await runtime.airline.search(
                SearchQuery(origin="ATL", destination="LHR", date=day, max_stops=max_stops)
            )
        event.remove(engine.sync_engine, "before_cursor_execute", remember)
        print("ANALYZE (EXPLAIN, run) of the queries searches ATL -> LHR sent (max_stops 0, 1, 2):")
        seen: set[str] = set()
        async with engine.connect() as connection:
            for statement, parameters in captured:
                shape = " ".join(statement.split())
                if shape in seen:
                    continue
                seen.add(shape)
                plan = await connection.exec_driver_sql("ANALYZE " + statement, parameters)
                where = shape.split(" WHERE ", 1)[-1]
                print(f"  WHERE {where[:150]}{'...' if len(where) > 150 else ''}")
                for row in plan.mappings():
                    print(
                        f"    {row['table']:<3} type={row['type']:<7} key={row['key']!s:<42} "
                        f"rows={row['rows']!s:<5} read={row['r_rows']!s:<7} {row['Extra'] or ''}"
                    )


# 3. Service level --------------------------------------------------------------------------


_STOPS = {"direct": 0, "one-stop": 1, "two-stop": 2}


async def service_latencies(
    queries: dict[str, list[tuple[str, str, date]]],
) -> dict[str, list[float]]:
    from airline_core import PageRequest, SearchQuery
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.settings import Settings

    settings = Settings(database_url=bench_url(), jwt_secret=BENCH_SECRET)
    results: dict[str, list[float]] = {}
    async with bootstrap(settings) as runtime:
        for name, batch in queries.items():
            stops = _STOPS[name]
            latencies = []
            found = 0
            for index, (origin, destination, day) in enumerate(batch):
                query = SearchQuery(
                    origin=origin, destination=destination, date=day, max_stops=stops
                )
                started = time.perf_counter()
                page = await runtime.airline.search(query, PageRequest(limit=50))
                elapsed = time.perf_counter() - started
                if index >= 20:  # the first few warm the pool and the caches
                    latencies.append(elapsed)
                    found += len(page.items)
            results[name] = latencies
            print(
                f"  {name:<9} {len(latencies)} searches, {found / len(latencies):.1f} itineraries "
                f"each: p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms",
                flush=True,
            )
    return results


# 4. HTTP -----------------------------------------------------------------------------------


def real_app() -> Any:
    """uvicorn factory: the app `airline serve` runs."""
    from airline_runtime.http import create_app

    return create_app()


def raw_app() -> Any:
    """uvicorn factory: the direct search as one raw SQL query, its rows as JSON, on an engine
    with SQLAlchemy's defaults (a ``ROLLBACK`` after each use of a connection)."""
    return _raw_app(autocommit=False)


def raw_autocommit_app() -> Any:
    """uvicorn factory: the same on the real app's own read engine (autocommit sessions, no
    ``ROLLBACK`` after a read, its connections kept open): the strict ceiling."""
    return _raw_app(autocommit=True)


def _raw_app(*, autocommit: bool) -> Any:
    from contextlib import asynccontextmanager

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from airline_runtime.db import create_database
    from airline_runtime.settings import normalize_database_url

    sql = text(
        "SELECT f.id, f.number, f.airline, f.origin, f.destination, f.departs_at, f.arrives_at,"
        " f.currency, f.fare_economy, f.seats_economy, o.time_zone, d.time_zone"
        " FROM flights f JOIN airports o ON o.code = f.origin"
        " JOIN airports d ON d.code = f.destination"
        " WHERE f.origin = :origin AND f.destination = :destination AND f.departs_on = :day"
        " AND f.status <> 'cancelled' AND f.fare_economy IS NOT NULL AND f.seats_economy >= 1"
        " ORDER BY f.departs_at, f.id"
    )
    url = normalize_database_url(bench_url())
    if autocommit:
        # The real app's own read engine, made as the server makes it (the same pool size).
        database = create_database(url, pool_size=int(server_env()["AIRLINE_DATABASE_POOL_SIZE"]))
        engine, dispose = database.reader, database.dispose
    else:
        # SQLAlchemy's defaults, with READ COMMITTED as our writers have it.
        engine = create_async_engine(
            url, isolation_level="READ COMMITTED", pool_size=20, max_overflow=20
        )
        dispose = engine.dispose

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        await dispose()

    @get("/api/v1/search/flights")
    async def search(origin: str, destination: str, date: str) -> Response[bytes]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sql, {"origin": origin, "destination": destination, "day": date}
            )
            body = [
                {
                    "id": row[0],
                    "number": row[1],
                    "airline": row[2],
                    "origin": row[3],
                    "destination": row[4],
                    "departs_at": row[5].isoformat(),
                    "arrives_at": row[6].isoformat(),
                    "price": {"amount": str(row[8] / 100), "currency": row[7]},
                    "seats_available": row[9],
                }
                for row in rows
            ]
        return Response(json.dumps({"data": body}).encode(), media_type="application/json")

    from airline_runtime.http import settle_garbage_collector

    # The same collector settings as the real app's server processes: a fair ceiling.
    return Litestar(
        route_handlers=[search],
        lifespan=[lifespan],
        on_startup=[settle_garbage_collector],
        logging_config=None,
        openapi_config=None,
    )


def http_rounds(
    paths: list[str], rounds: int, seconds: float
) -> dict[str, list[tuple[float, float, float, float | None]]]:
    """Alternate rounds of the real app and the two ceilings under the same load, each round
    starting with the next app in turn, so that none always runs on the machine another has
    just warmed or tired."""
    apps = [("real", "real_app"), ("raw", "raw_app"), ("raw-ac", "raw_autocommit_app")]
    results: dict[str, list[tuple[float, float, float, float | None]]] = {
        name: [] for name, _ in apps
    }
    env = server_env()
    for round_number in range(rounds):
        turn = round_number % len(apps)
        for name, factory in apps[turn:] + apps[:turn]:
            port = free_port()
            server = start_server(factory, port, env, module="search")
            try:
                run_load(port, paths, b"", CONNECTIONS, 2.0)  # warm-up: pool, caches
                before = cpu_seconds(server.pid)
                latencies = run_load(port, paths, b"", CONNECTIONS, seconds)
                after = cpu_seconds(server.pid)
            finally:
                server.terminate()
                server.wait()
            rate = len(latencies) / seconds
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            # The worker's CPU per request: what bounds one worker's throughput, and a figure
            # that moves less than req/s with whatever else shares the host.
            cpu = None if before is None or after is None else (after - before) / len(latencies)
            results[name].append((rate, p50, p99, cpu))
            print(
                f"  round {round_number + 1} {name:>4}: {rate:7.0f} req/s, "
                f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
                + ("" if cpu is None else f", worker CPU {cpu * 1e6:.0f} us/request"),
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer searches, shorter rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        default=1024,
        help="grow MariaDB's buffer pool to this for the run (0: leave it), restored at the end",
    )
    arguments = parser.parse_args()
    searches = 200 if arguments.quick else 1000
    rounds = 1 if arguments.quick else arguments.rounds
    seconds = 4.0 if arguments.quick else arguments.seconds

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    count, first_day = asyncio.run(prepare(arguments.reseed))
    print(f"data: {count:,} flights from {first_day} ({AIRPORTS} airports)")
    previous_pool = asyncio.run(buffer_pool(arguments.buffer_pool_mb or None))
    try:
        measure(first_day, searches, rounds, seconds)
    finally:
        if previous_pool is not None:
            asyncio.run(restore_buffer_pool(previous_pool))


def measure(first_day: date, searches: int, rounds: int, seconds: float) -> None:
    asyncio.run(explain(first_day))

    rng = random.Random(11)
    direct_pairs, indirect_pairs = asyncio.run(route_pairs())
    queries = {
        "direct": random_queries(direct_pairs, first_day, searches + 20, rng),
        "one-stop": random_queries(direct_pairs + indirect_pairs, first_day, searches + 20, rng),
        # Each reads a few thousand legs: a fifth as many.
        "two-stop": random_queries(
            direct_pairs + indirect_pairs, first_day, searches // 5 + 20, rng
        ),
    }
    print("service level (Python API, one search at a time, 50 per page):")
    asyncio.run(service_latencies(queries))

    paths = [
        f"/api/v1/search/flights?origin={origin}&destination={destination}&date={day}"
        + "&max_stops=0"
        for origin, destination, day in random_queries(direct_pairs, first_day, 5000, rng)
    ]
    print(f"HTTP: direct searches, {CONNECTIONS} connections, {rounds} rounds of {seconds:.0f} s:")
    results = http_rounds(paths, rounds, seconds)
    medians = {
        name: tuple(statistics.median(values[i] for values in rows) for i in range(3))
        for name, rows in results.items()
    }
    cpu = {
        name: [values[3] for values in rows if values[3] is not None]
        for name, rows in results.items()
    }
    for name, (rate, p50, p99) in medians.items():
        print(f"  {name:>6}: {rate:7.0f} req/s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    for ceiling, label in (
        ("raw", "the minimal endpoint on SQLAlchemy's defaults"),
        ("raw-ac", "the same with the real app's read pool (autocommit, no ROLLBACK)"),
    ):
        paired = [
            real[0] / raw[0] for real, raw in zip(results["real"], results[ceiling], strict=True)
        ]
        print(f"  against {ceiling}, {label}:")
        print(
            "    each round's real/ceiling: "
            + ", ".join(f"{value:.3f}" for value in paired)
            + f" (median {statistics.median(paired):.3f})"
        )
        if cpu["real"] and cpu[ceiling]:
            real_cpu, raw_cpu = statistics.median(cpu["real"]), statistics.median(cpu[ceiling])
            print(
                f"    worker CPU per request: real {real_cpu * 1e6:.0f} us, ceiling "
                f"{raw_cpu * 1e6:.0f} us (ceiling/real {raw_cpu / real_cpu:.3f}: the throughput "
                "ratio when the worker is the bottleneck)"
            )
        ratio = medians["real"][0] / medians[ceiling][0]
        print(
            f"    real/ceiling throughput = {ratio:.3f} (target at least 0.80), "
            f"real p99 {medians['real'][2] * 1000:.1f} ms (target under 100 ms)"
        )


if __name__ == "__main__":
    main()
