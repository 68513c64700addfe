"""booking: seat rows, offers, bookings, payments, idempotency keys, and cabin capacities

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
# Fixed here: a migration must not change when the package's cabins do.
_CABINS = ("first", "business", "premium_economy", "economy")


def _code(length: int) -> sa.types.TypeEngine[str]:
    ascii_varchar = mysql.VARCHAR(length, charset="ascii", collation="ascii_bin")
    return sa.String(length).with_variant(ascii_varchar, "mysql", "mariadb")


def _capacity_by_cabin(layout_json: str) -> dict[str, int]:
    seats: dict[str, int] = {}
    for cabin in json.loads(layout_json)["cabins"]:
        rows = cabin["last_row"] - cabin["first_row"] + 1
        seats[cabin["cabin"]] = rows * len(cabin["seats"].replace("-", ""))
    return seats


def upgrade() -> None:
    for cabin in _CABINS:
        op.add_column("flights", sa.Column(f"capacity_{cabin}", sa.Integer(), nullable=True))
    op.add_column(
        "flights", sa.Column("seats_ready", sa.Boolean(), server_default="0", nullable=False)
    )
    connection = op.get_bind()
    airplanes = sa.table("airplanes", sa.column("id"), sa.column("layout"))
    flights = sa.table(
        "flights", sa.column("airplane_id"), *(sa.column(f"capacity_{c}") for c in _CABINS)
    )
    for airplane_id, layout in connection.execute(sa.select(airplanes.c.id, airplanes.c.layout)):
        capacity = _capacity_by_cabin(layout)
        connection.execute(
            flights.update()
            .where(flights.c.airplane_id == airplane_id)
            .values({f"capacity_{cabin}": capacity.get(cabin) for cabin in _CABINS})
        )
    op.create_table(
        "seats",
        sa.Column("flight_id", _code(26), nullable=False),
        sa.Column("seat", _code(4), nullable=False),
        sa.Column("state", _code(10), nullable=False),
        sa.Column("booking_id", _code(26), nullable=True),
        sa.Column("hold_expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flight_id"],
            ["flights.id"],
            name=op.f("fk_seats_flight_id_flights"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flight_id", "seat"),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_seats_booking_id"), "seats", ["booking_id"])
    op.create_table(
        "offers",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("user_id", _code(26), nullable=False),
        sa.Column("flight_ids", _code(96), nullable=False),
        sa.Column("cabin", _code(16), nullable=False),
        sa.Column("passengers", sa.Integer(), nullable=False),
        sa.Column("unit_prices", _code(96), nullable=False),
        sa.Column("currency", _code(3), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_offers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_offers_expires_at"), "offers", ["expires_at"])
    op.create_table(
        "bookings",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("reference", _code(6), nullable=False),
        sa.Column("user_id", _code(26), nullable=False),
        sa.Column("offer_id", _code(26), nullable=False),
        sa.Column("status", _code(12), nullable=False),
        sa.Column("flight_ids", _code(96), nullable=False),
        sa.Column("cabin", _code(16), nullable=False),
        sa.Column("passengers", sa.Text(), nullable=False),
        sa.Column("seats", sa.Text(), nullable=False),
        sa.Column("seat_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("currency", _code(3), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("price_guarantee_expires_at", sa.DateTime(), nullable=False),
        sa.Column("payment_required_by", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("paying_id", _code(26), nullable=True),
        sa.Column("paying_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookings_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference", name=op.f("uq_bookings_reference")),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_bookings_user_id_status"), "bookings", ["user_id", "status"])
    op.create_index(
        op.f("ix_bookings_status_payment_required_by"),
        "bookings",
        ["status", "payment_required_by"],
    )
    op.create_table(
        "payments",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("booking_id", _code(26), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", _code(3), nullable=False),
        sa.Column("method", _code(255), nullable=False),
        sa.Column("status", _code(16), nullable=False),
        sa.Column("reference", _code(255), nullable=True),
        sa.Column("failure_code", _code(64), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_payments_booking_id_bookings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id"),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_payments_booking_id"), "payments", ["booking_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", _code(26), nullable=False),
        sa.Column("key", _code(255), nullable=False),
        sa.Column("fingerprint", _code(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("media_type", _code(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key"),
        **_MYSQL_TABLE,
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("payments")
    op.drop_table("bookings")
    op.drop_table("offers")
    op.drop_table("seats")
    with op.batch_alter_table("flights") as batch:
        batch.drop_column("seats_ready")
        for cabin in _CABINS:
            batch.drop_column(f"capacity_{cabin}")
