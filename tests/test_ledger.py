"""The store: migrations, scopes, FTS triggers, revisions, typed errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.errors import InvalidInputError, NotFoundError
from bot.models import EvidenceStatus, SpeakerKind
from bot.store import Ledger
from bot.store.schema import migrations

A, B = "111", "222"


def fts_ids(ledger: Ledger, query: str) -> list[int]:
    return [
        r["rowid"]
        for r in ledger._rows("SELECT rowid FROM claims_fts WHERE claims_fts MATCH ? ORDER BY rowid", [query])
    ]


def make_basic(ledger: Ledger, scope: str = A) -> int:
    ledger.create_incident(
        scope,
        title="Crocus City Hall attack",
        slug="crocus",
        date="2024-03-22",
        aliases=["Moscow concert hall attack"],
        actor="mod",
    )
    ledger.create_speaker(
        scope,
        name="Dmitry Medvedev",
        role="Former President of Russia",
        kind="person",
        aliases=["Medvedev"],
        actor="mod",
    )
    claim = ledger.add_claim(
        scope,
        text="Medvedev threatened the Kyiv leadership.",
        speaker="medvedev",
        incident="crocus",
        said_at="March 2024",
        evidence_status="not presented",
        sources=[{"title": "Article", "url": "https://example.org/a"}],
        actor="mod",
    )
    return claim.id


def test_file_ledger_uses_wal_foreign_keys_and_all_migrations(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        assert ledger.db.journal_mode == "wal"
        assert ledger._rows("PRAGMA foreign_keys")[0]["foreign_keys"] == 1
        applied = [m.name for m in migrations.applied(ledger.db)]
        assert applied == [m.name for m in migrations._migrations]
    # Re-opening applies nothing twice.
    with Ledger.open(db_path) as ledger:
        assert len(migrations.applied(ledger.db)) == len(migrations._migrations)
        assert migrations.pending(ledger.db) == []


def test_add_claim_returns_typed_object(ledger: Ledger) -> None:
    claim = ledger.get_claim(A, make_basic(ledger))
    assert claim.speaker is not None and claim.speaker.name == "Dmitry Medvedev"
    assert claim.speaker.kind is SpeakerKind.PERSON
    assert claim.incident is not None and claim.incident.slug == "crocus"
    assert claim.said_at == "2024-03"
    assert claim.evidence.status is EvidenceStatus.NOT_PRESENTED
    assert [s.url for s in claim.sources] == ["https://example.org/a"]


def test_scopes_never_mix(ledger: Ledger) -> None:
    claim_id = make_basic(ledger, A)
    with pytest.raises(NotFoundError):
        ledger.get_claim(B, claim_id)
    with pytest.raises(NotFoundError):
        ledger.get_speaker(B, "Medvedev")
    with pytest.raises(NotFoundError):
        ledger.update_claim(B, claim_id, text="hijack", actor="x")
    with pytest.raises(NotFoundError):
        ledger.remove_claim(B, claim_id, reason="x", actor="x")
    assert ledger.list_claims(B) == []
    assert ledger.history(B, "claim", claim_id) == []
    # The same names can exist independently in another scope.
    other = make_basic(ledger, B)
    assert other != claim_id
    assert ledger.get_claim(A, claim_id).text == "Medvedev threatened the Kyiv leadership."


def test_fts_follows_insert_update_delete(ledger: Ledger) -> None:
    claim_id = make_basic(ledger)
    assert fts_ids(ledger, "kyiv") == [claim_id]
    assert fts_ids(ledger, "medvedev") == [claim_id]  # speaker name and alias
    assert fts_ids(ledger, "concert") == [claim_id]  # incident alias
    assert fts_ids(ledger, "article") == [claim_id]  # source title
    ledger.update_claim(A, claim_id, text="A different statement about Kiev.", actor="mod")
    assert fts_ids(ledger, "kyiv") == []
    assert fts_ids(ledger, "kiev") == [claim_id]
    ledger.update_speaker(A, "Medvedev", aliases=["Medvedev", "Medvedv"], actor="mod")
    assert fts_ids(ledger, "medvedv") == [claim_id]
    ledger.update_incident(A, "crocus", title="Krasnogorsk attack", actor="mod")
    assert fts_ids(ledger, "krasnogorsk") == [claim_id]
    ledger.db.execute("DELETE FROM claims WHERE id = ?", [claim_id])
    assert fts_ids(ledger, "kiev") == []


def test_every_write_leaves_a_revision(ledger: Ledger) -> None:
    claim_id = make_basic(ledger)
    ledger.update_claim(A, claim_id, said_where="Written statement", actor="alice")
    ledger.set_evidence(A, claim_id, status="disputed", details="Contested", actor="bob")
    ledger.remove_claim(A, claim_id, reason="duplicate", actor="carol")
    ledger.restore_claim(A, claim_id, actor="dave")
    history = ledger.history(A, "claim", claim_id)
    assert [(r.action, r.actor) for r in history] == [
        ("create", "mod"),
        ("update", "alice"),
        ("update", "bob"),
        ("remove", "carol"),
        ("restore", "dave"),
    ]
    assert history[1].old["said_where"] is None and history[1].new["said_where"] == "Written statement"
    assert history[2].new["evidence"] == {"status": "disputed", "details": "Contested", "links": []}
    assert ledger.history(A, "speaker", ledger.get_speaker(A, "Medvedev").id)[0].action == "create"
    assert ledger.history(A, "incident", ledger.get_incident(A, "crocus").id)[0].action == "create"


def test_unchanged_update_writes_no_revision(ledger: Ledger) -> None:
    claim_id = make_basic(ledger)
    ledger.update_claim(A, claim_id, text="Medvedev threatened the Kyiv leadership.", actor="x")
    assert len(ledger.history(A, "claim", claim_id)) == 1


def test_remove_hides_restore_shows_undo_reverts(ledger: Ledger) -> None:
    claim_id = make_basic(ledger)
    ledger.remove_claim(A, claim_id, reason="off-topic", actor="mod")
    assert ledger.list_claims(A) == []
    assert ledger.get_claims(A, [claim_id]) == []
    assert ledger.get_claim(A, claim_id).removed_reason == "off-topic"
    ledger.undo_claim(A, claim_id, actor="mod")
    assert not ledger.get_claim(A, claim_id).removed
    ledger.update_claim(A, claim_id, text="Edited text", actor="mod")
    assert ledger.undo_claim(A, claim_id, actor="mod").text == "Medvedev threatened the Kyiv leadership."
    assert ledger.history(A, "claim", claim_id)[-1].action == "undo"


def test_typed_errors_have_user_messages(ledger: Ledger) -> None:
    make_basic(ledger)
    with pytest.raises(NotFoundError, match=r"No claim #999"):
        ledger.get_claim(A, 999)
    with pytest.raises(NotFoundError) as err:
        ledger.get_speaker(A, "Medvedv")
    assert err.value.suggestions == ["Dmitry Medvedev"]
    with pytest.raises(InvalidInputError, match="limit is 1500"):
        ledger.add_claim(A, text="x" * 1501, actor="mod")
    with pytest.raises(InvalidInputError, match="http"):
        ledger.add_claim(A, text="ok", sources=[{"title": "t", "url": "javascript:alert(1)"}], actor="mod")
    with pytest.raises(InvalidInputError, match="evidence status"):
        ledger.add_claim(A, text="ok", evidence_status="true", actor="mod")
    with pytest.raises(InvalidInputError, match="Could not read the date"):
        ledger.add_claim(A, text="ok", said_at="last Tuesday", actor="mod")
    with pytest.raises(InvalidInputError, match="already exists"):
        ledger.create_speaker(A, name="dmitry medvedev", actor="mod")
    # A failed write leaves nothing behind.
    assert ledger.count_claims(A) == 1


def test_merge_speakers_moves_claims_and_keeps_alias(ledger: Ledger) -> None:
    claim_id = make_basic(ledger)
    ledger.create_speaker(A, name="D. Medvedev", actor="mod")
    other = ledger.add_claim(A, text="Another statement", speaker="D. Medvedev", actor="mod")
    merged = ledger.merge_speakers(A, "D. Medvedev", "Dmitry Medvedev", actor="mod")
    assert "D. Medvedev" in merged.aliases
    assert ledger.get_claim(A, other.id).speaker.name == "Dmitry Medvedev"
    assert ledger.get_claim(A, claim_id).speaker.name == "Dmitry Medvedev"
    assert ledger.find_speaker(A, "D. Medvedev").name == "Dmitry Medvedev"


def test_foreign_keys_enforced(ledger: Ledger) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        ledger.db.execute(
            "INSERT INTO claims (scope, text, speaker_id, created_at, updated_at) VALUES ('1', 't', 999, '', '')"
        )


def test_control_characters_stripped_and_mentions_kept_as_text(ledger: Ledger) -> None:
    claim = ledger.add_claim(A, text="Hello\x00 @everyone <@&123>\u200b", actor="mod")
    assert claim.text == "Hello @everyone <@&123>"
