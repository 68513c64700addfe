"""Settings from ``AIRLINE_*`` environment variables, checked once at start-up.

A bad value raises :class:`SettingsError`, whose message is one line naming the variable; the CLI
prints it and exits, so a mistyped setting never gets as far as a half-started server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

__all__ = ["Settings", "SettingsError", "normalize_database_url"]

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
class Settings:
    """Everything the runtime reads from its environment. Every field has a working default, and
    an empty variable counts as unset."""

    data_dir: Path = Path("airline-data")
    database_url: str = ""
    database_pool_size: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576

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
        return cls(
            data_dir=Path(text("AIRLINE_DATA_DIR", "airline-data")),
            database_url=database_url,
            database_pool_size=_integer(environ, "AIRLINE_DATABASE_POOL_SIZE", 10, 1, 500),
            host=host,
            port=_integer(environ, "AIRLINE_PORT", 8000, 1, 65535),
            max_body_bytes=_integer(environ, "AIRLINE_MAX_BODY_BYTES", 1_048_576, 1024, 1 << 30),
        )
