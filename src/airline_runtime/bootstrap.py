"""The composition root: settings in, a running :class:`Runtime` out.

Every entry point (the Litestar app's lifespan, each CLI command, the tests) enters
:func:`bootstrap`; everything it opens is closed on the way out, in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from attrs import field, frozen

from airline_core import Airline
from airline_core.booking.gateway import TestPaymentGateway
from airline_core.errors import Unavailable
from airline_core.ports import Clock, PaymentGateway
from airline_runtime.db import (
    Database,
    SQLAlchemyAirplaneStore,
    SQLAlchemyAirportStore,
    SQLAlchemyCityStore,
    SQLAlchemyFlightStore,
    create_database,
    current_revision,
    head_revision,
    upgrade,
)
from airline_runtime.db.booking import (
    SQLAlchemyBookingStore,
    SQLAlchemyInventoryStore,
    SQLAlchemyOfferStore,
    SQLAlchemyPaymentStore,
)
from airline_runtime.db.idempotency import SQLAlchemyIdempotencyStore
from airline_runtime.db.identity import SQLAlchemyRefreshTokenStore, SQLAlchemyUserStore
from airline_runtime.db.migrate import is_known_revision
from airline_runtime.db.outbox import SQLAlchemyOutboxStore
from airline_runtime.db.reminders import SQLAlchemyReminderStore
from airline_runtime.messaging.metrics import MessagingMetrics
from airline_runtime.security import Argon2PasswordHasher, JWTAccessTokens
from airline_runtime.settings import Settings

if TYPE_CHECKING:
    from airline_runtime.messaging.rabbitmq import RabbitMQ

__all__ = ["Runtime", "SchemaOutOfDate", "access_tokens", "bootstrap"]

logger = logging.getLogger("airline_runtime")


class SchemaOutOfDate(Unavailable):
    """The database schema is not the one this version of the package needs."""


@frozen
class Runtime:
    """What the entry points share: the settings, the database and the airline on top of it."""

    settings: Settings
    airline: Airline
    database: Database | None = None
    #: RabbitMQ when ``AIRLINE_AMQP_URL`` is set (connected by the processes that use it).
    broker: RabbitMQ | None = None
    #: The relay's and the worker's counters (on the API's ``/metrics`` in ``airline demo``).
    messaging_metrics: MessagingMetrics = field(factory=MessagingMetrics)

    async def check_ready(self) -> dict[str, str]:
        """Probe each dependency; raises :class:`Unavailable` naming the first that fails."""
        checks = {}
        if self.database is not None:
            try:
                await self.database.ping()
            except Exception as error:
                raise Unavailable(f"database unreachable: {type(error).__name__}") from error
            checks["database"] = "ok"
        if self.broker is not None:
            # Reported, not required: the API takes bookings while the broker is down, their
            # events waiting in the outbox.
            checks["broker"] = "ok" if self.broker.is_connected else "unreachable"
        return checks


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    migrate: bool = False,
    require_schema: bool = True,
    clock: Clock | None = None,
) -> AsyncIterator[Runtime]:
    """Open the database named by ``settings`` and build the airline on it.

    :param migrate: bring the schema up to date first (the embedded default and ``airline demo``
        do; production runs ``airline db upgrade`` once per release instead).
    :param require_schema: refuse to start on a database whose schema is behind this package.
    :raises SchemaOutOfDate: the schema is not this package's (behind, and ``migrate`` is false;
        or ahead, written by a newer version).
    """
    async with AsyncExitStack() as stack:
        if settings.is_embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = create_database(
            settings.effective_database_url, pool_size=settings.database_pool_size
        )
        stack.push_async_callback(database.dispose)
        if migrate:
            await upgrade(database)
        elif require_schema:
            await _require_current_schema(database)
        payment_gateway: PaymentGateway = TestPaymentGateway()
        if settings.payment_gateway == "test" and not settings.is_embedded:
            logger.warning(
                "payments go to the built-in test gateway, which charges nobody: set "
                "AIRLINE_PAYMENT_GATEWAY=stripe for real payments"
            )
        if settings.payment_gateway == "stripe":
            from airline_runtime.payments import StripePaymentGateway

            stripe = StripePaymentGateway(
                settings.stripe_secret_key, api_url=settings.stripe_api_url
            )
            stack.push_async_callback(stripe.aclose)
            payment_gateway = stripe
        airline = Airline.from_stores(
            cities=SQLAlchemyCityStore(database),
            airports=SQLAlchemyAirportStore(database),
            airplanes=SQLAlchemyAirplaneStore(database),
            flights=SQLAlchemyFlightStore(database),
            users=SQLAlchemyUserStore(database),
            refresh_tokens=SQLAlchemyRefreshTokenStore(database),
            inventory=SQLAlchemyInventoryStore(database),
            offers=SQLAlchemyOfferStore(database),
            bookings=SQLAlchemyBookingStore(database),
            payments=SQLAlchemyPaymentStore(database),
            idempotency_keys=SQLAlchemyIdempotencyStore(database),
            outbox=SQLAlchemyOutboxStore(database),
            reminders=SQLAlchemyReminderStore(database),
            password_hasher=Argon2PasswordHasher(),
            access_tokens=access_tokens(settings),
            clock=clock,
            refresh_lifetime=timedelta(days=settings.refresh_token_days),
            connections=settings.connection_rules(),
            booking_rules=settings.booking_rules(),
            reminder_rules=settings.reminder_rules(),
            payment_gateway=payment_gateway,
        )
        broker = None
        if settings.amqp_url:
            from airline_runtime.messaging.rabbitmq import RabbitMQ

            broker = RabbitMQ(
                settings.amqp_url,
                exchange=f"{settings.amqp_prefix}.events",
                queue_type=settings.amqp_queue_type,  # type: ignore[arg-type]
            )
            stack.push_async_callback(broker.close)
        yield Runtime(settings=settings, airline=airline, database=database, broker=broker)


def access_tokens(settings: Settings) -> JWTAccessTokens:
    """Tokens signed with the configured secret (made and kept on the embedded default)."""
    return JWTAccessTokens(
        secret=settings.signing_secret(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime=timedelta(minutes=settings.access_token_minutes),
    )


async def _require_current_schema(database: Database) -> None:
    current, head = await current_revision(database), head_revision()
    if current == head:
        return
    if current is not None and not is_known_revision(current):
        raise SchemaOutOfDate(
            f"the database schema is at {current}, newer than this version knows (it needs "
            f"{head}): run the version of the package that upgraded it"
        )
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'nothing'}, this version needs {head}: "
        "run `airline db upgrade`"
    )
