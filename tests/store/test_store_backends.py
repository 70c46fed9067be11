"""The store's behaviour on both backends (SQLite and PostgreSQL): ledger, integrity, search, vectors, matcher.

Every test taking ``store`` / ``seeded_store`` runs twice (``[sqlite]``, ``[postgresql]``); see tests/backends.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import numpy as np
import pytest

from bot.edits import claim_edit
from bot.errors import InvalidInputError, NotFoundError
from bot.formats import export_text, import_bytes
from bot.matching import Matcher
from bot.models import Claim, EvidenceStatus, Revision, SpeakerKind
from bot.seed import SeedDataError, seed_scope
from bot.store import DEFAULT_SCOPE, Ledger, open_store
from bot.store.base import SearchBackend, Store, VectorBackend, public_methods
from tests.paths import REPO_ROOT

pytest_plugins = ["tests.backends"]

A, B = "111", "222"
S = DEFAULT_SCOPE
SEED_QUESTION = "Who claimed responsibility for the Crocus City Hall attack?"


def make_basic(ledger: Any, scope: str = A) -> int:
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


def found(ledger: Any, scope: str, word: str) -> list[int]:
    return sorted(cid for cid, _ in ledger.search.match(scope, [word]))


def index_rows(ledger: Any, claim_id: int) -> list[int]:
    """The claim's rows in the full-text index table itself (FTS5 on SQLite, tsvectors on PostgreSQL)."""
    if isinstance(ledger, Ledger):
        return [r["rowid"] for r in ledger._rows("SELECT rowid FROM claims_fts WHERE rowid = ?", [claim_id])]
    return [r["claim_id"] for r in ledger._rows("SELECT claim_id FROM claims_fts WHERE claim_id = %s", [claim_id])]


# ------------------------------------------------------------------ the interface


def test_both_ledgers_implement_the_store_interface(store: Any) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.search, SearchBackend)
    assert isinstance(store.vectors, VectorBackend)
    listed = {name for name in dir(Store) if not name.startswith("_")} - {"search", "vectors"}
    assert public_methods(Ledger) <= listed | {"db", "conn"}, "Store lacks a public method of Ledger"
    assert listed <= public_methods(type(store))


def test_open_store_chooses_the_backend_by_url(tmp_path: Any, bk: Any) -> None:
    with open_store(tmp_path / "a.db") as ledger:
        assert isinstance(ledger, Ledger)
    with open_store(f"sqlite:///{tmp_path / 'b.db'}") as ledger:
        assert isinstance(ledger, Ledger)
    assert (tmp_path / "b.db").exists()
    bk.need_postgres()
    from bot.store.postgres import PostgresLedger

    schema = bk.new_schema()
    try:
        with open_store(f"{bk.PG_URL}?schema={schema}") as ledger:
            assert isinstance(ledger, PostgresLedger)
            assert ledger.schema == schema
    finally:
        bk.drop_schema(schema)


# ------------------------------------------------------------------ the ledger


def test_add_claim_returns_typed_object(store: Any) -> None:
    claim = store.get_claim(A, make_basic(store))
    assert isinstance(claim, Claim)
    assert claim.speaker is not None and claim.speaker.name == "Dmitry Medvedev"
    assert claim.speaker.kind is SpeakerKind.PERSON
    assert claim.incident is not None and claim.incident.slug == "crocus"
    assert claim.incident.aliases == ("Moscow concert hall attack",)
    assert claim.said_at == "2024-03"
    assert claim.evidence.status is EvidenceStatus.NOT_PRESENTED
    assert [s.url for s in claim.sources] == ["https://example.org/a"]
    assert isinstance(claim.created_at, str) and claim.created_at == claim.updated_at


def test_scopes_never_mix(store: Any) -> None:
    claim_id = make_basic(store, A)
    with pytest.raises(NotFoundError):
        store.get_claim(B, claim_id)
    with pytest.raises(NotFoundError):
        store.get_speaker(B, "Medvedev")
    with pytest.raises(NotFoundError):
        store.update_claim(B, claim_id, text="hijack", actor="x")
    with pytest.raises(NotFoundError):
        store.remove_claim(B, claim_id, reason="x", actor="x")
    assert store.list_claims(B) == []
    assert store.history(B, "claim", claim_id) == []
    # The same names can exist independently in another scope.
    other = make_basic(store, B)
    assert other != claim_id
    assert store.get_claim(A, claim_id).text == "Medvedev threatened the Kyiv leadership."
    assert found(store, A, "kyiv") == [claim_id] and found(store, B, "kyiv") == [other]
    assert sorted(store.scopes()) == [A, B]


def test_full_text_follows_insert_update_delete(store: Any) -> None:
    claim_id = make_basic(store)
    assert found(store, A, "kyiv") == [claim_id]
    assert found(store, A, "medvedev") == [claim_id]  # speaker name and alias
    assert found(store, A, "concert") == [claim_id]  # incident alias
    assert found(store, A, "article") == [claim_id]  # source title
    assert found(store, A, "threatening") == [claim_id]  # stemmed
    store.update_claim(A, claim_id, text="A different statement about Kiev.", actor="mod")
    assert found(store, A, "kyiv") == []
    assert found(store, A, "kiev") == [claim_id]
    store.update_speaker(A, "Medvedev", aliases=["Medvedev", "Medvedv"], actor="mod")
    assert found(store, A, "medvedv") == [claim_id]
    store.update_incident(A, "crocus", title="Krasnogorsk attack", actor="mod")
    assert found(store, A, "krasnogorsk") == [claim_id]
    store.update_claim(A, claim_id, sources=[{"title": "Wire report"}], actor="mod")
    assert found(store, A, "wire") == [claim_id] and found(store, A, "article") == []
    store.remove_claim(A, claim_id, reason="dup", actor="mod")
    assert found(store, A, "kiev") == []  # removed claims are not answers
    # a claim deleted below the store (no API deletes one) takes its row of the index table with it
    assert index_rows(store, claim_id) == [claim_id]  # a removed claim keeps its row
    if isinstance(store, Ledger):
        store.db.execute("DELETE FROM claims WHERE id = ?", [claim_id])
    else:
        with store.connection() as conn:
            conn.execute("DELETE FROM claims WHERE id = %s", [claim_id])
    assert index_rows(store, claim_id) == []


def test_every_write_leaves_a_revision(store: Any) -> None:
    claim_id = make_basic(store)
    store.update_claim(A, claim_id, said_where="Written statement", actor="alice")
    store.set_evidence(A, claim_id, status="disputed", details="Contested", actor="bob")
    store.remove_claim(A, claim_id, reason="duplicate", actor="carol")
    store.restore_claim(A, claim_id, actor="dave")
    history = store.history(A, "claim", claim_id)
    assert all(isinstance(r, Revision) and isinstance(r.at, str) for r in history)
    assert [(r.action, r.actor) for r in history] == [
        ("create", "mod"),
        ("update", "alice"),
        ("update", "bob"),
        ("remove", "carol"),
        ("restore", "dave"),
    ]
    assert history[1].old["said_where"] is None and history[1].new["said_where"] == "Written statement"
    assert history[2].new["evidence"] == {"status": "disputed", "details": "Contested", "links": []}
    assert list(history[0].new) == list(history[1].new)  # the record's keys keep their order
    assert store.history(A, "speaker", store.get_speaker(A, "Medvedev").id)[0].action == "create"
    assert store.history(A, "incident", store.get_incident(A, "crocus").id)[0].action == "create"
    assert [r.id for r in store.revisions_after(A, history[2].id)] == [history[3].id, history[4].id]
    assert store.last_revision_id(A) == history[-1].id
    assert store.recent_revisions(A, limit=1)[0].action == "restore"
    assert set(store.evidence_change_dates(A)) == {claim_id}


def test_unchanged_update_writes_no_revision(store: Any) -> None:
    claim_id = make_basic(store)
    store.update_claim(A, claim_id, text="Medvedev threatened the Kyiv leadership.", actor="x")
    assert len(store.history(A, "claim", claim_id)) == 1


def test_remove_hides_restore_shows_undo_reverts(store: Any) -> None:
    claim_id = make_basic(store)
    store.remove_claim(A, claim_id, reason="off-topic", actor="mod")
    assert store.list_claims(A) == []
    assert store.get_claims(A, [claim_id]) == []
    assert store.get_claim(A, claim_id).removed_reason == "off-topic"
    assert store.count_claims(A) == 0 and store.count_claims(A, include_removed=True) == 1
    store.undo_claim(A, claim_id, actor="mod")
    assert not store.get_claim(A, claim_id).removed
    store.update_claim(A, claim_id, text="Edited text", actor="mod")
    assert store.undo_claim(A, claim_id, actor="mod").text == "Medvedev threatened the Kyiv leadership."
    assert store.history(A, "claim", claim_id)[-1].action == "undo"


def test_typed_errors_have_user_messages(store: Any) -> None:
    make_basic(store)
    with pytest.raises(NotFoundError, match=r"No claim #999"):
        store.get_claim(A, 999)
    with pytest.raises(NotFoundError) as err:
        store.get_speaker(A, "Medvedv")
    assert err.value.suggestions == ["Dmitry Medvedev"]
    with pytest.raises(InvalidInputError, match="limit is 1500"):
        store.add_claim(A, text="x" * 1501, actor="mod")
    with pytest.raises(InvalidInputError, match="http"):
        store.add_claim(A, text="ok", sources=[{"title": "t", "url": "javascript:alert(1)"}], actor="mod")
    with pytest.raises(InvalidInputError, match="evidence status"):
        store.add_claim(A, text="ok", evidence_status="true", actor="mod")
    with pytest.raises(InvalidInputError, match="Could not read the date"):
        store.add_claim(A, text="ok", said_at="last Tuesday", actor="mod")
    with pytest.raises(InvalidInputError, match="already exists"):
        store.create_speaker(A, name="dmitry medvedev", actor="mod")
    with pytest.raises(InvalidInputError, match="already exists"):
        store.create_incident(A, title="Crocus again", slug="crocus", actor="mod")
    with pytest.raises(NotFoundError):
        store.get_claim(A, "no\x00such")
    with pytest.raises(InvalidInputError, match="not valid Unicode"):
        store.get_claim(A, "bad\ud800ref")
    assert store.count_claims(A) == 1  # a failed write leaves nothing behind


def test_merge_speakers_moves_claims_and_keeps_alias(store: Any) -> None:
    claim_id = make_basic(store)
    store.create_speaker(A, name="D. Medvedev", actor="mod")
    other = store.add_claim(A, text="Another statement", speaker="D. Medvedev", actor="mod")
    merged = store.merge_speakers(A, "D. Medvedev", "Dmitry Medvedev", actor="mod")
    assert "D. Medvedev" in merged.aliases
    assert store.get_claim(A, other.id).speaker.name == "Dmitry Medvedev"
    assert store.get_claim(A, claim_id).speaker.name == "Dmitry Medvedev"
    assert store.find_speaker(A, "D. Medvedev").name == "Dmitry Medvedev"
    assert [s.name for s in store.list_speakers(A)] == ["Dmitry Medvedev"]


def test_speaker_aliases_added_and_removed(store: Any) -> None:
    make_basic(store)
    assert "Dima" in store.add_speaker_alias(A, "Medvedev", "Dima", actor="mod").aliases
    assert store.get_speaker(A, "dima").name == "Dmitry Medvedev"
    assert "Dima" not in store.remove_speaker_alias(A, "Medvedev", "dima", actor="mod").aliases
    with pytest.raises(NotFoundError):
        store.remove_speaker_alias(A, "Medvedev", "nobody", actor="mod")


def test_foreign_keys_enforced(store: Any) -> None:
    if isinstance(store, Ledger):
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute(
                "INSERT INTO claims (scope, text, speaker_id, created_at, updated_at) VALUES ('1', 't', 999, '', '')"
            )
        return
    import psycopg

    with pytest.raises(psycopg.IntegrityError), store.connection() as conn:
        conn.execute(
            "INSERT INTO claims (scope, text, speaker_id, created_at, updated_at) VALUES ('1', 't', 999, now(), now())"
        )


def test_control_characters_stripped_and_mentions_kept_as_text(store: Any) -> None:
    claim = store.add_claim(A, text="Hello\x00 @everyone <@&123>\u200b", actor="mod")
    assert claim.text == "Hello @everyone <@&123>"


def test_settings_markers_and_pinned_summaries(store: Any) -> None:
    make_basic(store)
    assert store.get_setting(A, "audit_channel", "none") == "none"
    store.set_setting(A, "audit_channel", "42", actor="mod")
    store.set_setting(A, "audit_channel", "43", actor="mod")
    assert store.get_setting(A, "audit_channel") == "43"
    assert store.get_setting(B, "audit_channel") is None
    store.set_marker(A, "audit_last", "7")
    assert store.get_setting(A, "audit_last") == "7"
    assert [r.action for r in store.recent_revisions(A, limit=2)] == ["set", "set"]  # the marker left none
    store.set_setting(A, "audit_channel", None, actor="mod")
    assert store.get_setting(A, "audit_channel") is None
    incident = store.get_incident(A, "crocus")
    store.add_pinned_summary(A, "crocus", 10, 20)
    store.add_pinned_summary(A, "crocus", 10, 20)  # the same message twice is tracked once
    store.add_pinned_summary(A, incident.id, 10, 21)
    assert store.pinned_summaries(A) == [(incident.id, 10, 20), (incident.id, 10, 21)]
    assert store.pinned_summaries(A, "crocus") == [(incident.id, 10, 20), (incident.id, 10, 21)]
    assert store.pinned_summaries(B) == []
    assert store.all_pinned_summaries() == [(A, incident.id)]
    assert store.forget_pinned_summary(A, 20) == 1
    assert store.forget_pinned_summary(B, 21) == 0
    assert store.pinned_summaries(A) == [(incident.id, 10, 21)]


def test_find_list_and_count_claims(store: Any) -> None:
    claim_id = make_basic(store)
    store.add_claim(A, text="Unattributed statement.", tags=["threat", "kyiv"], actor="mod")
    store.add_claim(A, text="Attributed statement.", speaker="Medvedev", ref="r-1", actor="mod")
    assert store.find_claim(A, ref="r-1").text == "Attributed statement."
    assert store.find_claim(A, text="Unattributed statement.").tags == ("threat", "kyiv")
    assert store.find_claim(A, text="Medvedev threatened the Kyiv leadership.", speaker="DMITRY MEDVEDEV").id == (
        claim_id
    )
    assert store.find_claim(A, text="nothing") is None and store.find_claim(A) is None
    assert [c.text for c in store.list_claims(A, tag="threat")] == ["Unattributed statement."]
    assert store.list_claims(A, speaker="Medvedev")[0].id == claim_id
    assert len(store.list_claims(A, incident="crocus")) == 1
    assert len(store.list_claims(A, limit=2, offset=1)) == 2
    assert store.count_claims(A) == 3
    assert not store.is_empty(A) and store.is_empty(B)
    incidents = [store.create_incident(A, title=t, date=d, actor="m").slug for t, d in (("Zed", None), ("Ay", "2020"))]
    assert [i.slug for i in store.list_incidents(A)] == ["crocus", incidents[1], incidents[0]]  # dated first


def test_transactions_nest_and_roll_back(store: Any) -> None:
    with store.transaction():
        store.add_claim(A, text="Outer claim.", actor="t")
        with pytest.raises(RuntimeError), store.transaction():
            store.add_claim(A, text="Inner claim.", actor="t")
            raise RuntimeError("inner fails")
        store.add_claim(A, text="Second outer claim.", actor="t")
    assert [c.text for c in store.list_claims(A)] == ["Outer claim.", "Second outer claim."]
    with pytest.raises(RuntimeError), store.transaction():
        store.add_claim(A, text="Doomed claim.", actor="t")
        raise RuntimeError("outer fails")
    assert store.count_claims(A) == 2
    assert len(store.recent_revisions(A, limit=10)) == 2


# -------------------------------------- integrity: an edit keeps what it did not touch, a name means one thing


def _three_sources(ledger: Any) -> int:
    ledger.create_speaker(S, name="Dmitry Medvedev", actor="t")
    claim = ledger.add_claim(
        S,
        text="Medvedev said the attackers must be found.",
        speaker="Dmitry Medvedev",
        sources=[
            {"url": "https://one.example/a", "title": "First report", "publisher": "One"},
            {"url": "https://two.example/b", "title": "Second report", "publisher": "Two"},
            {"url": None, "title": "Printed leaflet"},
        ],
        evidence_links=["https://evidence.example/x"],
        tags=["threat"],
        actor="t",
    )
    return claim.id


def _when_where(text: str | None) -> tuple[str | None, str | None]:
    return (None, text.strip() or None) if text else (None, None)


def _shown(ledger: Any, claim_id: int) -> dict[str, str | None]:
    claim = ledger.get_claim(S, claim_id)
    return {
        "claim": claim.text,
        "quote": claim.quote,
        "when_where": None,
        "source": next((s.url for s in claim.sources if s.url), None),
        "details": claim.evidence.details,
    }


def test_editing_the_text_alone_keeps_every_source_link_and_tag(store: Any) -> None:
    claim_id = _three_sources(store)
    before = store.get_claim(S, claim_id)
    shown = _shown(store, claim_id)
    changes = claim_edit(before, shown, {**shown, "claim": "Medvedev said the attackers will be found."}, _when_where)
    assert changes == {"text": "Medvedev said the attackers will be found."}
    after = store.update_claim(S, claim_id, actor="t", **changes)
    assert after.text == "Medvedev said the attackers will be found."
    assert [(s.url, s.title, s.publisher) for s in after.sources] == [
        (s.url, s.title, s.publisher) for s in before.sources
    ]
    assert after.evidence.links == before.evidence.links
    assert after.tags == before.tags


def test_editing_the_link_changes_that_source_only(store: Any) -> None:
    claim_id = _three_sources(store)
    before = store.get_claim(S, claim_id)
    shown = _shown(store, claim_id)
    changes = claim_edit(before, shown, {**shown, "source": "https://three.example/c"}, _when_where)
    after = store.update_claim(S, claim_id, actor="t", **changes)
    assert [s.url for s in after.sources] == ["https://three.example/c", "https://two.example/b", None]
    assert [s.title for s in after.sources][1:] == ["Second report", "Printed leaflet"]


def test_an_untouched_form_changes_nothing(store: Any) -> None:
    claim_id = _three_sources(store)
    before = store.get_claim(S, claim_id)
    shown = _shown(store, claim_id)
    assert claim_edit(before, shown, dict(shown), _when_where) == {}


def test_a_speaker_named_with_digits_is_a_name_not_an_id(seeded_store: Any) -> None:
    assert seeded_store.get_speaker(S, 5).name  # id 5 exists in the seed
    report = import_bytes(
        seeded_store, S, "x.csv", b"ref,speaker,claim\nd-1,5,Someone called 5 said this.\n", actor="t"
    )
    assert report.created == 1
    claim = seeded_store.get_claim(S, "d-1")
    assert claim.speaker is not None
    assert claim.speaker.name == "5"
    assert claim.speaker.id != 5
    assert found(seeded_store, S, "someone") == [claim.id]  # an imported claim is in the index


def test_an_incident_titled_with_digits_is_a_title(store: Any) -> None:
    first = store.create_incident(S, title="First incident", actor="t")
    second = store.create_incident(S, title=str(first.id), actor="t")
    assert store.get_incident(S, str(first.id)).id == second.id
    assert store.get_incident(S, first.id).id == first.id


def test_a_claim_whose_ref_is_digits_is_found_by_its_ref(store: Any) -> None:
    store.add_claim(S, text="The first claim in this ledger.", actor="t")
    numbered = store.add_claim(S, text="A claim with a numeric ref.", ref="1", actor="t")
    assert numbered.id != 1
    assert store.get_claim(S, "1").id == numbered.id  # the ref wins over the id it looks like
    assert store.get_claim(S, 1).text == "The first claim in this ledger."
    assert store.get_claim(S, "#1").text == "The first claim in this ledger."
    with pytest.raises(NotFoundError):
        store.get_claim(S, 999)


def test_undo_after_the_ref_was_reused_refuses_with_a_reason(store: Any) -> None:
    first = store.add_claim(S, text="A claim about something.", ref="alpha", actor="t")
    store.update_claim(S, first.id, ref="beta", actor="t")
    second = store.add_claim(S, text="Another claim about something.", ref="alpha", actor="t")
    with pytest.raises(InvalidInputError, match=rf"'alpha', which claim #{second.id} uses now"):
        store.undo_claim(S, first.id, actor="t")
    assert store.get_claim(S, first.id).ref == "beta"


def test_a_seed_folder_without_incidents_is_an_error(store: Any, tmp_path: Any) -> None:
    with pytest.raises(SeedDataError, match="holds no incident"):
        seed_scope(store, S, tmp_path)
    with pytest.raises(SeedDataError, match="cannot be read"):
        seed_scope(store, S, tmp_path / "missing")
    assert store.is_empty(S)


def test_the_bundled_incidents_load_from_the_package(store: Any) -> None:
    reports = seed_scope(store, S)
    assert sum(r.created for r in reports) >= 20
    assert store.get_claim(S, "crocus-2024-002").speaker is not None


# ---------------------------------------------------------------- imports, exports


def test_import_is_idempotent_and_exports_match_across_backends(seeded_store: Any) -> None:
    native = export_text(seeded_store, S, "native")
    again = import_bytes(seeded_store, S, "again.json", native.encode(), actor="t")
    assert again.created == 0 and again.updated == 0
    assert export_text(seeded_store, S, "native") == native
    with Ledger.memory() as reference:
        seed_scope(reference, S)
        assert json.loads(export_text(reference, S, "native")) == json.loads(native)
        assert export_text(reference, S, "csv") == export_text(seeded_store, S, "csv")
    imported = import_bytes(seeded_store, B, "copy.json", native.encode(), actor="t")
    assert imported.created == seeded_store.count_claims(S, include_removed=True)
    assert len(seeded_store.history(B, "claim", seeded_store.get_claim(B, "crocus-2024-002").id)) == 1
    # the import's ids come after the ones it wrote explicitly: the per-item API goes on without clashes
    claim = seeded_store.add_claim(B, text="After the import.", actor="t")
    assert claim.id > max(c.id for c in seeded_store.list_claims(B, include_removed=True) if c.id != claim.id)


# ------------------------------------------------------------------------ search


def test_search_statistics_are_per_server_and_words_are_never_syntax(store: Any) -> None:
    claim_id = make_basic(store, A)
    store.add_claim(B, text="Kyiv Kyiv Kyiv statement.", actor="t")
    store.add_claim(B, text="Another Kyiv statement.", actor="t")
    assert store.search.doc_freqs(A, ["kyiv", "nothing"]) == {"kyiv": 1}
    assert store.search.doc_freqs(B, ["kyiv"]) == {"kyiv": 2}
    assert store.search.total_claims(A) == 1 and store.search.total_claims(B) == 2
    hostile = ['"', "'", "\\", "kyiv & !x", "a | b", "kyiv:*", "(", "NEAR(a b)", "*", "AND", "<->", "-kyiv", "x'y"]
    for word in hostile:
        store.search.match(A, [word])
        store.search.match(A, [word], mode="all", ranked=False)
        store.search.match(A, ["kyiv"], prefix=word)
        store.search.doc_freqs(A, [word])
    assert [cid for cid, _ in store.search.match(A, ["kyiv", "zzz"], mode="any")] == [claim_id]
    assert store.search.match(A, ["kyiv", "zzz"], mode="all") == []
    assert [cid for cid, _ in store.search.match(A, [], prefix="krem")] == []
    assert [cid for cid, _ in store.search.match(A, [], prefix="leader")] == [claim_id]
    assert [cid for cid, _ in store.search.match(A, ["kyiv"], ranked=False)] == [claim_id]
    stems = store.search.stems(["threatened", "kyiv", "!!"])
    assert stems[0] and stems[0] == store.search.stems(["threatening"])[0] and stems[2] == ""
    scored = store.search.match(B, ["kyiv"])
    assert len(scored) == 2 and scored[0][1] >= scored[1][1] > 0


def test_said_on_tags_texts_and_version(store: Any) -> None:
    before = store.search.version()
    claim_id = make_basic(store)
    store.add_claim(A, text="Tagged.", tags=["threat", "evidence"], said_at="2024-03-23", actor="t")
    assert store.search.version() != before
    assert store.search.said_on(A, 2024, 3, None) == [claim_id, claim_id + 1]
    assert store.search.said_on(A, None, 3, 23) == [claim_id + 1]
    assert store.search.said_on(B, 2024, 3, None) == []
    assert sorted(store.search.tags(A)) == ["evidence", "threat"]
    assert sorted(store.search.texts(A))[0] == "Medvedev threatened the Kyiv leadership. "
    unchanged = store.search.version()
    store.search.match(A, ["kyiv"])
    store.search.stems(["kyiv"])
    assert store.search.version() == unchanged  # reading changes nothing


def test_said_by_lists_a_speakers_live_claims_in_the_scope_oldest_first(store: Any) -> None:
    first = make_basic(store)
    make_basic(store, B)
    second = store.add_claim(A, text="Medvedev said more.", speaker="medvedev", actor="t").id
    third = store.add_claim(A, text="And more.", speaker="medvedev", actor="t").id
    store.add_claim(A, text="Nobody said this.", actor="t")
    medvedev = store.find_speaker(A, "Medvedev").id
    assert store.search.said_by(A, medvedev) == [first, second, third]
    assert store.search.said_by(A, medvedev, limit=2) == [first, second]
    store.remove_claim(A, second, reason="duplicate", actor="t")
    assert store.search.said_by(A, medvedev) == [first, third]
    assert store.search.said_by(B, medvedev) == []  # the id is A's speaker, not B's


# ----------------------------------------------------------------------- vectors


def test_vectors_stored_loaded_and_dropped_when_the_text_changes(store: Any) -> None:
    claim_id = make_basic(store)
    other = store.add_claim(A, text="Second.", actor="t").id
    model = "test-model"
    assert [cid for cid, _ in store.vectors.missing(A, model)] == [claim_id, other]
    assert store.vectors.missing(A, model)[0][1].startswith("Dmitry Medvedev (Former President of Russia): ")
    assert store.vectors.count_missing(A, model) == 2 and store.vectors.count_missing(None, model) == 2
    assert store.vectors.scopes_missing(model) == [A]
    vectors = np.eye(2, 4, dtype=np.float32)
    assert store.vectors.put(A, model, [(claim_id, vectors[0]), (other, vectors[1]), (99_999, vectors[0])]) == 3
    count, last = store.vectors.state(A, model)
    assert count == 2
    rows = store.vectors.load(A, model, 4)
    assert rows.claim_ids.tolist() == [claim_id, other] and np.allclose(rows.vectors, vectors)
    assert store.vectors.load(A, model, 4, after=rows.last_id).claim_ids.tolist() == []
    assert store.vectors.count_missing(A, model) == 0
    store.update_claim(A, claim_id, tags=["x"], actor="t")  # not embedded: the vector stays
    assert store.vectors.count_missing(A, model) == 0
    store.update_claim(A, claim_id, text="New text.", actor="t")
    assert [cid for cid, _ in store.vectors.missing(A, model)] == [claim_id]
    store.vectors.put(A, model, [(claim_id, vectors[1])])
    store.update_speaker(A, "Medvedev", role="Deputy chairman", actor="t")
    assert [cid for cid, _ in store.vectors.missing(A, model)] == [claim_id]
    assert store.vectors.state(A, model) != (count, last)
    assert store.vectors.load(B, model, 4).claim_ids.tolist() == []


def test_a_vector_is_made_from_the_titles_of_the_sources_only_its_claim_cites(store: Any) -> None:
    """A source that one claim alone cites says what it is about; one that several cite (the article a whole
    incident comes from) says nothing about one of them. Which titles are a claim's own changes as other claims
    cite its source, or stop citing it: the vectors made from the old titles are made again."""
    model = "test-model"
    vector = np.eye(1, 4, dtype=np.float32)[0]
    report = {"title": "Kremlin blames Kyiv, offers no proof", "url": "https://example.org/k"}
    first = store.add_claim(A, text="The FSB blamed Kyiv.", sources=[report], actor="t").id
    assert store.vectors.missing(A, model) == [(first, "The FSB blamed Kyiv. (Kremlin blames Kyiv, offers no proof)")]
    store.vectors.put(A, model, [(first, vector)])
    second = store.add_claim(A, text="Putin said the gunmen fled.", sources=[report], actor="t").id
    assert store.vectors.missing(A, model) == [(first, "The FSB blamed Kyiv."), (second, "Putin said the gunmen fled.")]
    store.vectors.put(A, model, [(first, vector), (second, vector)])
    store.update_claim(A, second, sources=[], actor="t")  # the report is the first claim's own again
    assert store.vectors.missing(A, model) == [
        (first, "The FSB blamed Kyiv. (Kremlin blames Kyiv, offers no proof)"),
        (second, "Putin said the gunmen fled."),
    ]
    store.vectors.put(A, model, [(first, vector), (second, vector)])
    store.update_claim(A, second, tags=["x"], actor="t")  # nothing a vector is made from: both stay
    assert store.vectors.count_missing(A, model) == 0


# ----------------------------------------------------------------------- matcher


def test_the_seed_question_finds_the_claim_of_responsibility(seeded_store: Any) -> None:
    answer = Matcher(seeded_store).ask(S, SEED_QUESTION)
    assert answer.matches and answer.matches[0].claim.ref == "crocus-2024-002"


def test_the_seed_question_set_gets_the_same_answers_on_both_backends(bk: Any) -> None:
    bk.need_postgres()
    questions = [json.loads(line) for line in (REPO_ROOT / "tests" / "seed_questions.jsonl").read_text().splitlines()]
    answers: dict[str, list[list[str | None]]] = {}
    for backend in ("sqlite", "postgresql"):
        with bk.make_store(backend) as ledger:
            seed_scope(ledger, S)
            matcher = Matcher(ledger)
            answers[backend] = [[m.claim.ref for m in matcher.ask(S, q["q"]).matches] for q in questions]
    firsts = [(a[:1], b[:1]) for a, b in zip(answers["sqlite"], answers["postgresql"], strict=True)]
    assert [q["q"] for q, (a, b) in zip(questions, firsts, strict=True) if a != b] == []
    same = sum(a == b for a, b in zip(answers["sqlite"], answers["postgresql"], strict=True))
    assert same >= len(questions) - 3, "the answer lists differ beyond ties"


# ---------------------------------------------------------------- PostgreSQL only


def test_postgres_migrations_apply_once_and_record_themselves(pg_store: Any, bk: Any) -> None:
    from bot.store import pg_schema
    from bot.store.postgres import PostgresLedger

    names = [name for name, _ in pg_schema.MIGRATIONS]
    with pg_store.connection() as conn:
        assert pg_schema.applied(conn) == names
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.columns WHERE table_schema ="
                                             " current_schema() AND column_name = 'scope'").fetchall()}  # fmt: skip
    assert {"incidents", "speakers", "sources", "claims", "claim_sources", "revisions", "settings"} <= tables
    with PostgresLedger.open(bk.PG_URL, schema=pg_store.schema) as again, again.connection() as conn:
        assert pg_schema.applied(conn) == names
        assert pg_schema.apply(conn, again.features) == []


def test_postgres_writes_of_another_process_change_the_version(pg_store: Any, bk: Any) -> None:
    from bot.store.postgres import PostgresLedger

    with PostgresLedger.open(bk.PG_URL, schema=pg_store.schema) as other:
        seen = pg_store.search.version()
        other.add_claim(A, text="Written elsewhere.", actor="t")
        assert pg_store.search.version() != seen
        assert pg_store.get_claim(A, "1").text == "Written elsewhere."


def test_postgres_writers_take_turns_and_transactions_are_per_thread(pg_store: Any) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                pg_store.add_claim(A, text=f"Claim {n}-{i}.", ref=f"r{n}-{i}", actor="t")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert pg_store.count_claims(A) == 20
    assert len({c.id for c in pg_store.list_claims(A)}) == 20


def test_postgres_fuzzy_names(pg_store: Any) -> None:
    make_basic(pg_store)
    best = pg_store.search.similar_names(A, "medvedv")
    assert best and best[0][:2] == ("speaker", "Dmitry Medvedev")
    assert pg_store.search.similar_names(B, "medvedv") == []


def test_postgres_ledger_in_a_schema_leaves_others_alone(bk: Any) -> None:
    with bk.postgres_ledger() as one, bk.postgres_ledger() as two:
        one.add_claim(A, text="Only in one.", actor="t")
        assert two.count_claims(A) == 0 and two.scopes() == []


# ---------------------------------------------------------------------- migrate


def _history_everywhere(ledger: Any) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.scope, r.entity, r.entity_id, r.action, r.actor, r.at, r.old, r.new)
        for scope in sorted(ledger.scopes())
        for r in ledger.revisions_after(scope, 0, limit=100_000)
    ]


def test_migrate_copies_a_whole_ledger_both_ways_with_history(bk: Any) -> None:
    from bot.store.migrate import copy_ledger, count_rows

    bk.need_postgres()
    with Ledger.memory() as original:
        seed_scope(original, S)
        claim_id = make_basic(original, A)
        original.update_claim(A, claim_id, text="Edited «text».", actor="ü-mod")
        original.remove_claim(S, "crocus-2024-003", reason="duplicate", actor="mod")
        original.set_setting(A, "audit_channel", "42", actor="mod")
        original.set_marker(A, "audit_last", "3")
        original.add_pinned_summary(A, "crocus", 10, 20)
        original.vectors.put(A, "m", [(claim_id, np.ones(4, dtype=np.float32))])
        seen: list[tuple[str, int, int]] = []
        with bk.postgres_ledger() as pg:
            report = copy_ledger(original, pg, progress=lambda t, d, n: seen.append((t, d, n)))
            assert report.counts == count_rows(original) == count_rows(pg)
            assert report.counts["claims"] == original.count_claims(S, include_removed=True) + 1
            assert ("revisions", report.counts["revisions"], report.counts["revisions"]) in seen
            for scope in (S, A):
                assert export_text(pg, scope, "native") == export_text(original, scope, "native")
            assert _history_everywhere(pg) == _history_everywhere(original)
            assert pg.get_setting(A, "audit_last") == "3" and pg.pinned_summaries(A) == original.pinned_summaries(A)
            assert pg.vectors.load(A, "m", 4).claim_ids.tolist() == [claim_id]
            assert Matcher(pg).ask(S, SEED_QUESTION).matches[0].claim.ref == "crocus-2024-002"
            assert pg.add_claim(A, text="New after the move.", actor="t").id == report.counts["claims"] + 1
            with pytest.raises(Exception, match="not empty"):
                copy_ledger(original, pg)
            with Ledger.memory() as back:
                copy_ledger(pg, back)
                assert count_rows(back) == count_rows(pg)
                assert _history_everywhere(back) == _history_everywhere(pg)
                assert export_text(back, S, "csv") == export_text(original, S, "csv")
                assert [cid for cid, _ in back.search.match(A, ["edited"])] == [claim_id]


def test_postgres_lost_connections_are_replaced_and_a_broken_write_says_try_again(pg_store: Any, bk: Any) -> None:
    import psycopg

    from bot.errors import LedgerUnavailableError

    def kill_connections() -> int:
        with psycopg.connect(bk.PG_URL, autocommit=True) as admin:
            return len(
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    [f"claimledger:{pg_store.schema}"],
                ).fetchall()
            )

    pg_store.add_claim(A, text="Committed before the restart.", actor="t")
    assert kill_connections() >= 1
    assert pg_store.count_claims(A) == 1  # the pool replaced the dead connection by itself
    with pytest.raises(LedgerUnavailableError, match="nothing was saved"), pg_store.transaction():
        pg_store.add_claim(A, text="Lost with its connection.", actor="t")
        kill_connections()
        pg_store.add_claim(A, text="Never written.", actor="t")
    assert [c.text for c in pg_store.list_claims(A)] == ["Committed before the restart."]


@pytest.mark.parametrize("outcome", ["committed", "aborted", "unknown"])
def test_postgres_a_connection_lost_while_committing_is_resolved_by_asking_the_server(
    pg_store: Any, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    """The connection breaks at COMMIT: a write the server committed is reported saved, one it did not is reported
    not saved, and when the server cannot be asked, the error says whether it was saved is not known."""
    import psycopg

    import bot.store.postgres as pg
    from bot.errors import LedgerUnavailableError

    real_exit = psycopg.Transaction.__exit__

    def lost_at_commit(tx: Any, *exc: Any) -> bool:
        if exc[0] is not None or not tx._outer_transaction:
            return real_exit(tx, *exc)
        lost = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
        if outcome == "aborted":
            real_exit(tx, type(lost), lost, None)  # rolled back
        else:
            real_exit(tx, None, None, None)  # committed, but the answer never came
        tx.connection.close()
        raise lost

    monkeypatch.setattr(psycopg.Transaction, "__exit__", lost_at_commit)
    if outcome == "unknown":
        monkeypatch.setattr(pg, "OUTCOME_WAIT", 0.0)

        def unreachable(*args: Any, **kwargs: Any) -> Any:
            raise psycopg.OperationalError("connection refused")

        monkeypatch.setattr(pg.psycopg, "connect", unreachable)
    if outcome == "committed":
        claim = pg_store.add_claim(A, text="Saved as the connection broke.", actor="t")
        assert claim.text == "Saved as the connection broke."
    else:
        with pytest.raises(LedgerUnavailableError) as raised:
            pg_store.add_claim(A, text="Saved as the connection broke.", actor="t")
        assert raised.value.unsure is (outcome == "unknown")
        assert str(raised.value) == (pg.UNSURE if outcome == "unknown" else pg.NOT_SAVED)
    monkeypatch.undo()
    expected = ["Saved as the connection broke."] if outcome != "aborted" else []
    assert [c.text for c in pg_store.list_claims(A)] == expected


def test_the_command_line_asks_a_postgresql_ledger(bk: Any, capsys: pytest.CaptureFixture) -> None:
    """--db postgresql://… (as CLAIMLEDGER_DB): the CLI seeds the new ledger and answers from it."""
    from bot.cli import main

    bk.need_postgres()
    schema = bk.new_schema()
    url = f"{bk.PG_URL}?schema={schema}"
    try:
        question = "Who claimed responsibility for the Crocus City Hall attack?"
        code = main(["ask", question, "--json", "--db", url])
        out = capsys.readouterr().out
        assert code == 0
        assert json.loads(out)["matches"][0]["ref"] == "crocus-2024-002"
        assert main(["backup", "/tmp/never-written.db", "--db", url]) == 1
        assert "pg_dump" in capsys.readouterr().err
    finally:
        bk.drop_schema(schema)


def test_claims_are_counted_by_speaker_within_the_scope_and_removed_ones_left_out(store: Any) -> None:
    make_basic(store)
    make_basic(store, B)
    second = store.add_claim(A, text="Medvedev said more.", speaker="medvedev", actor="mod")
    store.add_claim(A, text="Nobody said this.", actor="mod")
    medvedev = store.find_speaker(A, "Medvedev").id
    assert store.claims_by_speaker(A) == {medvedev: 2}
    store.remove_claim(A, second.id, reason="duplicate", actor="mod")
    assert store.claims_by_speaker(A) == {medvedev: 1}
    assert store.claims_by_speaker("no-such-server") == {}


def test_claims_are_counted_by_incident_within_the_scope_and_removed_ones_left_out(store: Any) -> None:
    make_basic(store)
    make_basic(store, B)
    second = store.add_claim(A, text="More about the attack.", incident="crocus", actor="mod")
    store.add_claim(A, text="About no incident.", actor="mod")
    crocus = store.get_incident(A, "crocus").id
    assert store.claims_by_incident(A) == {crocus: 2}
    store.remove_claim(A, second.id, reason="duplicate", actor="mod")
    assert store.claims_by_incident(A) == {crocus: 1}
    assert store.claims_by_incident("no-such-server") == {}
