"""The ``airline`` command: each subcommand, and one-line errors with a non-zero exit."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from airline_core import __version__
from airline_runtime.cli import app
from airline_runtime.db import head_revision
from tests.runtime.conftest import running_airline

runner = CliRunner()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def embedded(tmp_path: Path) -> dict[str, str]:
    """Settings for the embedded default in a fresh data directory."""
    return {"AIRLINE_DATA_DIR": str(tmp_path / "data"), "AIRLINE_DATABASE_URL": ""}


def one_line_error(code: int, stderr: str) -> str:
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("airline: error: ")
    return lines[0]


def test_version() -> None:
    code, out, _ = invoke({}, "--version")
    assert code == 0
    assert out.strip() == f"airline {__version__}"


def test_every_command_has_help() -> None:
    for command in (
        [], ["serve"], ["demo"], ["seed"], ["search"], ["db"], ["db", "upgrade"], ["seatmap"],
        ["bookings"], ["bookings", "show"], ["bookings", "list"], ["bookings", "cancel"],
        ["bookings", "expire"], ["worker"], ["outbox"], ["outbox", "relay"],
        ["outbox", "status"], ["outbox", "requeue"], ["notifications"],
        ["notifications", "list"],
    ):  # fmt: skip
        code, out, _ = invoke({}, *command, "--help")
        assert code == 0
        assert "Usage" in out


def test_db_upgrade_is_repeatable(embedded: dict[str, str]) -> None:
    code, out, _ = invoke(embedded, "db", "upgrade")
    assert code == 0
    assert out.strip() == f"database schema upgraded from nothing to {head_revision()}"
    assert (Path(embedded["AIRLINE_DATA_DIR"]) / "airline.db").exists()
    code, out, _ = invoke(embedded, "db", "upgrade")
    assert out.strip() == f"database schema already at {head_revision()}"


@pytest.mark.mysql
def test_db_upgrade_on_mysql(mysql_url: str) -> None:
    code, out, _ = invoke({"AIRLINE_DATABASE_URL": mysql_url}, "db", "upgrade")
    assert code == 0
    assert out.strip() == f"database schema already at {head_revision()}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AIRLINE_PORT": "eighty"}, "AIRLINE_PORT: 'eighty' is not a whole number"),
        ({"AIRLINE_PORT": "70000"}, "AIRLINE_PORT: 70000 is outside 1..65535"),
        ({"AIRLINE_DATABASE_URL": "postgresql://x/y"}, "unsupported database 'postgresql'"),
        ({"AIRLINE_DATABASE_URL": "nonsense"}, "is not a database URL"),
        ({"AIRLINE_DATABASE_POOL_SIZE": "0"}, "AIRLINE_DATABASE_POOL_SIZE: 0 is outside"),
    ],
)
def test_bad_settings_stop_with_one_line(
    embedded: dict[str, str], env: dict[str, str], message: str
) -> None:
    code, _, err = invoke({**embedded, **env}, "db", "upgrade")
    assert message in one_line_error(code, err)


def test_unreachable_database_is_one_line() -> None:
    env = {"AIRLINE_DATABASE_URL": "mysql://root@127.0.0.1:1/airline?connect_timeout=2"}
    line = one_line_error(*invoke(env, "db", "upgrade")[::2])
    assert "database error" in line


def test_seed_reports_what_it_made(embedded: dict[str, str]) -> None:
    code, out, err = invoke(embedded, "seed", "--airports", "6", "--days", "2")
    assert code == 0, err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("seeded 6 cities, 6 airports, ")
    assert "flights for " in summary
    code, out, _ = invoke(embedded, "seed", "--airports", "6", "--days", "2")
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("nothing new to seed")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "tomorrow"], "--start: 'tomorrow' is not a date"),
        (["--start", "2001-01-01"], "--start: 2001-01-01 is in the past"),
    ],
)
def test_seed_bad_input(embedded: dict[str, str], args: list[str], message: str) -> None:
    code, _, err = invoke(embedded, "seed", "--airports", "3", *args)
    assert message in one_line_error(code, err)
    assert not (Path(embedded["AIRLINE_DATA_DIR"]) / "airline.db").exists()


def test_seed_option_out_of_range_is_a_usage_error(embedded: dict[str, str]) -> None:
    code, _, err = invoke(embedded, "seed", "--days", "0")
    assert code == 2
    assert "--days" in err


@pytest.mark.mysql
def test_serve_refuses_a_database_without_schema(mysql_empty_url: str) -> None:
    code, _, err = invoke({"AIRLINE_DATABASE_URL": mysql_empty_url}, "serve", "--port", "1")
    assert "run `airline db upgrade`" in one_line_error(code, err)


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """``airline <command>`` on the embedded default in a child process, ready to answer."""
    env = {**os.environ, "AIRLINE_DATA_DIR": str(tmp_path / "data")}
    env.pop("AIRLINE_DATABASE_URL", None)
    with running_airline(request.param, env, tmp_path / "server.log") as base:
        yield base


@pytest.mark.parametrize("server", [["serve"], ["serve", "--workers", "2"]], indirect=True)
def test_serve_answers_on_the_embedded_default(server: str) -> None:
    assert httpx.get(f"{server}/api/v1/cities").json() == {
        "data": [],
        "meta": {"limit": 50, "after": None, "before": None},
    }


@pytest.mark.parametrize("server", [["demo"]], indirect=True)
def test_demo_serves_demo_data_and_docs(server: str) -> None:
    flights = httpx.get(f"{server}/api/v1/flights", params={"limit": 5}).json()
    assert len(flights["data"]) == 5
    assert flights["meta"]["after"] is not None
    airports = httpx.get(f"{server}/api/v1/airports").json()["data"]
    assert {"LHR", "JFK"} <= {airport["code"] for airport in airports}
    docs = httpx.get(f"{server}/schema/swagger")
    assert docs.status_code == 200
    assert "swagger-ui-bundle.js" in docs.text


@pytest.mark.mysql
def test_serve_refuses_a_schema_newer_than_the_package(mysql_empty_url: str) -> None:
    import anyio
    from sqlalchemy import text

    from airline_runtime.db import create_database

    async def stamp_future_revision() -> None:
        database = create_database(mysql_empty_url)
        try:
            async with database.engine.begin() as connection:
                await connection.execute(
                    text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
                )
                await connection.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
        finally:
            await database.dispose()

    anyio.run(stamp_future_revision)
    code, _, err = invoke({"AIRLINE_DATABASE_URL": mysql_empty_url}, "serve", "--port", "1")
    line = one_line_error(code, err)
    assert "9999, newer than this version knows" in line


def test_empty_variables_mean_defaults(embedded: dict[str, str]) -> None:
    code, out, err = invoke({**embedded, "AIRLINE_HOST": "", "AIRLINE_PORT": ""}, "db", "upgrade")
    assert code == 0, err
    assert head_revision() in out


def test_help_shows_option_defaults() -> None:
    code, out, _ = invoke({}, "serve", "--help")
    assert code == 0
    assert "AIRLINE_HOST, else 127.0.0.1" in " ".join(out.split())


def test_create_admin_then_log_in(embedded: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["users", "create-admin", "root@example.org", "--name", "Root", "--password-stdin"],
        env=embedded,
        input="a long admin passphrase\n",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("admin root@example.org created (id ")

    async def log_in() -> str:
        from airline_runtime.bootstrap import bootstrap
        from airline_runtime.settings import Settings

        settings = Settings(data_dir=Path(embedded["AIRLINE_DATA_DIR"]))
        async with bootstrap(settings) as runtime:
            pair = await runtime.airline.accounts.login(
                "ROOT@example.org", "a long admin passphrase"
            )
            return runtime.airline.accounts.authenticate(pair.access_token).role.value

    import anyio

    assert anyio.run(log_in) == "admin"


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("root@example.org", "short", "password: must be at least 10 characters"),
        ("not-an-email", "a long admin passphrase", "email: must be an email address"),
    ],
)
def test_create_admin_bad_input(
    embedded: dict[str, str], email: str, password: str, message: str
) -> None:
    result = runner.invoke(
        app, ["users", "create-admin", email, "--password-stdin"], env=embedded, input=password
    )
    assert message in one_line_error(result.exit_code, result.stderr)


def test_create_admin_twice_is_one_line(embedded: dict[str, str]) -> None:
    args = ["users", "create-admin", "root@example.org", "--password-stdin"]
    assert runner.invoke(app, args, env=embedded, input="a long admin passphrase").exit_code == 0
    result = runner.invoke(app, args, env=embedded, input="a long admin passphrase")
    assert "an account with that email exists" in one_line_error(result.exit_code, result.stderr)


@pytest.mark.mysql
def test_server_database_needs_a_jwt_secret(mysql_url: str) -> None:
    result = runner.invoke(
        app,
        ["users", "create-admin", "root@example.org", "--password-stdin"],
        env={"AIRLINE_DATABASE_URL": mysql_url, "AIRLINE_JWT_SECRET": ""},
        input="a long admin passphrase",
    )
    assert "AIRLINE_JWT_SECRET: required" in one_line_error(result.exit_code, result.stderr)


def cities_served(metrics_text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith('airline_http_requests_total{method="GET",route="/api/v1/cities"')
    )


def test_serve_with_workers_adds_up_metrics_and_cleans_up(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "AIRLINE_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(scratch)}
    env.pop("AIRLINE_DATABASE_URL", None)
    with running_airline(["serve", "--workers", "2"], env, tmp_path / "server.log") as base:
        assert [path.name[:16] for path in scratch.iterdir()] == ["airline-metrics-"]
        for _ in range(10):
            httpx.get(f"{base}/api/v1/cities", timeout=10)
        # The other worker's counts reach the shared directory within a quarter of a second.
        deadline = time.monotonic() + 5
        while (served := cities_served(httpx.get(f"{base}/metrics", timeout=10).text)) < 10:
            assert time.monotonic() < deadline, f"only {served} of 10 requests counted"
            time.sleep(0.1)
        assert served == 10
    assert list(scratch.iterdir()) == []


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The embedded default with the six busiest airports and two days of flights."""
    env = {"AIRLINE_DATA_DIR": str(tmp_path_factory.mktemp("seeded")), "AIRLINE_DATABASE_URL": ""}
    code, _, err = invoke(env, "seed", "--airports", "6", "--days", "2")
    assert code == 0, err
    return env


def tomorrow() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


def test_search_prints_a_table_of_itineraries(seeded: dict[str, str]) -> None:
    code, out, err = invoke(seeded, "search", "ATL", "DFW", tomorrow(), "--limit", "3")
    assert code == 0, err
    header, *rows = [line for line in out.splitlines() if line.strip()]
    assert header.split() == [
        "departs",
        "arrives",
        "route",
        "flights",
        "stops",
        "time",
        "price",
        "seats",
    ]
    assert 1 <= len([row for row in rows if "ATL" in row]) <= 3
    assert all(" USD " in row for row in rows if "ATL" in row)


def test_search_json_is_the_api_answer_and_pages(seeded: dict[str, str]) -> None:
    import json

    code, out, err = invoke(seeded, "search", "ATL", "DFW", tomorrow(), "--json", "--limit", "1")
    assert code == 0, err
    answer = json.loads(out)
    [itinerary] = answer["data"]
    assert {"id", "segments", "stops", "duration_minutes", "price", "seats_available"} <= set(
        itinerary
    )
    assert itinerary["segments"][0]["origin"] == "ATL"
    cursor = answer["meta"]["after"]
    assert cursor
    code, out, err = invoke(
        seeded, "search", "ATL", "DFW", tomorrow(), "--json", "--limit", "1", "--after", cursor
    )
    assert code == 0, err
    assert json.loads(out)["data"][0]["id"] != itinerary["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["XYZ", "DFW", "TOMORROW"], "origin: no airport or city has code XYZ"),
        (["ATL", "ATL", "TOMORROW"], "destination: must differ from the origin"),
        (["ATL", "DFW", "2001-01-01"], "date: is in the past"),
        (["ATL", "DFW", "someday"], "DATE: 'someday' is not a date"),
        (["ATL", "DFW", "TOMORROW", "--passengers", "12"], "passengers: must be between 1 and 9"),
        (["ATL", "DFW", "TOMORROW", "--after", "nonsense"], "after: is not a cursor"),
    ],
)
def test_search_bad_input_is_one_line(
    seeded: dict[str, str], args: list[str], message: str
) -> None:
    args = [tomorrow() if arg == "TOMORROW" else arg for arg in args]
    code, _, err = invoke(seeded, "search", *args)
    assert message in one_line_error(code, err)


def a_flight(env: dict[str, str]) -> str:
    import json

    code, out, err = invoke(env, "search", "ATL", "DFW", tomorrow(), "--json", "--max-stops", "0")
    assert code == 0, err
    return str(json.loads(out)["data"][0]["segments"][0]["flight_id"])


def hold_one(env: dict[str, str], flight_id: str, seat: str) -> str:
    """Book a seat through the Python API on the CLI's database; the record locator."""
    import anyio

    from airline_core import Principal, Role
    from airline_core.booking import SeatChoice
    from airline_runtime.bootstrap import bootstrap
    from airline_runtime.settings import Settings
    from tests.contract.test_booking import party

    async def work() -> str:
        settings = Settings.from_env(env)
        async with bootstrap(settings) as runtime:
            airline = runtime.airline
            user = await airline.accounts.register(
                email=f"cli-{seat.lower()}@example.org",
                password="a long enough passphrase",
                name="Cli",
            )
            offer = await airline.offer(user.id, [flight_id], "economy", 1)
            principal = Principal(user_id=user.id, role=Role.CUSTOMER)
            choice = [SeatChoice(flight_id=flight_id, passenger=0, seat=seat)]
            return (await airline.hold(principal, offer.id, party(1), choice)).reference

    return anyio.run(work)


def test_seatmap_draws_the_cabin(seeded: dict[str, str]) -> None:
    import json

    flight_id = a_flight(seeded)
    code, out, err = invoke(seeded, "seatmap", flight_id, "--cabin", "economy")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"economy cabin of flight {flight_id}"
    assert lines[1].split() == ["A", "B", "C", "|", "D", "E", "F"]
    assert lines[2].split()[1:] == [".", ".", ".", "|", ".", ".", "."]
    code, out, err = invoke(seeded, "seatmap", flight_id, "--json")
    assert code == 0, err
    assert json.loads(out)["data"]["flight_id"] == flight_id


def test_an_operator_looks_a_booking_up_and_cancels_it(seeded: dict[str, str]) -> None:
    flight_id = a_flight(seeded)
    code, out, err = invoke(seeded, "seatmap", flight_id)
    first_row = out.splitlines()[2].split()[0]
    reference = hold_one(seeded, flight_id, f"{first_row}A")
    code, out, err = invoke(seeded, "bookings", "show", reference.lower())
    assert code == 0, err
    assert out.startswith(f"{reference}  held  economy")
    assert f"{first_row}A on {flight_id}" in out
    code, out, _ = invoke(seeded, "seatmap", flight_id)
    assert out.splitlines()[2].split()[1] == "h"
    code, out, _ = invoke(seeded, "bookings", "list")
    assert reference in out
    code, out, err = invoke(seeded, "bookings", "cancel", reference)
    assert code == 0, err
    assert out.startswith(f"{reference}  cancelled")
    assert "cannot" in one_line_error(*invoke(seeded, "bookings", "cancel", reference)[::2])
    assert "no booking" in one_line_error(*invoke(seeded, "bookings", "show", "ZZZZZZ")[::2])
    code, out, _ = invoke(seeded, "bookings", "expire")
    assert (code, out.strip()) == (0, "0 holds expired")


def test_seatmap_bad_input_is_one_line(seeded: dict[str, str]) -> None:
    assert "no flight" in one_line_error(*invoke(seeded, "seatmap", "nope")[::2])
    flight_id = a_flight(seeded)
    assert "cabin" in one_line_error(
        *invoke(seeded, "seatmap", flight_id, "--cabin", "galley")[::2]
    )
