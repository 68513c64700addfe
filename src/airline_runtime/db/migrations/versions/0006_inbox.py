"""inbox and notifications: what consumers handled and the notices they sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
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
        "inbox",
        sa.Column("consumer", _code(64), nullable=False),
        sa.Column("message_id", _code(26), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id"),
        **_MYSQL_TABLE,
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_table(
        "notifications",
        sa.Column("key", _code(64), nullable=False),
        sa.Column("message_id", _code(26), nullable=False),
        sa.Column("event_type", _code(64), nullable=False),
        sa.Column("channel", _code(8), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("template", _code(64), nullable=False),
        sa.Column("status", _code(8), nullable=False),
        sa.Column("at", _precise(), nullable=False),
        sa.Column("provider_id", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        **_MYSQL_TABLE,
    )
    op.create_index("ix_notifications_message_id", "notifications", ["message_id"])
    op.create_index("ix_notifications_at", "notifications", ["at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("inbox")
