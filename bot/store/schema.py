"""The ledger's schema, as numbered migrations (sqlite-utils 4 ``Migrations``).

Never edit a migration that has shipped: add the next number.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("claimledger")

EVIDENCE_STATUSES = "('presented', 'not_presented', 'partial', 'disputed', 'unknown')"
SPEAKER_KINDS = "('person', 'organisation', 'agency', 'media', 'group')"

# The searchable text of one claim, gathered from the claim, its speaker, incident and sources.
_CLAIM_SEARCH_VIEW = """
CREATE VIEW claim_search AS
SELECT
    c.id AS id,
    c.text AS claim,
    coalesce(c.quote, '') AS quote,
    coalesce(s.name || ' ' || coalesce((SELECT group_concat(value, ' ') FROM json_each(s.aliases)), ''), '')
        AS speaker,
    coalesce(i.title || ' ' || coalesce((SELECT group_concat(value, ' ') FROM json_each(i.aliases)), ''), '')
        AS incident,
    coalesce((SELECT group_concat(value, ' ') FROM json_each(c.tags)), '') AS tags,
    coalesce((SELECT group_concat(src.title, ' ') FROM claim_sources cs JOIN sources src ON src.id = cs.source_id
              WHERE cs.claim_id = c.id), '') AS sources
FROM claims c
LEFT JOIN speakers s ON s.id = c.speaker_id
LEFT JOIN incidents i ON i.id = c.incident_id
"""


_FTS_COLUMNS = "claim, quote, speaker, incident, tags, sources"


def _reindex(where: str, columns: str = _FTS_COLUMNS) -> str:
    """Trigger body that rebuilds the FTS rows of the claims selected by ``where`` (a condition on claims)."""
    return f"""
        DELETE FROM claims_fts WHERE rowid IN (SELECT id FROM claims WHERE {where});
        INSERT INTO claims_fts (rowid, {columns})
            SELECT id, {columns} FROM claim_search
            WHERE id IN (SELECT id FROM claims WHERE {where});
    """


def _fts_triggers(cols: str = _FTS_COLUMNS) -> str:
    """The triggers that keep ``claims_fts`` in step with claims, speakers, incidents and sources."""
    return f"""
        CREATE TRIGGER claims_ai AFTER INSERT ON claims BEGIN {_reindex("id = new.id", cols)} END;
        CREATE TRIGGER claims_au AFTER UPDATE ON claims BEGIN
            DELETE FROM claims_fts WHERE rowid = old.id;
            {_reindex("id = new.id", cols)}
        END;
        CREATE TRIGGER claims_ad AFTER DELETE ON claims BEGIN
            DELETE FROM claims_fts WHERE rowid = old.id;
        END;
        CREATE TRIGGER speakers_au AFTER UPDATE OF name, aliases ON speakers BEGIN
            {_reindex("speaker_id = new.id", cols)}
        END;
        CREATE TRIGGER incidents_au AFTER UPDATE OF title, aliases ON incidents BEGIN
            {_reindex("incident_id = new.id", cols)}
        END;
        CREATE TRIGGER sources_au AFTER UPDATE OF title ON sources BEGIN
            {_reindex("id IN (SELECT claim_id FROM claim_sources WHERE source_id = new.id)", cols)}
        END;
        CREATE TRIGGER claim_sources_ai AFTER INSERT ON claim_sources BEGIN {_reindex("id = new.claim_id", cols)} END;
        CREATE TRIGGER claim_sources_ad AFTER DELETE ON claim_sources BEGIN {_reindex("id = old.claim_id", cols)} END;
        """


@migrations()
def m0001_initial(db: Database) -> None:
    db.executescript(
        f"""
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            slug TEXT NOT NULL,
            title TEXT NOT NULL,
            date TEXT,
            place TEXT,
            summary TEXT,
            aliases TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (scope, slug)
        );
        CREATE TABLE speakers (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT,
            kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN {SPEAKER_KINDS}),
            aliases TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX speakers_scope_name ON speakers (scope, name COLLATE NOCASE);
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            url TEXT,
            title TEXT NOT NULL,
            publisher TEXT
        );
        CREATE UNIQUE INDEX sources_scope_key ON sources (scope, title, coalesce(url, ''));
        CREATE TABLE claims (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            ref TEXT,
            incident_id INTEGER REFERENCES incidents (id),
            speaker_id INTEGER REFERENCES speakers (id),
            text TEXT NOT NULL,
            quote TEXT,
            said_at TEXT,
            said_where TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            evidence_status TEXT NOT NULL DEFAULT 'unknown' CHECK (evidence_status IN {EVIDENCE_STATUSES}),
            evidence_details TEXT,
            evidence_links TEXT NOT NULL DEFAULT '[]',
            removed_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX claims_scope_ref ON claims (scope, ref) WHERE ref IS NOT NULL;
        CREATE INDEX claims_scope ON claims (scope);
        CREATE INDEX claims_incident ON claims (incident_id);
        CREATE INDEX claims_speaker ON claims (speaker_id);
        CREATE TABLE claim_sources (
            claim_id INTEGER NOT NULL REFERENCES claims (id) ON DELETE CASCADE,
            source_id INTEGER NOT NULL REFERENCES sources (id),
            position INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (claim_id, source_id)
        );
        CREATE INDEX claim_sources_source ON claim_sources (source_id);
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            old TEXT,
            new TEXT
        );
        CREATE INDEX revisions_entity ON revisions (scope, entity, entity_id);
        CREATE TABLE settings (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (scope, key)
        );
        """
    )


@migrations()
def m0002_full_text(db: Database) -> None:
    db.executescript(
        _CLAIM_SEARCH_VIEW
        + """;
        CREATE VIRTUAL TABLE claims_fts USING fts5 (
            claim, quote, speaker, incident, tags, sources,
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE VIRTUAL TABLE claims_fts_vocab USING fts5vocab (claims_fts, 'row');
        """
        + _fts_triggers()
    )


@migrations()
def m0003_pinned_summaries(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE pinned_summaries (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            channel_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (scope, channel_id, message_id)
        );
        CREATE INDEX pinned_summaries_incident ON pinned_summaries (scope, incident_id);
        """
    )


@migrations()
def m0004_claim_vectors(db: Database) -> None:
    """Sentence embeddings of claims for semantic matching, one per claim, tagged with the model that made them.

    ``id`` grows with every write, so a reader can load only what is new. Changing what a vector was made
    from (the claim's text, quote or speaker; the speaker's name or role) deletes it: it is made again."""
    db.executescript(
        """
        CREATE TABLE claim_vectors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            claim_id INTEGER NOT NULL UNIQUE REFERENCES claims (id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX claim_vectors_scope ON claim_vectors (scope, model, id);
        CREATE TRIGGER claim_vectors_claim_au AFTER UPDATE OF text, quote, speaker_id ON claims
        WHEN old.text IS NOT new.text OR old.quote IS NOT new.quote OR old.speaker_id IS NOT new.speaker_id BEGIN
            DELETE FROM claim_vectors WHERE claim_id = new.id;
        END;
        CREATE TRIGGER claim_vectors_speaker_au AFTER UPDATE OF name, role ON speakers
        WHEN old.name IS NOT new.name OR old.role IS NOT new.role BEGIN
            DELETE FROM claim_vectors WHERE claim_id IN (SELECT id FROM claims WHERE speaker_id = new.id);
        END;
        """
    )


# Migration 0005: the full-text index holds each claim's server as a token, so that every search and every
# statistic (document frequencies, the candidate pool) stays within the asking server.
_CLAIM_SEARCH_VIEW_2 = _CLAIM_SEARCH_VIEW.replace(
    "SELECT\n    c.id AS id,", "SELECT\n    c.id AS id,\n    'x' || hex(c.scope) AS scope_key,"
)
_FTS_COLUMNS_2 = "scope_key, " + _FTS_COLUMNS


@migrations()
def m0005_scoped_full_text(db: Database) -> None:
    db.executescript(
        """
        DROP TRIGGER IF EXISTS claims_ai; DROP TRIGGER IF EXISTS claims_au; DROP TRIGGER IF EXISTS claims_ad;
        DROP TRIGGER IF EXISTS speakers_au; DROP TRIGGER IF EXISTS incidents_au; DROP TRIGGER IF EXISTS sources_au;
        DROP TRIGGER IF EXISTS claim_sources_ai; DROP TRIGGER IF EXISTS claim_sources_ad;
        DROP TABLE IF EXISTS claims_fts_vocab; DROP TABLE IF EXISTS claims_fts; DROP VIEW IF EXISTS claim_search;
        """
        + _CLAIM_SEARCH_VIEW_2
        + """;
        CREATE VIRTUAL TABLE claims_fts USING fts5 (
            scope_key, claim, quote, speaker, incident, tags, sources,
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        INSERT INTO claims_fts (rowid, scope_key, claim, quote, speaker, incident, tags, sources)
            SELECT id, scope_key, claim, quote, speaker, incident, tags, sources FROM claim_search;
        """
        + _fts_triggers(_FTS_COLUMNS_2)
    )


@migrations()
def m0006_vectors_from_sources(db: Database) -> None:
    """A claim's vector is made from the titles of the sources it alone cites too (``claim_text``): citing a
    source, no longer citing it, a second claim citing a claim's own source, and a title's change delete the
    vectors made from the old titles."""
    db.executescript(
        """
        CREATE TRIGGER claim_vectors_sources_ai AFTER INSERT ON claim_sources BEGIN
            DELETE FROM claim_vectors WHERE claim_id = new.claim_id;
        END;
        CREATE TRIGGER claim_vectors_sources_shared_ai AFTER INSERT ON claim_sources
        WHEN (SELECT count(*) FROM (SELECT 1 FROM claim_sources WHERE source_id = new.source_id LIMIT 3)) = 2 BEGIN
            DELETE FROM claim_vectors
            WHERE claim_id IN (SELECT claim_id FROM claim_sources WHERE source_id = new.source_id);
        END;
        CREATE TRIGGER claim_vectors_sources_ad AFTER DELETE ON claim_sources BEGIN
            DELETE FROM claim_vectors WHERE claim_id = old.claim_id;
        END;
        CREATE TRIGGER claim_vectors_sources_own_ad AFTER DELETE ON claim_sources
        WHEN (SELECT count(*) FROM (SELECT 1 FROM claim_sources WHERE source_id = old.source_id LIMIT 2)) = 1 BEGIN
            DELETE FROM claim_vectors
            WHERE claim_id IN (SELECT claim_id FROM claim_sources WHERE source_id = old.source_id);
        END;
        CREATE TRIGGER claim_vectors_sources_au AFTER UPDATE OF title ON sources
        WHEN old.title IS NOT new.title BEGIN
            DELETE FROM claim_vectors WHERE claim_id IN (SELECT claim_id FROM claim_sources WHERE source_id = new.id);
        END;
        """
    )


def apply(db: Database) -> None:
    migrations.apply(db)
