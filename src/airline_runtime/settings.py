"""Settings from ``AIRLINE_*`` environment variables, checked once at start-up.

A bad value raises :class:`SettingsError`, whose message is one line naming the variable; the CLI
prints it and exits, so a mistyped setting never gets as far as a half-started server.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from attrs import field, frozen

from airline_core.booking import BookingRules
from airline_core.catalog.model import is_airline_code, is_iata_code
from airline_core.reminders import ReminderRules, ReminderTiming
from airline_core.search import ConnectionRules

__all__ = ["RateLimits", "Settings", "SettingsError", "normalize_database_url"]

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
    "mysql+asyncmy": "mysql+asyncmy",
    "mariadb+asyncmy": "mysql+asyncmy",
}


class SettingsError(ValueError):
    """A setting has a value the runtime cannot start with."""


def normalize_database_url(url: str, variable: str = "AIRLINE_DATABASE_URL") -> str:
    """Accept ``sqlite:///``, ``mysql://`` and ``mariadb://`` URLs and name the async driver.

    MySQL URLs get ``charset=utf8mb4`` unless they say otherwise.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or not rest:
        raise SettingsError(f"{variable}: {url!r} is not a database URL such as sqlite:///path")
    driver = _DRIVERS.get(scheme.lower())
    if driver is None:
        raise SettingsError(
            f"{variable}: unsupported database {scheme!r}; use sqlite:/// or mysql:// (MariaDB too)"
        )
    if driver == "mysql+asyncmy" and "charset=" not in rest:
        rest += ("&" if "?" in rest else "?") + "charset=utf8mb4"
    return f"{driver}://{rest}"


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: {value} is outside {low}..{high}")
    return value


@frozen(kw_only=True)
class RateLimits:
    """Limits per route group, in the ``limits`` notation (``10/minute``, ``100 per hour``).

    ``auth``: register, token, refresh (by client IP: these are the brute-force targets);
    ``read``: GET and HEAD; ``write``: every other method. Authenticated requests count per user,
    anonymous ones per client IP.
    """

    auth: str = "10/minute"
    read: str = "600/minute"
    write: str = "120/minute"


def _rate(environ: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many

    value = environ.get(name) or default
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(
            f"{name}: {value!r} is not a rate such as 10/minute or 100 per hour"
        ) from None
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (environ.get(name) or default).lower()
    if value not in choices:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def _list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (environ.get(name) or "").split(",") if item.strip())


def _networks(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    networks = _list(environ, name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: {network!r} is not an IP address or network") from None
    return networks


def _payments(environ: Mapping[str, str]) -> dict[str, Any]:
    gateway = _choice(environ, "AIRLINE_PAYMENT_GATEWAY", "test", ("test", "stripe"))
    key = environ.get("AIRLINE_STRIPE_SECRET_KEY") or ""
    url = environ.get("AIRLINE_STRIPE_API_URL") or "https://api.stripe.com"
    if gateway == "stripe" and not key.startswith(("sk_", "rk_")):
        raise SettingsError(
            "AIRLINE_STRIPE_SECRET_KEY: AIRLINE_PAYMENT_GATEWAY=stripe needs a secret key "
            "(sk_live_..., sk_test_... or a restricted rk_... key)"
        )
    if not url.startswith(("https://", "http://")):
        raise SettingsError(f"AIRLINE_STRIPE_API_URL: {url!r} is not an http(s) URL")
    return {"payment_gateway": gateway, "stripe_secret_key": key, "stripe_api_url": url}


_NOTIFIERS = ("console", "smtp", "sendgrid", "twilio")


def _prefix(environ: Mapping[str, str]) -> str:
    prefix = environ.get("AIRLINE_AMQP_PREFIX") or "airline"
    if not all(char.isalnum() or char in "-_." for char in prefix) or len(prefix) > 40:
        raise SettingsError(
            f"AIRLINE_AMQP_PREFIX: {prefix!r} must be up to 40 letters, digits, '-', '_' or '.'"
        )
    return prefix


def _messaging(environ: Mapping[str, str]) -> dict[str, Any]:
    """The broker, the notifiers and their credentials, checked together."""
    amqp_url = environ.get("AIRLINE_AMQP_URL") or ""
    if amqp_url and not amqp_url.startswith(("amqp://", "amqps://")):
        raise SettingsError(f"AIRLINE_AMQP_URL: {amqp_url!r} is not an amqp:// URL")
    notifiers = _list(environ, "AIRLINE_NOTIFIER") or ("console",)
    for name in notifiers:
        if name not in _NOTIFIERS:
            raise SettingsError(f"AIRLINE_NOTIFIER: {name!r} is not one of {', '.join(_NOTIFIERS)}")
    if "smtp" in notifiers and "sendgrid" in notifiers:
        raise SettingsError("AIRLINE_NOTIFIER: smtp and sendgrid both send email; choose one")
    needed = {
        "smtp": ("AIRLINE_SMTP_HOST",),
        "sendgrid": ("AIRLINE_SENDGRID_API_KEY",),
        "twilio": (
            "AIRLINE_TWILIO_ACCOUNT_SID",
            "AIRLINE_TWILIO_AUTH_TOKEN",
            "AIRLINE_TWILIO_FROM",
        ),
    }
    for name in notifiers:
        for variable in needed.get(name, ()):
            if not environ.get(variable):
                raise SettingsError(f"{variable}: AIRLINE_NOTIFIER={name} needs it")
    templates = environ.get("AIRLINE_TEMPLATES_DIR") or ""
    if templates and not Path(templates).is_dir():
        raise SettingsError(f"AIRLINE_TEMPLATES_DIR: {templates!r} is not a folder")
    return {
        "amqp_url": amqp_url,
        "amqp_prefix": _prefix(environ),
        "amqp_queue_type": _choice(
            environ, "AIRLINE_AMQP_QUEUE_TYPE", "quorum", ("quorum", "classic")
        ),
        "notifiers": notifiers,
        "notifications_dir": Path(environ["AIRLINE_NOTIFICATIONS_DIR"])
        if environ.get("AIRLINE_NOTIFICATIONS_DIR")
        else None,
        "templates_dir": Path(templates) if templates else None,
        "mail_from": environ.get("AIRLINE_MAIL_FROM") or "Airline <bookings@airline.invalid>",
        "smtp_host": environ.get("AIRLINE_SMTP_HOST") or "",
        "smtp_port": _integer(environ, "AIRLINE_SMTP_PORT", 587, 1, 65535),
        "smtp_username": environ.get("AIRLINE_SMTP_USERNAME") or "",
        "smtp_password": environ.get("AIRLINE_SMTP_PASSWORD") or "",
        "smtp_security": _choice(
            environ, "AIRLINE_SMTP_SECURITY", "starttls", ("starttls", "tls", "none")
        ),
        "sendgrid_api_key": environ.get("AIRLINE_SENDGRID_API_KEY") or "",
        "sendgrid_api_url": environ.get("AIRLINE_SENDGRID_API_URL") or "https://api.sendgrid.com",
        "twilio_account_sid": environ.get("AIRLINE_TWILIO_ACCOUNT_SID") or "",
        "twilio_auth_token": environ.get("AIRLINE_TWILIO_AUTH_TOKEN") or "",
        "twilio_from": environ.get("AIRLINE_TWILIO_FROM") or "",
        "twilio_api_url": environ.get("AIRLINE_TWILIO_API_URL") or "https://api.twilio.com",
    }


def _booking(environ: Mapping[str, str]) -> dict[str, Any]:
    day = 24 * 60
    payment = _integer(environ, "AIRLINE_PAYMENT_WINDOW_MINUTES", 30, 1, day)
    guarantee = _integer(environ, "AIRLINE_PRICE_GUARANTEE_MINUTES", 15, 1, day)
    if guarantee > payment:
        raise SettingsError(
            "AIRLINE_PRICE_GUARANTEE_MINUTES: must not be longer than "
            f"AIRLINE_PAYMENT_WINDOW_MINUTES ({payment})"
        )
    return {
        "offer_minutes": _integer(environ, "AIRLINE_OFFER_MINUTES", 20, 1, day),
        "price_guarantee_minutes": guarantee,
        "payment_window_minutes": payment,
        "max_held_seats": _integer(environ, "AIRLINE_MAX_HELD_SEATS", 9, 1, 1000),
        "sales_close_minutes": _integer(environ, "AIRLINE_SALES_CLOSE_MINUTES", 30, 0, day),
    }


def _code_numbers(
    environ: Mapping[str, str],
    name: str,
    is_code: Callable[[str], bool],
    form: str,
    *,
    upper: bool = False,
) -> list[tuple[str, int]]:
    """A comma list of ``CODE=NUMBER`` pairs (``LHR=75,JFK=60``), each code checked by
    ``is_code`` (upper-cased first with ``upper``); ``form`` names the expected shape."""
    pairs: list[tuple[str, int]] = []
    for item in _list(environ, name):
        code, equals, number = item.partition("=")
        code = code.strip().upper() if upper else code.strip()
        if not equals or not is_code(code) or not number.strip().isdigit():
            raise SettingsError(f"{name}: {item!r} is not {form}")
        pairs.append((code, int(number)))
    return pairs


def _cron(environ: Mapping[str, str], name: str, default: str) -> str:
    value = " ".join((environ.get(name) or default).split())
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as error:
        raise SettingsError(
            f"{name}: {value!r} is not a crontab expression such as '* * * * *' ({error})"
        ) from None
    return value


def _reminders(environ: Mapping[str, str]) -> dict[str, Any]:
    """The reminder timings (``AIRLINE_REMINDER_*``) and the scheduler's cron expressions."""
    week = 7 * 24
    check_in = _integer(environ, "AIRLINE_REMINDER_CHECK_IN_HOURS", 48, 1, week)
    closes = _integer(environ, "AIRLINE_REMINDER_CHECK_IN_CLOSES_MINUTES", 60, 0, 24 * 60)
    if closes >= check_in * 60:
        raise SettingsError(
            "AIRLINE_REMINDER_CHECK_IN_CLOSES_MINUTES: must be shorter than "
            f"AIRLINE_REMINDER_CHECK_IN_HOURS ({check_in} h)"
        )
    name = "AIRLINE_REMINDER_CHECK_IN_HOURS_BY_AIRLINE"
    by_airline = _code_numbers(
        environ, name, is_airline_code, "AIRLINE=HOURS, such as BA=24", upper=True
    )
    for code, hours in by_airline:
        if not closes < hours * 60 <= week * 60:
            raise SettingsError(
                f"{name}: {code}={hours} must open before check-in closes, within a week"
            )
    boarding = _integer(environ, "AIRLINE_REMINDER_BOARDING_PASS_MINUTES", 180, 31, 24 * 60)
    deadline = _integer(environ, "AIRLINE_REMINDER_PAYMENT_DEADLINE_MINUTES", 10, 2, 24 * 60)
    return {
        "check_in_hours": check_in,
        "check_in_closes_minutes": closes,
        "check_in_hours_by_airline": tuple(by_airline),
        "boarding_pass_minutes": boarding,
        "payment_deadline_minutes": deadline,
        "reminder_sweep_cron": _cron(environ, "AIRLINE_REMINDER_SWEEP_CRON", "* * * * *"),
        "housekeeping_cron": _cron(environ, "AIRLINE_HOUSEKEEPING_CRON", "* * * * *"),
    }


def _connections(environ: Mapping[str, str]) -> dict[str, Any]:
    """``AIRLINE_MIN_CONNECTION_MINUTES``, ``AIRLINE_MAX_CONNECTION_MINUTES`` and
    ``AIRLINE_CONNECTION_MINUTES_AT`` (``LHR=75,JFK=60``), checked together."""
    day = 24 * 60
    minimum = _integer(environ, "AIRLINE_MIN_CONNECTION_MINUTES", 45, 0, day)
    maximum = _integer(environ, "AIRLINE_MAX_CONNECTION_MINUTES", 360, 1, day)
    if minimum > maximum:
        raise SettingsError(
            "AIRLINE_MIN_CONNECTION_MINUTES: must not exceed AIRLINE_MAX_CONNECTION_MINUTES"
        )
    name = "AIRLINE_CONNECTION_MINUTES_AT"
    at = _code_numbers(environ, name, is_iata_code, "CODE=MINUTES, such as LHR=75")
    for code, minutes in at:
        if not 0 <= minutes <= maximum:
            raise SettingsError(f"{name}: {code} must be 0..{maximum} minutes (the maximum)")
    return {
        "min_connection_minutes": minimum,
        "max_connection_minutes": maximum,
        "connection_minutes_at": tuple(at),
    }


#: Bytes of entropy below which a JWT signing secret is refused (HS256 wants at least 256 bits).
MIN_JWT_SECRET_LENGTH = 32


@frozen(kw_only=True)
class Settings:
    """Everything the runtime reads from its environment. Every field has a working default, and
    an empty variable counts as unset."""

    data_dir: Path = Path("airline-data")
    database_url: str = ""
    database_pool_size: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    jwt_secret: str = ""
    jwt_issuer: str = "airline-booking"
    jwt_audience: str = "airline-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    redis_url: str = ""
    redis_prefix: str = "airline"
    rate_limit: bool = True
    rate_limits: RateLimits = field(factory=RateLimits)
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    log_format: str = "json"
    log_level: str = "info"
    #: How long access lines may wait to be written in one batch (milliseconds; 0: each at once).
    log_flush_ms: int = 100
    #: Connection times in minutes: the minimum, the maximum, and airports' own minimums.
    min_connection_minutes: int = 45
    max_connection_minutes: int = 360
    connection_minutes_at: tuple[tuple[str, int], ...] = ()
    #: Booking: offer validity, price guarantee and payment window of a hold (minutes), the
    #: seats one user may hold unpaid, and how long before departure sales close (minutes).
    offer_minutes: int = 20
    price_guarantee_minutes: int = 15
    payment_window_minutes: int = 30
    max_held_seats: int = 9
    sales_close_minutes: int = 30
    #: How often each API process runs the booking housekeeping (0: never; then run
    #: ``airline scheduler`` or ``airline bookings expire`` from cron).
    sweep_seconds: int = 60
    #: Reminders: check-in opens (hours before departure, per airline too) and closes
    #: (minutes before), the boarding pass and the payment deadline (minutes before).
    check_in_hours: int = 48
    check_in_closes_minutes: int = 60
    check_in_hours_by_airline: tuple[tuple[str, int], ...] = ()
    boarding_pass_minutes: int = 180
    payment_deadline_minutes: int = 10
    #: ``airline scheduler``: when the reminder sweep and the booking housekeeping run (UTC).
    reminder_sweep_cron: str = "* * * * *"
    housekeeping_cron: str = "* * * * *"
    #: Payments: the built-in ``test`` gateway (documented tokens) or ``stripe``.
    payment_gateway: str = "test"
    stripe_secret_key: str = field(default="", repr=False)
    stripe_api_url: str = "https://api.stripe.com"
    #: Messaging: RabbitMQ (unset: the in-process bus over the outbox) and its queue type.
    amqp_url: str = field(default="", repr=False)
    amqp_queue_type: str = "quorum"
    #: Names on the broker: ``<prefix>.events`` (the exchange), ``<prefix>.notifications``
    #: (the worker's queue), so that several deployments can share one broker.
    amqp_prefix: str = "airline"
    #: Notifiers by name (``console``, ``smtp`` or ``sendgrid`` for email, ``twilio`` for
    #: SMS); a channel none of them sends goes to the console notifier.
    notifiers: tuple[str, ...] = ("console",)
    #: Where the console notifier writes its files (default ``<data dir>/notifications``).
    notifications_dir: Path | None = None
    templates_dir: Path | None = None
    mail_from: str = "Airline <bookings@airline.invalid>"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_security: str = "starttls"
    sendgrid_api_key: str = field(default="", repr=False)
    sendgrid_api_url: str = "https://api.sendgrid.com"
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from: str = ""
    twilio_api_url: str = "https://api.twilio.com"

    @property
    def notification_folder(self) -> Path:
        return self.notifications_dir or self.data_dir / "notifications"

    def booking_rules(self) -> BookingRules:
        return BookingRules(
            offer_lifetime=timedelta(minutes=self.offer_minutes),
            price_guarantee=timedelta(minutes=self.price_guarantee_minutes),
            payment_window=timedelta(minutes=self.payment_window_minutes),
            max_held_seats=self.max_held_seats,
            sales_close=timedelta(minutes=self.sales_close_minutes),
        )

    def reminder_rules(self) -> ReminderRules:
        closes = timedelta(minutes=self.check_in_closes_minutes)
        return ReminderRules(
            check_in=ReminderTiming(timedelta(hours=self.check_in_hours), closes),
            check_in_by_airline={
                code: timedelta(hours=hours) for code, hours in self.check_in_hours_by_airline
            },
            boarding_pass=ReminderTiming(
                timedelta(minutes=self.boarding_pass_minutes), timedelta(minutes=30)
            ),
            payment_deadline=ReminderTiming(
                timedelta(minutes=self.payment_deadline_minutes), timedelta(minutes=1)
            ),
        )

    def connection_rules(self) -> ConnectionRules:
        return ConnectionRules(
            minimum=timedelta(minutes=self.min_connection_minutes),
            maximum=timedelta(minutes=self.max_connection_minutes),
            minimum_at={
                code: timedelta(minutes=minutes) for code, minutes in self.connection_minutes_at
            },
        )

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'airline.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check the ``AIRLINE_*`` variables (``os.environ`` by default)."""
        environ = os.environ if environ is None else environ

        def text(name: str, default: str) -> str:
            # An empty variable means the same as an unset one, for every setting.
            return environ.get(name) or default

        database_url = text("AIRLINE_DATABASE_URL", "")
        if database_url:
            normalize_database_url(database_url)
        host = text("AIRLINE_HOST", "127.0.0.1")
        if any(char.isspace() for char in host):
            raise SettingsError(f"AIRLINE_HOST: {host!r} is not a host name or address")
        jwt_secret = text("AIRLINE_JWT_SECRET", "")
        if jwt_secret and len(jwt_secret) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"AIRLINE_JWT_SECRET: must be at least {MIN_JWT_SECRET_LENGTH} characters "
                "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        redis_url = text("AIRLINE_REDIS_URL", "")
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"AIRLINE_REDIS_URL: {redis_url!r} is not a redis:// URL")
        return cls(
            data_dir=Path(text("AIRLINE_DATA_DIR", "airline-data")),
            database_url=database_url,
            database_pool_size=_integer(environ, "AIRLINE_DATABASE_POOL_SIZE", 10, 1, 500),
            host=host,
            port=_integer(environ, "AIRLINE_PORT", 8000, 1, 65535),
            max_body_bytes=_integer(environ, "AIRLINE_MAX_BODY_BYTES", 1_048_576, 1024, 1 << 30),
            jwt_secret=jwt_secret,
            jwt_issuer=text("AIRLINE_JWT_ISSUER", "airline-booking"),
            jwt_audience=text("AIRLINE_JWT_AUDIENCE", "airline-api"),
            access_token_minutes=_integer(environ, "AIRLINE_ACCESS_TOKEN_MINUTES", 15, 1, 60),
            refresh_token_days=_integer(environ, "AIRLINE_REFRESH_TOKEN_DAYS", 30, 1, 365),
            redis_url=redis_url,
            redis_prefix=text("AIRLINE_REDIS_PREFIX", "airline"),
            rate_limit=_choice(environ, "AIRLINE_RATE_LIMIT", "on", ("on", "off")) == "on",
            rate_limits=RateLimits(
                auth=_rate(environ, "AIRLINE_RATE_LIMIT_AUTH", "10/minute"),
                read=_rate(environ, "AIRLINE_RATE_LIMIT_READ", "600/minute"),
                write=_rate(environ, "AIRLINE_RATE_LIMIT_WRITE", "120/minute"),
            ),
            trusted_proxies=_networks(environ, "AIRLINE_TRUSTED_PROXIES"),
            cors_origins=_list(environ, "AIRLINE_CORS_ORIGINS"),
            log_format=_choice(environ, "AIRLINE_LOG_FORMAT", "json", ("json", "console")),
            log_level=_choice(
                environ, "AIRLINE_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
            ),
            log_flush_ms=_integer(environ, "AIRLINE_LOG_FLUSH_MS", 100, 0, 10_000),
            **_connections(environ),
            **_booking(environ),
            **_reminders(environ),
            **_payments(environ),
            **_messaging(environ),
            sweep_seconds=_integer(environ, "AIRLINE_SWEEP_SECONDS", 60, 0, 86_400),
        )

    def signing_secret(self) -> str:
        """The JWT secret: the setting, or on the embedded default one made once and kept in
        ``<data dir>/jwt-secret`` (readable by its owner only) so tokens survive restarts."""
        if self.jwt_secret:
            return self.jwt_secret
        if not self.is_embedded:
            raise SettingsError(
                "AIRLINE_JWT_SECRET: required with a server database, so that every API process "
                "signs and checks tokens with the same secret"
            )
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
