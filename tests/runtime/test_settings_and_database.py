"""Settings parsing, and the database's transaction retry and error translation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from airline_core import AlreadyExists, StillReferenced, Unavailable
from airline_runtime.db import create_database
from airline_runtime.db.engine import integrity_errors
from airline_runtime.settings import Settings, SettingsError, normalize_database_url

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("sqlite:///airline.db", "sqlite+aiosqlite:///airline.db"),
        ("sqlite+aiosqlite:////tmp/a.db", "sqlite+aiosqlite:////tmp/a.db"),
        ("mysql://root@db:3306/airline", "mysql+asyncmy://root@db:3306/airline?charset=utf8mb4"),
        ("mariadb://u:p@db/airline", "mysql+asyncmy://u:p@db/airline?charset=utf8mb4"),
        (
            "mysql://root@db/airline?connect_timeout=5",
            "mysql+asyncmy://root@db/airline?connect_timeout=5&charset=utf8mb4",
        ),
        (
            "mysql://root@db/airline?charset=latin1",
            "mysql+asyncmy://root@db/airline?charset=latin1",
        ),
    ],
)
def test_database_urls_get_the_async_driver(url: str, normalized: str) -> None:
    assert normalize_database_url(url) == normalized


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.is_embedded
    assert settings.effective_database_url.endswith("airline-data/airline.db")
    custom = Settings.from_env({"AIRLINE_DATA_DIR": str(tmp_path), "AIRLINE_PORT": "9000"})
    assert custom.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'airline.db'}"
    assert custom.port == 9000


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AIRLINE_PORT": "0"}, "AIRLINE_PORT: 0 is outside 1..65535"),
        ({"AIRLINE_PORT": "8k"}, "AIRLINE_PORT: '8k' is not a whole number"),
        ({"AIRLINE_HOST": "my host"}, "AIRLINE_HOST"),
        ({"AIRLINE_DATABASE_URL": "oracle://x"}, "unsupported database 'oracle'"),
        ({"AIRLINE_MAX_BODY_BYTES": "10"}, "AIRLINE_MAX_BODY_BYTES: 10 is outside"),
        (
            {"AIRLINE_CONNECTION_MINUTES_AT": "LHR=75,jfk=60"},
            "AIRLINE_CONNECTION_MINUTES_AT: 'jfk=60' is not CODE=MINUTES",
        ),
        (
            {"AIRLINE_CONNECTION_MINUTES_AT": "LHR=999"},
            r"AIRLINE_CONNECTION_MINUTES_AT: LHR must be 0..360 minutes",
        ),
        (
            {"AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE": "BA=24,FR"},
            "AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE: 'FR' is not AIRLINE=HOURS",
        ),
        (
            {"AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE": "BAW=24"},
            "AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE: 'BAW=24' is not AIRLINE=HOURS",
        ),
        (
            {"AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE": "BA=200"},
            "AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE: BA=200 must open before check-in",
        ),
        (
            {"AIRLINE_REMINDER_CHECK_IN_HOURS": "1"},
            "AIRLINE_REMINDER_CHECK_IN_CLOSES_MINUTES: must be shorter",
        ),
        ({"AIRLINE_REMINDER_BOARDING_PASS_MINUTES": "30"}, "is outside 31..1440"),
        ({"AIRLINE_REMINDER_SWEEP_CRON": "every minute"}, "is not a crontab expression"),
        ({"AIRLINE_HOUSEKEEPING_CRON": "61 * * * *"}, "AIRLINE_HOUSEKEEPING_CRON"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env(environ)
    assert "\n" not in str(caught.value)


class FakeDriverError(Exception):
    pass


def mysql_error(code: int) -> OperationalError:
    return OperationalError("UPDATE ...", {}, FakeDriverError(code, "simulated"))


async def test_sqlite_reads_send_their_statement_alone_and_see_every_commit(
    tmp_path: Path,
) -> None:
    """On a SQLite file, a read is its statement alone (no BEGIN before it, no ROLLBACK when its
    connection goes back: aiosqlite runs each on a thread of its own) and sees every write
    committed before it."""
    from sqlalchemy import text

    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", pool_size=1)
    assert database.reader is not database.engine
    try:
        await database.execute(text("CREATE TABLE probe (n INTEGER)"))
        await database.execute(text("INSERT INTO probe VALUES (1)"))
        statements: list[str] = []
        async with database.read() as connection:  # the read pool's one connection
            raw = await connection.get_raw_connection()
            await raw.driver_connection.set_trace_callback(statements.append)
        for _ in range(3):
            assert [row[0] for row in await database.fetch(text("SELECT n FROM probe"))] == [1]
        assert statements == ["SELECT n FROM probe"] * 3
        await database.execute(text("INSERT INTO probe VALUES (2)"))
        found = await database.fetch(text("SELECT n FROM probe ORDER BY n"))
        assert [row[0] for row in found] == [1, 2]
    finally:
        await database.dispose()


async def test_sqlite_write_transactions_of_a_process_take_turns_in_order(
    tmp_path: Path,
) -> None:
    """On SQLite the write transactions of a process queue for their turn, first come first
    served, instead of each polling SQLite's lock (with sleeps of up to 100 ms a try)."""
    from sqlalchemy import text

    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        await database.execute(text("CREATE TABLE log (n INTEGER)"))

        async def write(n: int) -> None:
            async def work(connection: Any) -> None:
                await connection.execute(text("INSERT INTO log VALUES (:n)"), {"n": n})
                await anyio.sleep(0.005)  # the lock held a while: the others must wait

            await database.write(work)

        async with anyio.create_task_group() as group:
            for n in range(20):
                group.start_soon(write, n)
        rows = await database.fetch(text("SELECT n FROM log ORDER BY rowid"))
        assert [row[0] for row in rows] == list(range(20))
    finally:
        await database.dispose()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
def test_a_sqlite_database_in_memory_is_read_through_the_writers_engine(url: str) -> None:
    # Each connection to such a database has one of its own: a read pool would see none.
    database = create_database(url)
    assert database.reader is database.engine


async def test_write_retries_deadlocks_then_succeeds(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    attempts = 0

    async def work(_connection: Any) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise mysql_error(1213)
        return "done"

    assert await database.write(work) == "done"
    assert attempts == 3
    await database.dispose()


async def test_write_gives_up_as_unavailable(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    attempts = 0

    async def work(_connection: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise mysql_error(1205)

    with pytest.raises(Unavailable):
        await database.write(work)
    assert attempts == 4
    await database.dispose()


async def test_write_does_not_retry_other_errors(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    attempts = 0

    async def work(_connection: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise mysql_error(1054)

    with pytest.raises(OperationalError):
        await database.write(work)
    assert attempts == 1
    await database.dispose()


def test_integrity_errors_are_translated() -> None:
    def raising(code: int, message: str) -> None:
        raise IntegrityError("INSERT ...", {}, FakeDriverError(code, message))

    with pytest.raises(AlreadyExists, match="taken"), integrity_errors(duplicate="taken"):
        raising(1062, "Duplicate entry")
    with pytest.raises(StillReferenced, match="in use"), integrity_errors(reference="in use"):
        raising(1451, "Cannot delete or update a parent row")
    with pytest.raises(AlreadyExists), integrity_errors(duplicate="taken"):
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: cities.code"))
    with pytest.raises(StillReferenced), integrity_errors(reference="in use"):
        raise IntegrityError("DELETE", {}, Exception("FOREIGN KEY constraint failed"))
    # Nothing said for that kind, or another kind: the original error passes through.
    with pytest.raises(IntegrityError), integrity_errors(duplicate="taken"):
        raising(1452, "Cannot add or update a child row")
    with pytest.raises(IntegrityError), integrity_errors(duplicate="x", reference="y"):
        raising(4025, "CONSTRAINT failed")


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
async def test_refreshing_statistics_after_a_load(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from sqlalchemy import text

    from airline_runtime.db import upgrade

    if backend == "sqlite":
        database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'stats.db'}")
        await upgrade(database)
    else:
        database = create_database(request.getfixturevalue("mysql_url"))
    updated = text(
        "SELECT last_update FROM mysql.innodb_table_stats "
        "WHERE database_name = DATABASE() AND table_name = 'flights'"
    )
    try:
        if backend == "sqlite":
            await database.refresh_statistics()
            async with database.engine.connect() as connection:
                # ANALYZE made the planner's statistics table.
                found = await connection.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                )
                assert found.scalar_one() == 1
        else:
            async with database.engine.connect() as connection:
                before = (await connection.execute(updated)).scalar_one()
            await anyio.sleep(1.1)  # the statistics' time stamp counts seconds
            await database.refresh_statistics()
            async with database.engine.connect() as connection:
                assert (await connection.execute(updated)).scalar_one() > before
    finally:
        await database.dispose()


def test_reminder_settings_make_the_reminder_rules() -> None:
    from datetime import timedelta

    settings = Settings.from_env(
        {
            "AIRLINE_REMINDER_CHECK_IN_HOURS": "36",
            "AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE": "ba=24, FR=2",
            "AIRLINE_REMINDER_CHECK_IN_CLOSES_MINUTES": "45",
            "AIRLINE_REMINDER_BOARDING_PASS_MINUTES": "120",
            "AIRLINE_REMINDER_PAYMENT_DEADLINE_MINUTES": "5",
            "AIRLINE_REMINDER_SWEEP_CRON": "*/5  * * * *",
        }
    )
    rules = settings.reminder_rules()
    assert (rules.check_in.before, rules.check_in.until) == (
        timedelta(hours=36),
        timedelta(minutes=45),
    )
    assert rules.check_in_for("BA").before == timedelta(hours=24)
    assert rules.check_in_for("FR").before == timedelta(hours=2)
    assert rules.boarding_pass.before == timedelta(minutes=120)
    assert rules.payment_deadline.before == timedelta(minutes=5)
    assert settings.reminder_sweep_cron == "*/5 * * * *"
    assert settings.housekeeping_cron == "* * * * *"


@pytest.mark.anyio
@pytest.mark.mysql
async def test_reads_send_one_statement_and_leave_no_transaction(mysql_url: str) -> None:
    """A read on MySQL/MariaDB is its statement alone: no ROLLBACK after it, no transaction
    (and so no metadata lock) left open on the pooled connection; writes still commit."""
    from sqlalchemy import text

    from airline_runtime.db.tables import cities

    database = create_database(mysql_url, pool_size=1)  # one connection per pool, reused
    counters = text(
        "SELECT variable_name, variable_value FROM information_schema.session_status "
        "WHERE variable_name IN ('COM_SELECT', 'COM_ROLLBACK', 'COM_COMMIT')"
    )
    try:
        async with database.read() as connection:
            before = {name: int(value) for name, value in await connection.execute(counters)}
        for _ in range(5):
            await database.fetch(text("SELECT count(*) FROM cities"))
        async with database.read() as connection:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            await connection.execute(text("SELECT count(*) FROM cities"))
            # An InnoDB read in a transaction would have opened one (holding its tables'
            # metadata locks until it ended).
            assert not raw.driver_connection.get_transaction_status()
            after = {name: int(value) for name, value in await connection.execute(counters)}
        assert after["COM_SELECT"] - before["COM_SELECT"] == 5 + 2
        assert after["COM_ROLLBACK"] == before["COM_ROLLBACK"]
        assert after["COM_COMMIT"] == before["COM_COMMIT"]

        async def add(connection: Any) -> None:
            await connection.execute(
                cities.insert().values(id="city-pool-probe", code="PPX", name="Probe", country="PP")
            )

        await database.write(add)
        found = await database.fetch(text("SELECT name FROM cities WHERE code = 'PPX'"))
        assert [row[0] for row in found] == ["Probe"]
    finally:
        await database.execute(text("DELETE FROM cities WHERE code = 'PPX'"))
        await database.dispose()
