"""search: seats left per cabin on flights, and the indexes search reads by

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here: a migration must not change when the package's cabins do.
_CABINS = ("first", "business", "premium_economy", "economy")


def _seats_by_cabin(layout_json: str) -> dict[str, int]:
    """Seats per cabin of a stored layout (rows first..last, seat letters with - for aisles)."""
    seats: dict[str, int] = {}
    for cabin in json.loads(layout_json)["cabins"]:
        rows = cabin["last_row"] - cabin["first_row"] + 1
        seats[cabin["cabin"]] = rows * len(cabin["seats"].replace("-", ""))
    return seats


def upgrade() -> None:
    for cabin in _CABINS:
        op.add_column("flights", sa.Column(f"seats_{cabin}", sa.Integer(), nullable=True))
    connection = op.get_bind()
    airplanes = sa.table("airplanes", sa.column("id"), sa.column("layout"))
    flights = sa.table(
        "flights", sa.column("airplane_id"), *(sa.column(f"seats_{c}") for c in _CABINS)
    )
    for airplane_id, layout in connection.execute(sa.select(airplanes.c.id, airplanes.c.layout)):
        seats = _seats_by_cabin(layout)
        connection.execute(
            flights.update()
            .where(flights.c.airplane_id == airplane_id)
            .values({f"seats_{cabin}": seats.get(cabin) for cabin in _CABINS})
        )
    # New indexes first: MySQL keeps an index on every foreign key column.
    op.create_index(
        op.f("ix_flights_origin_departs_on_destination"),
        "flights",
        ["origin", "departs_on", "destination"],
    )
    op.create_index(op.f("ix_flights_origin_departs_at"), "flights", ["origin", "departs_at"])
    op.create_index(
        op.f("ix_flights_destination_departs_at"), "flights", ["destination", "departs_at"]
    )
    op.drop_index(op.f("ix_flights_origin_departs_on_departs_at"), table_name="flights")
    op.drop_index(op.f("ix_flights_destination_departs_on"), table_name="flights")


def downgrade() -> None:
    op.create_index(
        op.f("ix_flights_destination_departs_on"), "flights", ["destination", "departs_on"]
    )
    op.create_index(
        op.f("ix_flights_origin_departs_on_departs_at"),
        "flights",
        ["origin", "departs_on", "departs_at"],
    )
    op.drop_index(op.f("ix_flights_destination_departs_at"), table_name="flights")
    op.drop_index(op.f("ix_flights_origin_departs_at"), table_name="flights")
    op.drop_index(op.f("ix_flights_origin_departs_on_destination"), table_name="flights")
    with op.batch_alter_table("flights") as batch:
        for cabin in _CABINS:
            batch.drop_column(f"seats_{cabin}")
