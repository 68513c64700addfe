"""Persistence on SQLAlchemy Core: one schema for SQLite (embedded) and MySQL/MariaDB."""

from airline_runtime.db.catalog import (
    SQLAlchemyAirplaneStore,
    SQLAlchemyAirportStore,
    SQLAlchemyCityStore,
    SQLAlchemyFlightStore,
)
from airline_runtime.db.engine import Database, create_database
from airline_runtime.db.migrate import current_revision, head_revision, upgrade

__all__ = [
    "Database",
    "SQLAlchemyAirplaneStore",
    "SQLAlchemyAirportStore",
    "SQLAlchemyCityStore",
    "SQLAlchemyFlightStore",
    "create_database",
    "current_revision",
    "head_revision",
    "upgrade",
]
