"""Set-based reads and writes for imports: a handful of queries per import, whatever its size.

The import planner (``bot.formats.planner``) reads the parts of a scope a file can touch with the ``load_*``
functions; the applier hands :func:`write_batch` every row to insert or change, and it writes them with
``executemany`` inside the caller's transaction. Revisions are rows of the batch like any other, so an import
leaves the same history as the single-item API; the full-text index is kept by the schema's triggers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bot.store.clock as clock
from bot.store.sqlite import Ledger

_CLAIM_COLUMNS = (
    "id, ref, incident_id, speaker_id, text, quote, said_at, said_where, tags, evidence_status, evidence_details,"
    " evidence_links, removed_reason"
)


def now() -> str:
    """The time stamp the ledger writes (the store's clock, which tests may pin)."""
    return clock.now()


def _rows(ledger: Ledger, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = ledger.conn.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def data_token(ledger: Ledger) -> tuple[int, int]:
    """Changes whenever anyone commits a change to the file: another connection (``data_version``) or this one
    (``total_changes``). A plan made under one token is still valid while the token is the same."""
    version = ledger.conn.execute("PRAGMA data_version").fetchone()[0]
    return int(version), ledger.conn.total_changes


def load_incidents(ledger: Ledger, scope: str) -> list[dict[str, Any]]:
    """Every incident of the scope, in the order ``Ledger.list_incidents`` gives (lookups take the first)."""
    return _rows(ledger, "SELECT * FROM incidents WHERE scope = ? ORDER BY date DESC, title, id", [scope])


def load_speakers(ledger: Ledger, scope: str) -> list[dict[str, Any]]:
    """Every speaker of the scope, in the order ``Ledger.list_speakers`` gives."""
    return _rows(ledger, "SELECT * FROM speakers WHERE scope = ? ORDER BY name COLLATE NOCASE, id", [scope])


def load_claims(ledger: Ledger, scope: str, refs: Iterable[str], texts: Iterable[str]) -> list[dict[str, Any]]:
    """The claims with one of these refs, and the unreferenced claims with one of these texts (by id)."""
    refs, texts = sorted(set(refs)), sorted(set(texts))
    found: dict[int, dict[str, Any]] = {}
    if refs:
        for row in _rows(
            ledger,
            f"SELECT {_CLAIM_COLUMNS} FROM claims WHERE scope = ? AND ref IS NOT NULL"
            " AND ref IN (SELECT value FROM json_each(?))",
            [scope, json.dumps(refs)],
        ):
            found[row["id"]] = row
    if texts:
        for row in _rows(
            ledger,
            f"SELECT {_CLAIM_COLUMNS} FROM claims WHERE scope = ? AND ref IS NULL"
            " AND text IN (SELECT value FROM json_each(?))",
            [scope, json.dumps(texts)],
        ):
            found[row["id"]] = row
    return [found[i] for i in sorted(found)]


def load_claim_sources(ledger: Ledger, claim_ids: Iterable[int]) -> list[dict[str, Any]]:
    """(claim_id, id, url, title, publisher) of the sources of these claims, in each claim's order."""
    ids = sorted(set(claim_ids))
    if not ids:
        return []
    return _rows(
        ledger,
        "SELECT cs.claim_id, s.id, s.url, s.title, s.publisher FROM claim_sources cs JOIN sources s"
        " ON s.id = cs.source_id WHERE cs.claim_id IN (SELECT value FROM json_each(?))"
        " ORDER BY cs.claim_id, cs.position, s.id",
        [json.dumps(ids)],
    )


def load_sources(ledger: Ledger, scope: str, titles: Iterable[str]) -> list[dict[str, Any]]:
    """The sources of the scope with one of these titles."""
    titles = sorted(set(titles))
    if not titles:
        return []
    return _rows(
        ledger,
        "SELECT id, url, title, publisher FROM sources WHERE scope = ? AND title IN (SELECT value FROM json_each(?))",
        [scope, json.dumps(titles)],
    )


def next_ids(ledger: Ledger) -> dict[str, int]:
    """The next free id of each table the applier inserts into (read inside the write transaction)."""
    row = _rows(
        ledger,
        "SELECT (SELECT coalesce(max(id), 0) FROM incidents) AS incidents,"
        " (SELECT coalesce(max(id), 0) FROM speakers) AS speakers,"
        " (SELECT coalesce(max(id), 0) FROM sources) AS sources,"
        " (SELECT coalesce(max(id), 0) FROM claims) AS claims",
    )[0]
    return {table: value + 1 for table, value in row.items()}


@dataclass
class Batch:
    """Every row one import writes. Tuples are in the column order of the statements in :func:`write_batch`."""

    scope: str
    incidents_new: list[tuple[Any, ...]] = field(default_factory=list)  # id, slug, title, date, place, summary,
    # aliases (JSON), created_at, updated_at
    incidents_changed: list[tuple[Any, ...]] = field(default_factory=list)  # slug, title, date, place, summary,
    # aliases, updated_at, id
    speakers_new: list[tuple[Any, ...]] = field(default_factory=list)  # id, name, role, kind, aliases, created,
    # updated
    speakers_changed: list[tuple[Any, ...]] = field(default_factory=list)  # name, role, kind, aliases, updated, id
    sources_new: list[tuple[Any, ...]] = field(default_factory=list)  # id, url, title, publisher
    sources_publisher: list[tuple[Any, ...]] = field(default_factory=list)  # publisher, id
    claims_new: list[tuple[Any, ...]] = field(default_factory=list)  # id, ref, incident_id, speaker_id, text, quote,
    # said_at, said_where, tags, evidence_status, evidence_details, evidence_links, removed_reason, created, updated
    claims_changed: list[tuple[Any, ...]] = field(default_factory=list)  # the same without id and created, then id
    claim_sources_new: list[tuple[int, int, int]] = field(default_factory=list)  # claim_id, source_id, position
    claim_sources_reset: list[int] = field(default_factory=list)  # changed claims whose sources are rewritten
    claim_sources_changed: list[tuple[int, int, int]] = field(default_factory=list)
    revisions: list[tuple[Any, ...]] = field(default_factory=list)  # entity, entity_id, action, actor, at, old, new


def write_batch(ledger: Ledger, batch: Batch) -> None:
    """Write a batch; call inside ``ledger.transaction()`` (all or nothing)."""
    conn, scope = ledger.conn, batch.scope
    if not conn.in_transaction:
        raise RuntimeError("write_batch runs inside ledger.transaction()")
    conn.executemany(
        "INSERT INTO incidents (id, scope, slug, title, date, place, summary, aliases, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(row[0], scope, *row[1:]) for row in batch.incidents_new],
    )
    conn.executemany(
        "UPDATE incidents SET slug=?, title=?, date=?, place=?, summary=?, aliases=?, updated_at=?"
        " WHERE id = ? AND scope = ?",
        [(*row, scope) for row in batch.incidents_changed],
    )
    conn.executemany(
        "INSERT INTO speakers (id, scope, name, role, kind, aliases, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
        [(row[0], scope, *row[1:]) for row in batch.speakers_new],
    )
    conn.executemany(
        "UPDATE speakers SET name=?, role=?, kind=?, aliases=?, updated_at=? WHERE id = ? AND scope = ?",
        [(*row, scope) for row in batch.speakers_changed],
    )
    conn.executemany(
        "INSERT INTO sources (id, scope, url, title, publisher) VALUES (?,?,?,?,?)",
        [(row[0], scope, *row[1:]) for row in batch.sources_new],
    )
    conn.executemany("UPDATE sources SET publisher = ? WHERE id = ?", batch.sources_publisher)
    # A new claim's sources go in before the claim (foreign keys checked at commit), so the claim's insert
    # trigger indexes it once, sources included, instead of once per source.
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.executemany(
        "INSERT INTO claim_sources (claim_id, source_id, position) VALUES (?,?,?)", batch.claim_sources_new
    )
    conn.executemany(
        "INSERT INTO claims (id, scope, ref, incident_id, speaker_id, text, quote, said_at, said_where, tags,"
        " evidence_status, evidence_details, evidence_links, removed_reason, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(row[0], scope, *row[1:]) for row in batch.claims_new],
    )
    conn.executemany("DELETE FROM claim_sources WHERE claim_id = ?", [(i,) for i in batch.claim_sources_reset])
    conn.executemany(
        "INSERT INTO claim_sources (claim_id, source_id, position) VALUES (?,?,?)", batch.claim_sources_changed
    )
    conn.executemany(
        "UPDATE claims SET ref=?, incident_id=?, speaker_id=?, text=?, quote=?, said_at=?, said_where=?, tags=?,"
        " evidence_status=?, evidence_details=?, evidence_links=?, removed_reason=?, updated_at=?"
        " WHERE id = ? AND scope = ?",
        [(*row, scope) for row in batch.claims_changed],
    )
    conn.executemany(
        "INSERT INTO revisions (scope, entity, entity_id, action, actor, at, old, new) VALUES (?,?,?,?,?,?,?,?)",
        [(scope, *row) for row in batch.revisions],
    )
    refresh = getattr(ledger, "refresh_statistics", None)  # PostgreSQL: the planner's statistics, after many rows
    if refresh is not None:
        refresh(len(batch.claims_new) + len(batch.claims_changed))
