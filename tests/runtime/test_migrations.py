"""The migrations build exactly the schema of ``tables.py``, and move existing data along."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from airline_runtime.db import create_database, upgrade
from airline_runtime.db.engine import Database
from airline_runtime.db.tables import metadata

pytestmark = pytest.mark.anyio


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _assert_schema_matches(database: Database) -> None:
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_sqlite_migrations_match_the_tables(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    try:
        await upgrade(database)
        await _assert_schema_matches(database)
    finally:
        await database.dispose()


@pytest.mark.mysql
async def test_mysql_migrations_match_the_tables(mysql_empty_url: str) -> None:
    database = create_database(mysql_empty_url)
    try:
        await upgrade(database)
        await _assert_schema_matches(database)
    finally:
        await database.dispose()


LAYOUT = {
    "cabins": [
        {"cabin": "business", "first_row": 1, "last_row": 2, "seats": "AC-DF", "exit_rows": []},
        {"cabin": "economy", "first_row": 5, "last_row": 9, "seats": "ABC-DEF", "exit_rows": []},
    ]
}


async def test_upgrading_fills_the_seats_and_capacity_of_existing_flights(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(database, "0002")
        async with database.engine.begin() as connection:
            for statement, values in (
                ("INSERT INTO cities VALUES ('C1', 'LON', 'London', 'GB')", {}),
                ("INSERT INTO cities VALUES ('C2', 'NYC', 'New York', 'US')", {}),
                (
                    "INSERT INTO airports VALUES "
                    "('LHR', 'Heathrow', 'LON', 'GB', 'Europe/London', 51.5, -0.5)",
                    {},
                ),
                (
                    "INSERT INTO airports VALUES "
                    "('JFK', 'Kennedy', 'NYC', 'US', 'America/New_York', 40.6, -73.8)",
                    {},
                ),
                (
                    "INSERT INTO airplanes VALUES ('P1', 'A320', 46, :layout)",
                    {"layout": json.dumps(LAYOUT)},
                ),
                (
                    "INSERT INTO flights (id, number, airline, airplane_id, origin, destination,"
                    " departs_at, arrives_at, departs_on, status, currency, fare_business,"
                    " fare_economy) VALUES ('F1', 'BA1', 'BA', 'P1', 'LHR', 'JFK',"
                    " '2030-01-01 09:00:00', '2030-01-01 17:00:00', '2030-01-01',"
                    " 'scheduled', 'GBP', 90000, 30000)",
                    {},
                ),
            ):
                await connection.execute(text(statement), values)
        await upgrade(database)
        async with database.engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT seats_first, seats_business, seats_premium_economy, "
                        "seats_economy FROM flights"
                    )
                )
            ).one()
            capacity = (
                await connection.execute(
                    text(
                        "SELECT capacity_first, capacity_business, capacity_premium_economy, "
                        "capacity_economy, seats_ready FROM flights"
                    )
                )
            ).one()
        assert tuple(row) == (None, 8, None, 30)
        # Seat rows are made when the flight is first offered, not by the migration.
        assert tuple(capacity) == (None, 8, None, 30, 0)
    finally:
        await database.dispose()
