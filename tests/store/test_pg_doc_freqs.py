"""PostgreSQL's document-frequency table (``claims_df``, migration 10) against counting the full-text rows directly.

The ledger is written through every path that reaches ``claims_fts``: single-item adds and edits (text, quote,
tags, sources, speaker and incident renames, aliases), removals and restores, a speaker merge, claims deleted
with SQL (the cascade), and imports (new claims into a third server, edits by ref); then, for a few hundred
words, the frequency the search reads equals ``count(*) … WHERE document @@ plainto_tsquery(word)`` within each
server, and the whole table equals the lexemes of the documents counted again.
"""

from __future__ import annotations

import random
from typing import Any

from bot.formats import export_text, import_bytes

pytest_plugins = ["tests.backends"]

A, B, C = "guild-a", "guild-b", "guild-c"
WORDS = [
    "".join(random.Random(i).choice("bcdfghklmnprstvz") + random.Random(i * 7 + 1).choice("aeiou") for _ in range(3))
    for i in range(140)
] + ["missile", "missiles", "strike", "striking", "ceasefire", "f-16", "covid-19", "café", "naïve", "drone", "drones"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _counted(ledger: Any, scope: str, word: str) -> int:
    with ledger.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM claims_fts WHERE scope = %s AND document @@ plainto_tsquery('claimledger', %s)",
            [scope, word],
        ).fetchone()
    return int(row[0])


def _write_everything(ledger: Any, rng: random.Random) -> None:
    for scope in (A, B):
        speakers = [ledger.create_speaker(scope, name=f"Speaker {w}", actor="t").name for w in WORDS[:6]]
        incidents = [ledger.create_incident(scope, title=f"Incident {w}", actor="t").slug for w in WORDS[6:10]]
        for i in range(70):
            ledger.add_claim(
                scope,
                text=_text(rng, rng.randint(3, 12)),
                quote=_text(rng, 4) if i % 3 == 0 else None,
                speaker=rng.choice(speakers) if i % 4 else None,
                incident=rng.choice(incidents) if i % 2 else None,
                tags=[rng.choice(WORDS)] if i % 5 == 0 else None,
                sources=[{"title": _text(rng, 2)}] if i % 6 == 0 else None,
                ref=f"{scope}-{i}",
                actor="t",
            )
        claims = ledger.list_claims(scope)
        for claim in rng.sample(claims, 20):
            ledger.update_claim(scope, claim.id, text=_text(rng, rng.randint(2, 9)), actor="t")
        for claim in rng.sample(claims, 8):
            ledger.update_claim(scope, claim.id, sources=[{"title": _text(rng, 3)}, {"title": "Wire"}], actor="t")
        removed = rng.sample(claims, 10)
        for claim in removed:
            ledger.remove_claim(scope, claim.id, reason="duplicate", actor="t")
        ledger.restore_claim(scope, removed[0].id, actor="t")
        ledger.update_speaker(scope, speakers[0], name="Speaker missile", actor="t")
        ledger.add_speaker_alias(scope, speakers[1], "drone operator", actor="t")
        ledger.update_incident(scope, incidents[0], title="Incident ceasefire f-16", actor="t")
        ledger.merge_speakers(scope, speakers[2], speakers[3], actor="t")
        gone = [c.id for c in ledger.list_claims(scope)[:5]]
        with ledger.transaction(), ledger.connection() as conn:
            conn.execute("DELETE FROM claims WHERE id = ANY(%s)", [gone])
    # an import of new claims (a copy of A into a third server), and one that edits A's claims by ref
    copied = import_bytes(ledger, C, "copy.json", export_text(ledger, A, "native").encode(), actor="t")
    assert copied.created > 0
    rows = "".join(f"{A}-{i},Speaker {WORDS[0]},{_text(rng, 5).rstrip('.')}\n" for i in range(20, 60))
    edited = import_bytes(ledger, A, "edit.csv", f"ref,speaker,claim\n{rows}".encode(), actor="t")
    assert edited.updated > 0


def test_document_frequencies_are_kept_per_server_and_equal_a_direct_count(pg_store: Any) -> None:
    rng = random.Random(20261201)
    _write_everything(pg_store, rng)
    with pg_store.connection() as conn:
        recount = (
            "SELECT f.scope, u.lexeme, count(*) FROM claims_fts f, unnest(tsvector_to_array(f.document)) AS u(lexeme)"
            " GROUP BY 1, 2"
        )
        table = "SELECT scope, lexeme, df FROM claims_df"
        assert conn.execute(f"({recount}) EXCEPT ({table})").fetchall() == []
        assert conn.execute(f"({table}) EXCEPT ({recount})").fetchall() == []
        assert conn.execute("SELECT count(*) FROM claims_df WHERE df <= 0").fetchone()[0] == 0
        assert {r[0] for r in conn.execute("SELECT DISTINCT scope FROM claims_df").fetchall()} == {A, B, C}
    asked = [*rng.sample(WORDS, 120), "Missiles", "STRIKES", "f-16", "covid-19", "cafe", "naive", "unseenword", "-"]
    asked += [rng.choice(WORDS) + rng.choice(["s", "ing", "ed", ""]) for _ in range(180)]
    compared = 0
    for scope in (A, B, C):
        freqs = pg_store.search.doc_freqs(scope, asked)
        for word in asked:
            assert freqs.get(word, 0) == _counted(pg_store, scope, word), (scope, word)
            compared += 1
    assert compared >= 900
    # the servers' statistics stay apart: B's frequencies are not A's
    a, b = pg_store.search.doc_freqs(A, WORDS), pg_store.search.doc_freqs(B, WORDS)
    assert a != b


def test_the_migration_counts_the_claims_already_there(bk: Any, monkeypatch: Any) -> None:
    """A ledger written before migration 10 gets its table filled by the migration (the backfill)."""
    import bot.store.pg_schema as pg_schema
    from bot.store.postgres import PostgresLedger

    bk.need_postgres()
    schema = bk.new_schema()
    rng = random.Random(9)
    try:
        before = [m for m in pg_schema.MIGRATIONS if m[0] < "m0010"]
        with monkeypatch.context() as patched:
            patched.setattr(pg_schema, "MIGRATIONS", before)
            with PostgresLedger.open(bk.PG_URL, schema=schema, max_size=2) as old:
                for scope in (A, B):
                    for _ in range(40):
                        old.add_claim(scope, text=_text(rng, 6), speaker=None, actor="t")
        with PostgresLedger.open(bk.PG_URL, schema=schema, max_size=2) as ledger:
            for scope in (A, B):
                freqs = ledger.search.doc_freqs(scope, WORDS)
                assert freqs and all(freqs.get(w, 0) == _counted(ledger, scope, w) for w in WORDS)
    finally:
        bk.drop_schema(schema)


def test_the_pool_check_costs_no_round_trip_and_reads_survive_ended_connections(pg_store: Any, bk: Any) -> None:
    """A healthy idle connection is handed out without a question to the server; after the server ended every
    connection of the ledger, reads (the store's, the search's) are answered at once, on fresh connections."""
    import psycopg

    from bot.store.postgres import check_connection

    claim = pg_store.add_claim(A, text="Committed before the connections ended.", actor="t")
    with pg_store.pool.connection() as conn:
        sent: list[object] = []
        original = conn.execute
        conn.execute = lambda *args, **kwargs: sent.append(args) or original(*args, **kwargs)  # type: ignore[method-assign]
        check_connection(conn)
        assert sent == []
        conn.execute = original  # type: ignore[method-assign]
    for _ in range(5):
        with psycopg.connect(bk.PG_URL, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [f"claimledger:{pg_store.schema}"],
            ).fetchall()
        assert ended
        assert [c.id for c in pg_store.get_claims(A, [claim.id])] == [claim.id]
        assert [cid for cid, _ in pg_store.search.match(A, ["ended"])] == [claim.id]
