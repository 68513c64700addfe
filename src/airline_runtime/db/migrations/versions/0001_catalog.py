"""catalog: cities, airports, airplanes, flights

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration keeps its own copy of the types it creates: later changes to tables.py must not
# rewrite history.
_MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def _code(length: int) -> sa.types.TypeEngine[str]:
    ascii_varchar = mysql.VARCHAR(length, charset="ascii", collation="ascii_bin")
    return sa.String(length).with_variant(ascii_varchar, "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "cities",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("code", _code(3), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("country", _code(2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name=op.f("uq_cities_code")),
        **_MYSQL_TABLE,
    )
    op.create_table(
        "airports",
        sa.Column("code", _code(3), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("city_code", _code(3), nullable=False),
        sa.Column("country", _code(2), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_code"],
            ["cities.code"],
            name=op.f("fk_airports_city_code_cities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code"),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_airports_city_code"), "airports", ["city_code"])
    op.create_table(
        "airplanes",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("seat_count", sa.Integer(), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **_MYSQL_TABLE,
    )
    op.create_table(
        "flights",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("number", _code(8), nullable=False),
        sa.Column("airline", _code(2), nullable=False),
        sa.Column("airplane_id", _code(26), nullable=False),
        sa.Column("origin", _code(3), nullable=False),
        sa.Column("destination", _code(3), nullable=False),
        sa.Column("departs_at", sa.DateTime(), nullable=False),
        sa.Column("arrives_at", sa.DateTime(), nullable=False),
        sa.Column("departs_on", sa.Date(), nullable=False),
        sa.Column("status", _code(12), nullable=False),
        sa.Column("currency", _code(3), nullable=False),
        sa.Column("fare_first", sa.BigInteger(), nullable=True),
        sa.Column("fare_business", sa.BigInteger(), nullable=True),
        sa.Column("fare_premium_economy", sa.BigInteger(), nullable=True),
        sa.Column("fare_economy", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "arrives_at > departs_at", name=op.f("ck_flights_arrives_after_departure")
        ),
        sa.CheckConstraint("origin <> destination", name=op.f("ck_flights_distinct_airports")),
        sa.ForeignKeyConstraint(
            ["airplane_id"],
            ["airplanes.id"],
            name=op.f("fk_flights_airplane_id_airplanes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["destination"], ["airports.code"], name=op.f("fk_flights_destination_airports")
        ),
        sa.ForeignKeyConstraint(
            ["origin"], ["airports.code"], name=op.f("fk_flights_origin_airports")
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", "departs_on", name=op.f("uq_flights_number_departs_on")),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_flights_airplane_id"), "flights", ["airplane_id"])
    op.create_index(op.f("ix_flights_departs_at_id"), "flights", ["departs_at", "id"])
    op.create_index(
        op.f("ix_flights_destination_departs_on"), "flights", ["destination", "departs_on"]
    )
    op.create_index(
        op.f("ix_flights_origin_departs_on_departs_at"),
        "flights",
        ["origin", "departs_on", "departs_at"],
    )


def downgrade() -> None:
    op.drop_table("flights")
    op.drop_table("airplanes")
    op.drop_table("airports")
    op.drop_table("cities")
