"""``claimledger migrate``: a whole ledger, with its history, between SQLite and PostgreSQL, counts checked.

The PostgreSQL tests use tests/backends.py: each gets a schema of its own and they skip without a server.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main
from bot.formats import export_text
from bot.seed import seed_scope
from bot.store import DEFAULT_SCOPE, Ledger, open_store
from bot.store.migrate import count_rows, same_location, scope_counts
from tests.paths import REPO_ROOT

pytest_plugins = ["tests.backends"]

A = "111"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/test"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def make_ledger(path: Path) -> None:
    """The bundled incidents, a second server with edits, a removed claim, settings, a pin and a vector."""
    with Ledger.open(path) as ledger:
        seed_scope(ledger, DEFAULT_SCOPE, REPO_ROOT / "data")
        ledger.create_incident(A, title="Kakhovka dam", slug="kakhovka", date="2023-06-06", actor="mod")
        ledger.create_speaker(A, name="Ukrainian Navy", role="Spokesperson", kind="agency", actor="mod")
        claim = ledger.add_claim(
            A,
            text="The dam was blown up from inside.",
            speaker="Ukrainian Navy",
            incident="kakhovka",
            said_at="2023-06-06",
            sources=[{"title": "Briefing", "url": "https://example.org/b"}],
            actor="mod",
        )
        ledger.update_claim(A, claim.id, text="The dam was blown «from inside».", actor="ü-mod")
        ledger.remove_claim(DEFAULT_SCOPE, "crocus-2024-003", reason="duplicate", actor="mod")
        ledger.set_setting(A, "audit_channel", "42", actor="mod")
        ledger.add_pinned_summary(A, "kakhovka", 10, 20)
        ledger.vectors.put(A, "test-model", [(claim.id, np.ones(4, dtype=np.float32))])


def history(ledger: Any) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.scope, r.entity, r.entity_id, r.action, r.actor, r.at, r.old, r.new)
        for scope in sorted(ledger.scopes())
        for r in ledger.revisions_after(scope, 0, limit=100_000)
    ]


def exports(ledger: Any) -> dict[tuple[str, str], str]:
    return {(scope, fmt): export_text(ledger, scope, fmt) for scope in (DEFAULT_SCOPE, A) for fmt in ("native", "csv")}


def printed_counts(out: str) -> dict[str, dict[str, int]]:
    """The per-server lines the command printed: server → {claims, revisions, speakers, incidents}."""
    rows = re.findall(r"^  (\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", out, flags=re.MULTILINE)
    kinds = ("claims", "revisions", "speakers", "incidents")
    return {row[0]: dict(zip(kinds, map(int, row[1:]), strict=True)) for row in rows if row[0] != "total"}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.db"
    make_ledger(path)
    return path


@pytest.fixture
def pg_url(bk: Any) -> Iterator[str]:
    bk.need_postgres()
    schema = bk.new_schema()
    try:
        yield f"{bk.PG_URL}?schema={schema}"
    finally:
        bk.drop_schema(schema)


# ------------------------------------------------------------------------------------------ round trips


def test_sqlite_to_postgresql_to_a_new_sqlite_file_keeps_everything(
    source: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    back = tmp_path / "back.db"
    code, out = run("migrate", "--from", str(source), "--to", pg_url)
    assert code == 0, capsys.readouterr().err
    assert "Migrating" in capsys.readouterr().err  # the progress bar
    with Ledger.open(source) as original:
        expected = scope_counts(original)
        assert printed_counts(out) == expected
        assert expected[A] == {
            "claims": 1,
            "revisions": 5,
            "speakers": 1,
            "incidents": 1,
        }  # the setting is a revision too

        code, out = run("migrate", "--from", pg_url, "--to", str(back))
        assert code == 0, capsys.readouterr().err
        assert printed_counts(out) == expected
        with Ledger.open(back) as copy:
            assert count_rows(copy) == count_rows(original)
            assert scope_counts(copy) == expected
            assert exports(copy) == exports(original)
            assert history(copy) == history(original)
            assert copy.get_setting(A, "audit_channel") == "42"
            assert copy.pinned_summaries(A) == original.pinned_summaries(A)
            assert copy.vectors.load(A, "test-model", 4).claim_ids.tolist() == [copy.list_claims(A)[0].id]
            assert [c.ref for c in copy.list_claims(DEFAULT_SCOPE, include_removed=True) if c.removed_reason] == [
                "crocus-2024-003"
            ]
    # the exports the command line writes are the same too
    assert run("export", "--db", str(back)) == run("export", "--db", str(source))
    assert run("export", "--db", pg_url) == run("export", "--db", str(source))


def test_a_postgresql_target_that_holds_a_ledger_is_refused_then_replaced_with_force(
    source: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    with Ledger.open(other) as ledger:
        ledger.add_claim(A, text="Only in the other ledger.", actor="t")
    assert run("migrate", "--from", str(other), "--to", pg_url)[0] == 0
    capsys.readouterr()
    code, _ = run("migrate", "--from", str(source), "--to", pg_url)
    err = capsys.readouterr().err
    assert code == 1
    assert "is not empty (1 claims" in err and "--force" in err
    with open_store(pg_url) as pg:
        assert [c.text for c in pg.list_claims(A)] == ["Only in the other ledger."]  # untouched
        assert pg.is_empty(DEFAULT_SCOPE)
    code, out = run("migrate", "--from", str(source), "--to", pg_url, "--force")
    assert code == 0
    assert "Replaced what the target held" in out
    with open_store(pg_url) as pg, Ledger.open(source) as original:
        assert exports(pg) == exports(original) and history(pg) == history(original)
        assert "Only in the other ledger." not in [c.text for c in pg.list_claims(A, include_removed=True)]


def test_the_same_postgresql_ledger_under_two_spellings_is_refused(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spelled = pg_url.replace("127.0.0.1:5432", "localhost", 1)
    assert same_location(pg_url, spelled)
    assert not same_location(pg_url, pg_url.replace("?schema=", "?schema=x"))
    assert run("migrate", "--from", pg_url, "--to", spelled)[0] == 1
    assert "the same ledger" in capsys.readouterr().err


# --------------------------------------------------------------------------- SQLite to SQLite (no server)


def test_sqlite_to_sqlite_copies_and_counts(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    code, out = run("migrate", "--from", f"sqlite:///{source}", "--to", str(target))
    assert code == 0
    with Ledger.open(source) as original, Ledger.open(target) as copy:
        assert printed_counts(out) == scope_counts(copy) == scope_counts(original)
        assert exports(copy) == exports(original) and history(copy) == history(original)
        # the copy goes on numbering after the ids it was given
        claim = copy.add_claim(A, text="Written after the move.", actor="t")
        assert claim.id == count_rows(original)["claims"] + 1


def test_a_target_that_is_not_empty_is_refused_in_one_sentence_and_force_replaces_it(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "busy.db"
    with Ledger.open(target) as ledger:
        ledger.add_claim(A, text="Already here.", actor="t")
        before = exports(ledger)
    code, out = run("migrate", "--from", str(source), "--to", str(target))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and out == ""
    assert err[-1].startswith("claimledger migrate: The target") and err[-1].count(". ") == 0
    assert "--force" in err[-1]
    with Ledger.open(target) as ledger:
        assert exports(ledger) == before
    code, out = run("migrate", "--from", str(source), "--to", str(target), "--force")
    assert code == 0 and "Replaced what the target held" in out
    with Ledger.open(source) as original, Ledger.open(target) as copy:
        assert exports(copy) == exports(original) and count_rows(copy) == count_rows(original)
        assert all(c.text != "Already here." for c in copy.list_claims(A, include_removed=True))


# ----------------------------------------------------------------------------------------- bad input


def test_a_missing_source_is_refused_and_nothing_is_created(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _ = run("migrate", "--from", str(tmp_path / "nope.db"), "--to", str(tmp_path / "new.db"))
    assert code == 1
    assert "nope.db does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "new.db").exists()


def test_an_empty_or_broken_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with Ledger.open(tmp_path / "empty.db"):
        pass
    assert run("migrate", "--from", str(tmp_path / "empty.db"), "--to", str(tmp_path / "new.db"))[0] == 1
    assert "is empty; there is nothing to migrate" in capsys.readouterr().err
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    assert run("migrate", "--from", str(tmp_path / "text.db"), "--to", str(tmp_path / "new.db"))[0] == 1
    assert "is not a Claim Ledger database" in capsys.readouterr().err
    assert not (tmp_path / "new.db").exists()


def test_the_same_file_is_refused(source: Path, capsys: pytest.CaptureFixture) -> None:
    before = source.read_bytes()
    for target in (str(source), f"sqlite:///{source}"):
        assert run("migrate", "--from", str(source), "--to", target)[0] == 1
        assert "The source and the target are the same ledger" in capsys.readouterr().err
    assert same_location(source, source.parent / "." / source.name)
    assert not same_location(source, source.with_name("other.db"))
    assert source.read_bytes() == before


def test_an_unreachable_server_is_refused_and_no_target_is_left(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run("migrate", "--from", str(source), "--to", UNREACHABLE)[0] == 1
    err = capsys.readouterr().err
    assert "Cannot reach the PostgreSQL server of postgresql://postgres@127.0.0.1:1/test" in err
    assert run("migrate", "--from", UNREACHABLE, "--to", str(tmp_path / "new.db"))[0] == 1
    assert "Cannot reach the PostgreSQL server" in capsys.readouterr().err
    assert not (tmp_path / "new.db").exists()


def test_a_target_under_a_missing_folder_is_refused(source: Path, tmp_path: Path, capsys: Any) -> None:
    assert run("migrate", "--from", str(source), "--to", str(tmp_path / "no" / "where.db"))[0] == 1
    assert "does not exist; create it first" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_a_password_is_never_printed(source: Path, capsys: pytest.CaptureFixture) -> None:
    assert run("migrate", "--from", str(source), "--to", "postgresql://u:s3cret@127.0.0.1:1/db")[0] == 1
    err = capsys.readouterr().err
    assert "s3cret" not in err and "postgresql://u:***@127.0.0.1:1/db" in err
