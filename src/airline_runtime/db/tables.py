"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; stores query it.

Codes and ids are ASCII with a binary collation on MySQL (compact indexes, exact comparisons);
names use the server's default case-insensitive collation so that name filters ignore case on
every backend. Instants are ``DATETIME`` in UTC; money is integer minor units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

__all__ = [
    "airplanes",
    "airports",
    "bookings",
    "cities",
    "flights",
    "idempotency_keys",
    "inbox",
    "metadata",
    "notifications",
    "offers",
    "outbox",
    "payments",
    "refresh_tokens",
    "reminders",
    "seats",
    "users",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

_MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def ascii_code(length: int) -> String:
    """A fixed-shape code or id: ASCII, compared byte for byte on MySQL."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC instants in, aware UTC instants out; stored without a zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class PreciseUTCDateTime(UTCDateTime):
    """:class:`UTCDateTime` to the microsecond on MySQL too (``DATETIME(6)``; its plain
    ``DATETIME`` keeps whole seconds, which is all the other instants need)."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())


ID = 26

cities = Table(
    "cities",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column("code", ascii_code(3), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("country", ascii_code(2), nullable=False),
    **_MYSQL_TABLE,
)

airports = Table(
    "airports",
    metadata,
    Column("code", ascii_code(3), primary_key=True),
    Column("name", String(120), nullable=False),
    Column(
        "city_code",
        ascii_code(3),
        ForeignKey("cities.code", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("country", ascii_code(2), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("latitude", Double(), nullable=False),
    Column("longitude", Double(), nullable=False),
    **_MYSQL_TABLE,
)

airplanes = Table(
    "airplanes",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column("model", String(120), nullable=False),
    Column("seat_count", Integer, nullable=False),
    # The seat layout is read and written whole, so it is one JSON document.
    Column("layout", Text, nullable=False),
    **_MYSQL_TABLE,
)

flights = Table(
    "flights",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column("number", ascii_code(8), nullable=False),
    Column("airline", ascii_code(2), nullable=False),
    Column(
        "airplane_id",
        ascii_code(ID),
        ForeignKey("airplanes.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("origin", ascii_code(3), ForeignKey("airports.code"), nullable=False),
    Column("destination", ascii_code(3), ForeignKey("airports.code"), nullable=False),
    Column("departs_at", UTCDateTime(), nullable=False),
    Column("arrives_at", UTCDateTime(), nullable=False),
    # The local date at the origin: what a traveller searches by, and the day a number is unique.
    Column("departs_on", Date, nullable=False),
    Column("status", ascii_code(12), nullable=False),
    Column("currency", ascii_code(3), nullable=False),
    # Base fares per cabin in minor units; NULL where the airplane has no such cabin.
    Column("fare_first", BigInteger),
    Column("fare_business", BigInteger),
    Column("fare_premium_economy", BigInteger),
    Column("fare_economy", BigInteger),
    # Seats left for sale per cabin (NULL where the airplane has no such cabin): set from the
    # airplane's layout when the flight is scheduled, so search filters on them in SQL.
    Column("seats_first", Integer),
    Column("seats_business", Integer),
    Column("seats_premium_economy", Integer),
    Column("seats_economy", Integer),
    # Seats per cabin in all (NULL where there is no such cabin): with the seats left, the load
    # factor that prices the next sale.
    Column("capacity_first", Integer),
    Column("capacity_business", Integer),
    Column("capacity_premium_economy", Integer),
    Column("capacity_economy", Integer),
    # Whether the flight's seat rows exist: they are made when it is first offered for sale.
    Column("seats_ready", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("number", "departs_on"),
    CheckConstraint("arrives_at > departs_at", name="arrives_after_departure"),
    CheckConstraint("origin <> destination", name="distinct_airports"),
    # Search: the departures of an origin on a local date (to one destination, for direct
    # searches); connections leaving an airport in a time window; flights into a destination
    # in a time window. The last also serves listing by departure.
    Index(None, "origin", "departs_on", "destination"),
    Index(None, "origin", "departs_at"),
    Index(None, "destination", "departs_at"),
    Index(None, "departs_at", "id"),
    **_MYSQL_TABLE,
)

users = Table(
    "users",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    # Stored normalized (trimmed, lower case), so a unique index is a case-blind one.
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("role", ascii_code(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    **_MYSQL_TABLE,
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    # SHA-256 of the token, hex: the token itself is never stored.
    Column("token_hash", ascii_code(64), primary_key=True),
    Column("family_id", ascii_code(ID), nullable=False, index=True),
    Column(
        "user_id",
        ascii_code(ID),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    **_MYSQL_TABLE,
)


# One row per seat per flight. A seat is claimed with a compare-and-set on its row (see
# airline_runtime.db.booking); the primary key puts a flight's seats together.
seats = Table(
    "seats",
    metadata,
    Column(
        "flight_id",
        ascii_code(ID),
        ForeignKey("flights.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seat", ascii_code(4), primary_key=True),
    Column("state", ascii_code(10), nullable=False),
    Column("booking_id", ascii_code(ID), index=True),
    # Until when a held seat is held (the booking's payment deadline); NULL otherwise.
    Column("hold_expires_at", UTCDateTime()),
    **_MYSQL_TABLE,
)

offers = Table(
    "offers",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column("user_id", ascii_code(ID), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # Flight ids joined by spaces, in the itinerary's order.
    Column("flight_ids", ascii_code(96), nullable=False),
    Column("cabin", ascii_code(16), nullable=False),
    Column("passengers", Integer, nullable=False),
    # One passenger's price per flight in minor units, joined by spaces.
    Column("unit_prices", ascii_code(96), nullable=False),
    Column("currency", ascii_code(3), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    **_MYSQL_TABLE,
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column("reference", ascii_code(6), nullable=False, unique=True),
    Column("user_id", ascii_code(ID), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
    Column("offer_id", ascii_code(ID), nullable=False),
    Column("status", ascii_code(12), nullable=False),
    Column("flight_ids", ascii_code(96), nullable=False),
    Column("cabin", ascii_code(16), nullable=False),
    # Passengers and seat assignments are read and written with the booking, whole.
    Column("passengers", Text, nullable=False),
    Column("seats", Text, nullable=False),
    Column("seat_count", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("currency", ascii_code(3), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("price_guarantee_expires_at", UTCDateTime(), nullable=False),
    Column("payment_required_by", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # The payment running on the booking, and until when it has the booking to itself.
    Column("paying_id", ascii_code(ID)),
    Column("paying_until", UTCDateTime()),
    # A user's bookings (and the seats they hold); the expiry sweep's due holds.
    Index(None, "user_id", "status"),
    Index(None, "status", "payment_required_by"),
    **_MYSQL_TABLE,
)

payments = Table(
    "payments",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    Column(
        "booking_id",
        ascii_code(ID),
        ForeignKey("bookings.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("amount", BigInteger, nullable=False),
    Column("currency", ascii_code(3), nullable=False),
    # The provider's payment-method token (pm_...): never a card number.
    Column("method", ascii_code(255), nullable=False),
    Column("status", ascii_code(16), nullable=False),
    Column("reference", ascii_code(255)),
    Column("failure_code", ascii_code(64)),
    Column("refunded", BigInteger),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    **_MYSQL_TABLE,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column(
        "user_id",
        ascii_code(ID),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", ascii_code(255), primary_key=True),
    # SHA-256 (hex) of method, path and body.
    Column("fingerprint", ascii_code(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    Column("lease_until", UTCDateTime(), nullable=False),
    # The kept answer, once the first request has one.
    Column("status", Integer),
    Column("media_type", ascii_code(64)),
    Column("body", Text),
    **_MYSQL_TABLE,
)

outbox = Table(
    "outbox",
    metadata,
    # The event's id: time-ordered, so claiming oldest first walks the primary key.
    Column("id", ascii_code(ID), primary_key=True),
    Column("type", ascii_code(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", PreciseUTCDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    # pending or failed; a published event's row is deleted.
    Column("status", ascii_code(16), nullable=False),
    # When a pending event may next be claimed (now, or later after a failed attempt).
    Column("next_attempt_at", PreciseUTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", ascii_code(64)),
    Column("claimed_until", PreciseUTCDateTime()),
    Column("last_error", Text),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    **_MYSQL_TABLE,
)

inbox = Table(
    "inbox",
    metadata,
    # A consumer (its queue's name) and a message it finished with: a redelivery is absorbed.
    Column("consumer", ascii_code(64), primary_key=True),
    Column("message_id", ascii_code(ID), primary_key=True),
    Column("processed_at", UTCDateTime(), nullable=False, index=True),
    **_MYSQL_TABLE,
)

notifications = Table(
    "notifications",
    metadata,
    # The notice's key: event id, channel and a digest of the address.
    Column("key", ascii_code(64), primary_key=True),
    Column("message_id", ascii_code(ID), nullable=False, index=True),
    Column("event_type", ascii_code(64), nullable=False),
    Column("channel", ascii_code(8), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("template", ascii_code(64), nullable=False),
    # sent, or failed (refused for good by the provider).
    Column("status", ascii_code(8), nullable=False),
    Column("at", PreciseUTCDateTime(), nullable=False, index=True),
    Column("provider_id", String(255)),
    Column("error", Text),
    **_MYSQL_TABLE,
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", ascii_code(ID), primary_key=True),
    # No foreign key: a reminder outlives nothing it points at (bookings are never deleted),
    # and the sweep's claims should not lock booking rows.
    Column("booking_id", ascii_code(ID), nullable=False, index=True),
    Column("reference", ascii_code(6), nullable=False, index=True),
    # check_in, boarding_pass, payment_deadline, flight_changed.
    Column("kind", ascii_code(24), nullable=False),
    Column("flight_id", ascii_code(ID)),
    Column("due_at", PreciseUTCDateTime(), nullable=False),
    Column("expires_at", PreciseUTCDateTime(), nullable=False),
    # planned, sent, cancelled or skipped.
    Column("status", ascii_code(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", ascii_code(64)),
    Column("claimed_until", PreciseUTCDateTime()),
    Column("created_at", PreciseUTCDateTime(), nullable=False),
    Column("settled_at", PreciseUTCDateTime()),
    Column("note", String(255)),
    # The sweep's claim walks this: planned reminders, soonest first.
    Index("ix_reminders_due", "status", "due_at"),
    **_MYSQL_TABLE,
)
