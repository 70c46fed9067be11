"""The run's summary counts PostgreSQL tests the same way whether they are skipped, fail or run (tests/backends.py).

Every test that asks for PostgreSQL counts, also one whose name does not say "postgres"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.paths import REPO_ROOT

# A subprocess, not pytest's pytester fixture: pytester restores sys.modules after a test, and a psycopg imported
# afresh afterwards no longer matches the exception classes its compiled half raises.
pytest_plugins = ["tests.backends"]

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/test"

MODULE = """
from typing import Any

pytest_plugins = ["tests.backends"]


def test_both_backends(store: Any) -> None:  # [sqlite] and [postgresql]: one PostgreSQL test
    assert store.count_claims("a") == 0


def test_only_postgresql(pg_store: Any) -> None:
    assert pg_store.count_claims("a") == 0


def test_a_name_without_the_word(bk: Any) -> None:
    assert bk is not None
    bk.need_postgres()
    with bk.postgres_ledger() as ledger:
        assert ledger.is_empty("a")


def test_sqlite_only() -> None:
    assert True
"""


def summary(folder: Path, url: str, require: bool) -> tuple[str, str]:
    """Run MODULE in a pytest of its own: the summary's PostgreSQL line and the outcome line."""
    (folder / "test_three.py").write_text(MODULE, encoding="utf-8")
    env = os.environ | {
        "PYTHONPATH": str(REPO_ROOT),
        "CLAIMLEDGER_TEST_PG_URL": url,
        "CLAIMLEDGER_REQUIRE_POSTGRES": "1" if require else "0",
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(folder),
        "test_three.py",
    ]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    text = result.stdout
    line = next((x for x in text.splitlines() if "PostgreSQL tests" in x), "")
    outcome = text.strip().splitlines()[-1]
    return line, outcome


def test_without_a_server_every_postgresql_test_is_counted_as_skipped(
    tmp_path: Path,
) -> None:
    line, outcome = summary(tmp_path, UNREACHABLE, require=False)
    assert line.startswith("3 PostgreSQL tests skipped: no PostgreSQL server reachable"), line
    assert re.search(r"\b2 passed, 3 skipped\b", outcome), outcome


def test_when_postgresql_is_required_every_postgresql_test_is_counted_as_failed(
    tmp_path: Path,
) -> None:
    line, outcome = summary(tmp_path, UNREACHABLE, require=True)
    assert line.startswith("3 PostgreSQL tests failed (CLAIMLEDGER_REQUIRE_POSTGRES=1)"), line
    assert "2 passed" in outcome and " skipped" not in outcome, outcome


def test_with_a_server_as_many_postgresql_tests_run(tmp_path: Path, bk: Any) -> None:
    bk.need_postgres()  # itself a PostgreSQL test: skipped, and counted, without a server
    line, outcome = summary(tmp_path, bk.PG_URL, require=False)
    assert line == f"3 PostgreSQL tests ran against {bk.PG_URL}.", line
    assert re.search(r"\b5 passed\b", outcome), outcome
