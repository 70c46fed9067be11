"""The ledger store: the one public module through which the rest of the project reads and writes claims.

``Ledger`` is the SQLite implementation (the embedded default). Records (``incident_record`` …) are the plain
dicts the formats read and write.
"""

from bot.store.backups import BackupInfo, backup, restore
from bot.store.base import Change, ChangeFeed, NoChanges, VectorSearch, is_postgres_url
from bot.store.bulk import (
    Batch,
    data_token,
    load_claim_sources,
    load_claims,
    load_incidents,
    load_sources,
    load_speakers,
    next_ids,
    now,
    write_batch,
)
from bot.store.migrate import MigrationReport, migrate_ledger
from bot.store.sqlite import DEFAULT_SCOPE, Ledger, claim_record, incident_record, speaker_record
from bot.store.vectors import claim_text


def open_store(url_or_path, *, connections=None):  # a str or Path, an int; returns a bot.store.base.Store
    """The ledger at a ``postgresql://`` URL (PostgreSQL, needs the ``postgres`` extra), or at a path or
    ``sqlite:///path`` (SQLite; ``:memory:`` for a throwaway one). ``connections``: the most a PostgreSQL
    ledger's pool holds (one per thread that uses it at once; default 8)."""
    text = str(url_or_path)
    if is_postgres_url(text):
        from bot.store.postgres import PostgresLedger  # psycopg is needed only for PostgreSQL ledgers

        return PostgresLedger.open(text, max_size=connections or 8)
    text = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text.removeprefix("sqlite://")
    return Ledger.memory() if text in ("", ":memory:") else Ledger.open(text)


__all__ = [
    "DEFAULT_SCOPE",
    "BackupInfo",
    "Batch",
    "Change",
    "ChangeFeed",
    "Ledger",
    "MigrationReport",
    "NoChanges",
    "VectorSearch",
    "backup",
    "claim_record",
    "claim_text",
    "data_token",
    "incident_record",
    "is_postgres_url",
    "load_claim_sources",
    "load_claims",
    "load_incidents",
    "load_sources",
    "load_speakers",
    "migrate_ledger",
    "next_ids",
    "now",
    "restore",
    "speaker_record",
    "write_batch",
]
