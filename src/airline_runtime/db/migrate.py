"""Alembic migrations, run from Python (``airline db upgrade``) on the runtime's own engine.

The migration scripts live in this package (``airline_runtime/db/migrations``), so an installed
wheel can upgrade a database without a checkout or an ``alembic.ini``.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from airline_runtime.db.engine import Database

__all__ = ["alembic_config", "current_revision", "head_revision", "is_known_revision", "upgrade"]

SCRIPT_LOCATION = "airline_runtime.db:migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError("no migrations found")
    return head


def is_known_revision(revision: str) -> bool:
    """Whether this version of the package ships ``revision`` (a newer one's are unknown)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


async def current_revision(database: Database) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.engine.connect() as connection:
        return await connection.run_sync(read)


def _not_a_primary_key_name_note(record: logging.LogRecord) -> bool:
    # MySQL ignores names of primary keys and says so as a note, which asyncmy logs as a warning
    # each time Alembic creates its version table. Nothing is wrong; keep the CLI output clean.
    return not record.getMessage().endswith("ignored for PRIMARY key.")


async def upgrade(database: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns the revisions before and after."""
    before = await current_revision(database)

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    driver_log = logging.getLogger("asyncmy")
    driver_log.addFilter(_not_a_primary_key_name_note)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        driver_log.removeFilter(_not_a_primary_key_name_note)
    return before, await current_revision(database)
