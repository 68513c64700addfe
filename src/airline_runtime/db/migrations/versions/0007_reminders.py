"""reminders: planned reminders of bookings, claimed and sent by the sweep

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def _code(length: int) -> sa.types.TypeEngine[str]:
    ascii_varchar = mysql.VARCHAR(length, charset="ascii", collation="ascii_bin")
    return sa.String(length).with_variant(ascii_varchar, "mysql", "mariadb")


def _precise() -> sa.types.TypeEngine[Any]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", _code(26), nullable=False),
        sa.Column("booking_id", _code(26), nullable=False),
        sa.Column("reference", _code(6), nullable=False),
        sa.Column("kind", _code(24), nullable=False),
        sa.Column("flight_id", _code(26), nullable=True),
        sa.Column("due_at", _precise(), nullable=False),
        sa.Column("expires_at", _precise(), nullable=False),
        sa.Column("status", _code(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", _code(64), nullable=True),
        sa.Column("claimed_until", _precise(), nullable=True),
        sa.Column("created_at", _precise(), nullable=False),
        sa.Column("settled_at", _precise(), nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **_MYSQL_TABLE,
    )
    op.create_index("ix_reminders_booking_id", "reminders", ["booking_id"])
    op.create_index("ix_reminders_reference", "reminders", ["reference"])
    op.create_index("ix_reminders_due", "reminders", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("reminders")
