"""The database: an async engine tuned per dialect, transactions, retries and error translation.

- MySQL/MariaDB: asyncmy through SQLAlchemy's pools (asyncmy's own pool measured 4.7x slower
  here), write sessions in READ COMMITTED. Reads have a pool of their own, whose sessions
  autocommit: each read is its own statement-long transaction, which READ COMMITTED gives a
  read inside a transaction anyway, and nothing is left to roll back when the connection goes
  back (SQLAlchemy then skips the ``ROLLBACK`` it would send: a round trip, and a third of the
  client's CPU time for a one-row read here). No pre-ping: it costs a round trip on every checkout
  (60 us of a 270 us one-query checkout here). Instead connections are recycled before the
  server's idle timeout, and when a statement finds its connection dropped (the server
  restarted), SQLAlchemy invalidates every connection older than it; :meth:`Database.fetch`
  retries a read once on such a disconnect, and any other request meeting one answers 503.
  A connection is rolled back when it goes back to the pool, except just after a committed
  write transaction (a ``ROLLBACK`` round trip saved per write).
- SQLite: WAL, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so
  that two writers queue for the lock up front instead of failing when a reader upgrades.
  Reads of a file have a pool of their own whose connections autocommit, as on MySQL: no
  ``BEGIN`` and ``ROLLBACK`` around each read (a one-row read from 8 of aiosqlite's thread hops
  to 4; `GET /api/v1/airports/{code}` from 720 to 960 requests a second here).
- Write transactions that lose a deadlock or a lock wait (MySQL 1213, 1205, 1020) are retried with
  jittered backoff a few times, then reported as :class:`~airline_core.errors.Unavailable`.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from typing import Any, Literal, TypeVar

import anyio
from attrs import define, field
from sqlalchemy import Executable, Row, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from airline_core.errors import AlreadyExists, StillReferenced, Unavailable

__all__ = ["Database", "create_database", "integrity_error_kind", "integrity_errors"]

T = TypeVar("T")

_RETRYABLE_MYSQL_ERRORS = frozenset({1213, 1205, 1020})
_WRITE_ATTEMPTS = 4
_MYSQL_DUPLICATE = 1062
_MYSQL_REFERENCE_ERRORS = frozenset({1451, 1452, 1216, 1217})


def _mysql_code(error: DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def integrity_error_kind(error: IntegrityError) -> Literal["duplicate", "reference", "other"]:
    """Whether an integrity error broke a unique key or a foreign key."""
    code = _mysql_code(error)
    message = str(error.orig)
    if code == _MYSQL_DUPLICATE or "UNIQUE constraint failed" in message:
        return "duplicate"
    if code in _MYSQL_REFERENCE_ERRORS or "FOREIGN KEY constraint failed" in message:
        return "reference"
    return "other"


@contextmanager
def integrity_errors(*, duplicate: str = "", reference: str = "") -> Iterator[None]:
    """Turn a broken unique key into :class:`AlreadyExists` and a broken foreign key into
    :class:`StillReferenced`, with the messages given; other integrity errors pass through."""
    try:
        yield
    except IntegrityError as error:
        kind = integrity_error_kind(error)
        if kind == "duplicate" and duplicate:
            raise AlreadyExists(duplicate) from error
        if kind == "reference" and reference:
            raise StillReferenced(reference) from error
        raise


@define
class Database:
    """The engines and the two kinds of transaction the stores use.

    ``engine`` is the writers' engine, for transactions and schema changes; ``reader``
    serves :meth:`read` and :meth:`fetch` (on SQLite the same engine as ``engine``).
    """

    engine: AsyncEngine
    _writer: AsyncEngine
    reader: AsyncEngine
    #: Entered around each write transaction: on SQLite a lock, the turns this process's
    #: writers take (see :meth:`write`); elsewhere nothing.
    _write_turns: AbstractAsyncContextManager[object] = field(factory=nullcontext, kw_only=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only (on MySQL/MariaDB every statement commits by itself,
        so nothing it reads is locked beyond its statement)."""
        async with self.reader.connect() as connection:
            yield connection

    async def fetch(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """The rows of one read, retried once when its connection turns out to be dropped
        (a read is safe to repeat; the pool has then discarded the stale connections)."""
        for attempt in (1, 2):
            try:
                async with self.reader.connect() as connection:
                    return (await connection.execute(statement, parameters)).all()
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, committed when it returns.

        ``work`` may run more than once: on a deadlock or lock wait timeout the whole transaction
        is retried, so it must not have effects outside the database.

        On SQLite, which runs one write transaction at a time, the write transactions of this
        process queue for their turn here, first come first served, before they ask SQLite
        for its lock. Left to SQLite, a writer that finds the lock taken sleeps and tries
        again (1 ms, then longer, up to 100 ms a try): at 64 concurrent writers the slowest
        hundredth waited 860 to 890 ms here, against 210 to 240 ms queued here.
        """
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                async with self._write_turns, self._writer.connect() as connection:
                    async with connection.begin():
                        result = await work(connection)
                    # Committed: nothing is left to roll back when it goes back to the pool.
                    (await connection.get_raw_connection()).info[_CLEAN] = True
                    return result
            except OperationalError as error:
                if _mysql_code(error) not in _RETRYABLE_MYSQL_ERRORS and not _sqlite_busy(error):
                    raise
                if attempt == _WRITE_ATTEMPTS:
                    raise Unavailable("the database stayed busy; try again shortly") from error
                await anyio.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable")  # pragma: no cover

    async def execute(self, statement: Executable, rows: list[dict[str, Any]] | None = None) -> int:
        """Run one writing statement (for each of ``rows``, if given) in its own write
        transaction; returns how many rows it matched."""

        async def work(connection: AsyncConnection) -> int:
            result = await connection.execute(statement, rows)
            return result.rowcount

        return await self.write(work)

    async def refresh_statistics(self) -> None:
        """Recount what the query planner knows of the flights and airports tables.

        Run after loading a large schedule: on the benchmark's year of flights, MariaDB planned
        searches from statistics taken before the load and read a hub's whole year of
        departures until ``ANALYZE TABLE`` ran. On SQLite it fills ``sqlite_stat1``.
        """
        sql = "ANALYZE TABLE flights, airports" if self.dialect == "mysql" else "ANALYZE"
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql(sql)
            await connection.commit()

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()


def _sqlite_busy(error: OperationalError) -> bool:
    return "database is locked" in str(error.orig)


def create_database(url: str, *, pool_size: int = 10, echo: bool = False) -> Database:
    """Build the engines for ``url`` (already normalized by the settings): on MySQL/MariaDB
    a pool for write transactions of ``pool_size`` connections (and as many again in
    overflow) and one for reads of twice ``pool_size``, kept open; on a SQLite file, one for
    reads of ``pool_size``."""
    turns: AbstractAsyncContextManager[object] = nullcontext()
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        _configure_sqlite(engine)
        reader = engine if _sqlite_in_memory(url) else _sqlite_reader(url, pool_size, echo)
        turns = anyio.Lock()
    else:
        # Below MySQL's default wait_timeout (8 hours) and common proxies' idle limits.
        recycle = 1800
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=recycle,
            isolation_level="READ COMMITTED",
            # Reset by _reset_on_return below instead of a ROLLBACK after every use.
            pool_reset_on_return=None,
        )
        event.listen(engine.sync_engine, "reset", _reset_on_return)
        event.listen(engine.sync_engine, "connect", _on_mysql_connect)
        # SQLAlchemy calls the driver's rollback() when a connection closes even in
        # autocommit mode, and asyncmy sends it; skip_autocommit_rollback stops that.
        # No overflow: a pool closes an overflow connection that comes back while its idle
        # ones number pool_size, and a server busier than that reopened about 80 connections
        # a second (a round trip and a login each); the pool's whole size is kept open.
        reader = create_async_engine(
            url,
            echo=echo,
            pool_size=2 * pool_size,
            max_overflow=0,
            pool_recycle=recycle,
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
        )
        event.listen(reader.sync_engine, "connect", _on_mysql_connect)
    writer = engine.execution_options(airline_write=True)
    return Database(engine, writer, reader, write_turns=turns)


_CLEAN = "airline_committed"


def _on_mysql_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # A hold reads a flight's taken seats as one group_concat list; MySQL cuts such lists at
    # 1,024 bytes unless told otherwise (MariaDB allows 1 MiB).
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION group_concat_max_len = 1048576")
    cursor.close()


def _reset_on_return(
    dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    """Roll back a connection going back to the pool, unless :meth:`Database.write` has just
    committed on it: SQLAlchemy's own reset sends a ``ROLLBACK`` after every use, a round trip
    that a committed write transaction does not need (one of the nine a hold sent)."""
    committed = record.info.pop(_CLEAN, False)
    if committed or state.transaction_was_reset or state.terminate_only:
        return  # nothing to undo, or the connection is being closed
    if state.asyncio_safe:  # not when collected without a running loop
        dbapi_connection.rollback()


def _sqlite_in_memory(url: str) -> bool:
    """Whether ``url`` names a database in memory, which exists once per connection: its
    reads must go through the writers' engine to see anything."""
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in url


def _sqlite_reader(url: str, pool_size: int, echo: bool) -> AsyncEngine:
    """The engine for reads of a SQLite file: its connections autocommit, so a read is one
    statement, not ``BEGIN``, the statement and a ``ROLLBACK`` when the connection goes back
    (aiosqlite runs each on its connection's thread, two thread hops apiece: 4 hops for a
    one-row read instead of 8). In WAL mode readers never wait for the writer (a reader that
    opens a fresh file first sets it, as the writers do). A fixed pool: an overflow connection
    that comes back while the idle ones number ``pool_size`` is closed, and under load the
    next read would open another (a thread and its pragmas)."""
    reader = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        skip_autocommit_rollback=True,
    )

    @event.listens_for(reader.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        _run_pragmas(dbapi_connection, (_SQLITE_BUSY_TIMEOUT, _SQLITE_WAL))

    return reader


_SQLITE_WAL = "PRAGMA journal_mode=WAL"
_SQLITE_BUSY_TIMEOUT = "PRAGMA busy_timeout=10000"


def _run_pragmas(dbapi_connection: DBAPIConnection, pragmas: Sequence[str]) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(pragma)
    cursor.close()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let us emit BEGIN ourselves (pysqlite's implicit transactions would defeat IMMEDIATE).
        dbapi_connection.isolation_level = None
        _run_pragmas(
            dbapi_connection,
            (
                _SQLITE_WAL,
                "PRAGMA foreign_keys=ON",
                _SQLITE_BUSY_TIMEOUT,
                "PRAGMA synchronous=NORMAL",
            ),
        )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("airline_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
