"""The claims store in PostgreSQL: the same public API as :class:`bot.store.sqlite.Ledger`, for bots that run as
several processes (shards) on several hosts behind one database.

The ledger's logic (scopes, validation, records, revisions) is the SQLite ledger's: both subclass
:class:`bot.store.core.LedgerCore`, and this module supplies the connection handling and :class:`PostgresDialect`
(the SQL that differs); the schema and its migrations are in ``bot.store.pg_schema``. Connections come from a
psycopg 3 pool; every connection is in autocommit, and :meth:`PostgresLedger.transaction` holds one connection for
the calling thread (nested transactions are savepoints). The outermost transaction takes the ledger's write lock
(an advisory lock), so writers take turns as they do on SQLite and an import's plan stays valid while it writes.

Every connection names its process (``claimledger.origin``), which the change notices carry (see
``bot.store.pg_schema``); :meth:`PostgresLedger.listen` follows them on a connection of its own, so each process
learns which servers and incidents the others (and the command line) changed.
"""

from __future__ import annotations

import json
import logging
import re
import select
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

import bot.store.pg_schema as pg_schema
from bot.errors import (
    NOT_SAVED,
    UNREACHABLE,
    UNSURE,
    ConnectionLostError,
    InvalidInputError,
    LedgerBusyError,
    LedgerError,
    LedgerUnavailableError,
)
from bot.store.base import Change, ChangeCallback, is_postgres_url, process_origin
from bot.store.core import (
    Dialect,
    LedgerCore,
)
from bot.store.pg_compat import CompatConnection
from bot.store.pg_search import PostgresSearch
from bot.store.pg_vectors import PostgresVectors
from bot.store.sqlite import DEFAULT_SCOPE

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_SCOPE", "NOT_SAVED", "UNREACHABLE", "UNSURE", "PostgresLedger", "is_postgres_url"]

BUSY_TIMEOUT = 60.0  # seconds a write waits for another writer, as on SQLite
# Seconds a statement waits for a pooled connection: while the server answers there is always one at once (the
# pool has a connection for each of the bot's threads) unless it must connect anew; once a wait has failed, the
# others fail fast until a connection is had again, so a bot answers "try again" well within Discord's 3 seconds
# instead of queueing behind waits. The pool reconnects by itself, in the background.
CONNECTION_WAIT = 2.0
CONNECTION_WAIT_UNREACHABLE = 0.2
OUTCOME_WAIT = 10.0  # seconds to reach the server again to learn whether a commit cut short happened
OUTCOME_POLL = 0.25
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_ORIGIN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LISTEN_POLL = 0.5  # seconds the listener waits for notices before looking whether it should stop
LISTEN_RETRY = 2.0  # seconds between attempts to reconnect a lost listener
LISTEN_START_TIMEOUT = 30.0
ANALYZE_AFTER = 1000  # claims written by one bulk write (and a tenth of the table) before its statistics are taken


def check_connection(conn: psycopg.Connection) -> None:
    """The pool's check of a connection before handing it out, without a round trip when nothing is wrong.

    An idle connection has nothing to read: when the server ends it (a restart, ``pg_terminate_backend``), its
    last message or the end of the stream is waiting on the socket. Only then is the connection asked a question
    (psycopg_pool's check, which raises for a dead connection, so the pool replaces it). A connection lost
    without a word (the network) is found by the statement itself: a read is retried once on a fresh connection
    (:class:`ConnectionLostError`), anything else is reported as "try again"."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    try:
        waiting, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        waiting = [True]
    if waiting:
        ConnectionPool.check_connection(conn)


class PoolCheck:
    """The pool's check of a connection it hands out (:func:`check_connection`). When that finds one the server
    ended, every idle connection of the pool is checked at once (a restart ends them all): psycopg_pool would
    otherwise take the dead ones one by one, waiting a growing delay (1 s, then 2 s) after each, and a question
    would wait out its whole connection wait for a connection that a fresh connect gives in milliseconds."""

    def __init__(self) -> None:
        self.pool: ConnectionPool | None = None
        self._sweeping = threading.Lock()

    def __call__(self, conn: psycopg.Connection) -> None:
        try:
            check_connection(conn)
        except Exception:
            self.sweep()
            raise

    def sweep(self) -> None:
        """Check every idle connection now (one round trip each): the dead are replaced, the live go back."""
        if self.pool is not None and self._sweeping.acquire(blocking=False):
            try:
                self.pool.check()
            finally:
                self._sweeping.release()


def split_url(url: str) -> tuple[str, str | None]:
    """The libpq URL without our own ``schema=`` query parameter, and that schema (None: ``public``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


@lru_cache(maxsize=1024)
def _placeholders(statement: str) -> str:
    """``?`` → ``%s``. The core's statements hold no other ``?`` (no jsonb ``?`` operator) and no ``%``."""
    if "%" in statement:
        raise NotImplementedError(f"A '%' in a core statement needs escaping for psycopg: {statement}")
    return statement.replace("?", "%s")


def unreachable(error: psycopg.OperationalError) -> bool:
    """Whether ``error`` means the server cannot be reached: no connection came from the pool, a connection broke
    (no SQLSTATE: psycopg's own), or the server refused or ended it (class 08, shutting down, starting up)."""
    if isinstance(error, PoolTimeout):
        return True
    state = error.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


class PostgresDialect(Dialect):
    """``%s`` placeholders, ``= ANY(array)`` for lists, ``jsonb`` lists and ``json`` revision bodies (decoded by
    psycopg); ``claim_sources`` carries the claim's scope."""

    claim_sources_scoped = True

    def sql(self, statement: str) -> str:
        return _placeholders(statement)

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def json_list_has(self, column: str) -> str:
        return f"{column} @> jsonb_build_array(?::text)"

    def load_json(self, value: Any) -> Any:
        return value

    def nocase(self, expr: str) -> str:
        return f"lower({expr})"

    def equals_nocase(self, expr: str) -> str:
        return f'lower({expr}) = lower(? COLLATE "C")'

    def desc_nulls_last(self, expr: str) -> str:
        return f"{expr} DESC NULLS LAST"

    def json_differs(self, left: str, right: str, key: str) -> str:
        return f"({left} -> '{key}')::jsonb IS DISTINCT FROM ({right} -> '{key}')::jsonb"

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))}) ON CONFLICT DO NOTHING"
        )


class PostgresLedger(LedgerCore):
    """The store API on PostgreSQL. Construct with :meth:`open` (a ``postgresql://`` URL)."""

    _dialect = PostgresDialect()

    def __init__(
        self, pool: ConnectionPool, schema: str, origin: str | None = None, *, check: PoolCheck | None = None
    ) -> None:
        self.pool = pool
        self._check = check or PoolCheck()
        self._check.pool = pool
        self.schema = schema
        self.origin = origin or process_origin()
        self._local = threading.local()
        self._reachable = True  # the last wait for a pooled connection got one
        self._lock_key = zlib.crc32(b"claimledger-write:" + schema.encode())
        with self.pool.connection() as conn:
            self.features = pg_schema.detect_features(conn)
            pg_schema.apply(conn, self.features)
            pg_schema.vector_path(conn, self.features)
        self.search = PostgresSearch(self)
        self.vectors = PostgresVectors(self)
        self.conn = CompatConnection(self)  # what bot.store.bulk (imports) talks to

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 8,
        create_schema: bool = True,
        origin: str | None = None,
    ) -> PostgresLedger:
        """Open (and migrate) the ledger at ``url``; ``schema`` (or ``?schema=`` in the URL) keeps it apart from
        other ledgers in the same database (default ``public``). ``origin`` names the writer in change notices
        (default: this process, shared by all its ledgers)."""
        conninfo, url_schema = split_url(url)
        schema = schema or url_schema or "public"
        if not _SCHEMA_NAME.match(schema):
            raise InvalidInputError(f"'{schema}' is not a usable PostgreSQL schema name.", "schema")
        origin = origin or process_origin()
        if not _ORIGIN.match(origin):
            raise InvalidInputError(f"'{origin}' is not a usable origin (letters, digits, '.', '_', '-').", "origin")
        search_path = "public" if schema == "public" else f"{schema},public"
        if create_schema and schema != "public":
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            except psycopg.errors.UniqueViolation:
                pass  # another process made it at the same moment
            except psycopg.OperationalError as error:
                raise LedgerError(f"Cannot reach the PostgreSQL ledger: {error}".strip()) from None
        check = PoolCheck()
        pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={
                "autocommit": True,
                "options": f"-c search_path={search_path} -c TimeZone=UTC -c claimledger.origin={origin}",
                "connect_timeout": 10,
                "application_name": f"claimledger:{schema}"[:63],
            },
            check=check,  # a restarted server: stale connections are replaced
            name=f"claimledger-{uuid.uuid4().hex[:8]}",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=30)
        except Exception as error:
            pool.close()
            raise LedgerError(f"Cannot reach the PostgreSQL ledger: {error}".strip()) from None
        try:
            return cls(pool, schema, origin, check=check)
        except BaseException:
            pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    def listen(self, callback: ChangeCallback) -> PostgresChangeFeed:
        """Call ``callback`` (on a thread of the feed's own) with each change committed to this ledger from now on,
        by any process (``Change.own`` tells this process's own). Returns once listening; close the feed to stop.
        A lost connection is reopened, and then a change of unknown scope says that some may have been missed."""
        conninfo = self.pool.conninfo
        assert isinstance(conninfo, str)  # as open() gave it
        return PostgresChangeFeed(conninfo, self.schema, self.origin, callback).start()

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- connections

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """The calling thread's transaction connection, or a pooled one in autocommit. A server that cannot be
        reached raises :class:`LedgerUnavailableError` (in a transaction: nothing of it is saved)."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            try:
                yield held
            except psycopg.OperationalError as error:
                if unreachable(error):  # the transaction is lost with its connection
                    raise LedgerUnavailableError(NOT_SAVED) from error
                raise
            return
        pooled: psycopg.Connection | None = None
        try:
            with self._pooled() as pooled:
                yield pooled
        except psycopg.OperationalError as error:
            if pooled is not None and pooled.broken:  # found dead by its statement: a read may run again
                self._check.sweep()  # the server ended its siblings too: find them before the read runs again
                raise ConnectionLostError(UNREACHABLE) from error
            if unreachable(error):
                raise LedgerUnavailableError(UNREACHABLE) from error
            raise

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection]:
        """A connection of the pool, waited for :data:`CONNECTION_WAIT` seconds (less while the server is known to
        be unreachable); ``PoolTimeout`` (an ``OperationalError``) when none came."""
        wait = CONNECTION_WAIT if self._reachable else CONNECTION_WAIT_UNREACHABLE
        try:
            with self.pool.connection(timeout=wait) as conn:
                self._reachable = True
                yield conn
        except psycopg.OperationalError as error:
            if unreachable(error):
                self._reachable = False
            raise

    @contextmanager
    def transaction(self) -> Iterator[PostgresLedger]:
        """All writes inside succeed together or not at all (nests with savepoints).

        The outermost transaction takes the ledger's write lock: a second writer waits its turn (60 s at most,
        then :class:`LedgerBusyError`), as on SQLite.

        A server that cannot be reached raises :class:`LedgerUnavailableError`, and nothing of the transaction is
        saved, but for one case that is told apart: the connection breaking while committing. Then the server is
        asked (for :data:`OUTCOME_WAIT` seconds, on a new connection) whether the transaction committed: if it did,
        the transaction ends normally, as it would have; if it did not, nothing was saved; if the server cannot be
        asked, the error says that whether it was saved is not known (``unsure``)."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            with held.transaction():
                yield self
            return
        xid: int | None = None
        committing = False
        try:
            with self._pooled() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        xid = self._begin(conn)
                        yield self
                        committing = True
                finally:
                    self._local.conn = None
        except psycopg.OperationalError as error:
            if not unreachable(error):
                raise
            if not committing:
                raise LedgerUnavailableError(NOT_SAVED) from error
            outcome = self._outcome(xid)
            log.warning("The connection broke while transaction %s committed; it %s", xid, outcome or "is unknown")
            if outcome == "committed":
                return
            if outcome == "aborted":
                raise LedgerUnavailableError(NOT_SAVED) from error
            raise LedgerUnavailableError(UNSURE, unsure=True) from error

    def _begin(self, conn: psycopg.Connection) -> int:
        """Take the write lock (waiting :data:`BUSY_TIMEOUT` at most); the transaction's id."""
        try:
            conn.execute(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT * 1000)}ms'")
            row = conn.execute("SELECT txid_current(), pg_advisory_xact_lock(%s)", [self._lock_key]).fetchone()
            conn.execute("SET LOCAL lock_timeout = 0")
        except psycopg.errors.LockNotAvailable as error:
            raise LedgerBusyError(
                "The ledger is busy with another long write (an import?); try again in a minute."
            ) from error
        assert row is not None
        return int(row[0])

    def _outcome(self, xid: int | None) -> str | None:
        """Whether transaction ``xid`` ``committed``, ``aborted`` (or is still ``in progress``), asked on a new
        connection for up to :data:`OUTCOME_WAIT` seconds; None when the server could not be asked."""
        if xid is None:
            return None
        conninfo = self.pool.conninfo
        assert isinstance(conninfo, str)  # as open() gave it
        deadline = time.monotonic() + OUTCOME_WAIT
        while True:
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=2) as conn:
                    row = conn.execute("SELECT txid_status(%s)", [xid]).fetchone()
                    return str(row[0]) if row and row[0] is not None else None
            except psycopg.OperationalError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(OUTCOME_POLL)

    def refresh_statistics(self, written: int) -> None:
        """After a bulk write of ``written`` claims (an import, inside its transaction): when that is many, and a
        tenth of the claims or more, the planner's statistics of the tables a question reads are taken again now
        (``ANALYZE``, which counts the transaction's own rows), not when autovacuum next comes by: without them a
        search right after an import plans for an empty table (measured at 100k claims: a question's search
        query 3.8 times slower)."""
        if written < ANALYZE_AFTER:
            return
        with self.connection() as conn:
            row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'claims'::regclass").fetchone()
            known = float(row[0]) if row else -1.0
            if known < 0 or written >= 0.1 * known:
                conn.execute("ANALYZE claims, claims_fts, claims_df")

    def _execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        """Run one statement (inside the thread's transaction, if any); the cursor is already fully read."""
        with self.connection() as conn:
            try:
                return conn.execute(query.encode() if not params else query, params or None)
            except UnicodeEncodeError:
                raise InvalidInputError("The text holds characters that are not valid Unicode.") from None
            except psycopg.DataError as error:
                if "0x00" in str(error):
                    raise InvalidInputError("The text holds a NUL character.") from None
                raise

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return self._rows_once(query, params)
        except ConnectionLostError:
            if self.in_transaction or not query.lstrip()[:6].upper() == "SELECT":
                raise
            log.info("A pooled connection to the ledger was dead; reading again on a fresh one")
            return self._rows_once(query, params)

    def _rows_once(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.connection() as conn:
            try:
                cursor = conn.execute(query, params or None)
            except UnicodeEncodeError:  # a lone surrogate (e.g. "\ud800" in imported JSON) in a lookup key
                raise InvalidInputError("The text holds characters that are not valid Unicode.") from None
            except psycopg.DataError as error:
                if "0x00" in str(error):
                    raise InvalidInputError("The text holds a NUL character.") from None
                raise
            if cursor.description is None:
                return []
            keys = [d.name for d in cursor.description]
            return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def _insert(self, query: str, params: Sequence[Any]) -> int:
        rows = self._rows(query + " RETURNING id", params)
        return int(rows[0]["id"])


class PostgresChangeFeed:
    """LISTEN on a connection of its own (not the pool's), in a daemon thread; see :meth:`PostgresLedger.listen`."""

    def __init__(self, conninfo: str, schema: str, origin: str, callback: ChangeCallback) -> None:
        self.schema = schema
        self.origin = origin
        self.callback = callback
        self._connect: Callable[[], psycopg.Connection] = lambda: psycopg.connect(
            conninfo,
            autocommit=True,
            connect_timeout=10,
            application_name=f"claimledger-listen:{schema}"[:63],
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"ledger-listen-{schema}", daemon=True)

    def start(self) -> PostgresChangeFeed:
        self._thread.start()
        if not self._ready.wait(LISTEN_START_TIMEOUT) or self._failure is not None:
            self.close()
            raise LedgerError(f"Cannot follow the PostgreSQL ledger's changes: {self._failure or 'no answer'}")
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(LISTEN_POLL * 4 + 1)

    @property
    def listening(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        started = False
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {pg_schema.CHANGES_CHANNEL}")
                    if started:  # notices sent while we were away are lost: say that anything may have changed
                        log.info("Following the ledger's changes again (schema %s)", self.schema)
                        self._tell(Change(scope=None, incidents=None, own=False))
                    started = True
                    self._ready.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=LISTEN_POLL):
                            self._notice(notice.payload)
                            if self._stop.is_set():
                                break
            except psycopg.Error as error:
                if not started:
                    self._failure = error
                    self._ready.set()
                    return
                if not self._stop.is_set():
                    log.warning("Lost the ledger's change notices (%s); reconnecting", str(error).strip() or error)
                    self._stop.wait(LISTEN_RETRY)

    def _notice(self, payload: str) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            log.debug("ignoring a change notice that is not JSON: %r", payload[:200])
            return
        if not isinstance(data, dict) or data.get("schema") != self.schema:
            return  # another ledger in the same database
        scope = data.get("scope")
        incidents = data.get("incidents")
        self._tell(
            Change(
                scope=str(scope) if scope is not None else None,
                incidents=tuple(int(i) for i in incidents) if isinstance(incidents, list) else None,
                own=data.get("origin") == self.origin,
            )
        )

    def _tell(self, change: Change) -> None:
        try:
            self.callback(change)
        except Exception:
            log.exception("A ledger change listener failed on %s", change)
