"""The claims store: one SQLite file (WAL), scoped rows, typed objects, a revision for every write.

Every method takes the ``scope`` (a Discord guild id as text, or the CLI's default scope)
first, and never reads or writes a row of another scope. A ``Ledger`` owns one connection
and serialises calls on it with a lock, so it may be used from a worker thread; the bot
uses :class:`bot.discord.service.LedgerService`, which keeps one writer and runs every call off
the event loop.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

import bot.store.clock as clock
from bot.errors import InvalidInputError, LedgerBusyError, NotFoundError
from bot.models import Claim, Evidence, EvidenceStatus, Incident, Revision, Source, Speaker, SpeakerKind
from bot.store.base import ChangeCallback, ChangeFeed, NoChanges
from bot.store.schema import apply as apply_schema
from bot.store.search import SqliteSearch
from bot.store.vectors import SqliteVectors
from bot.validation import (
    MAX_ALIASES,
    MAX_LINKS,
    MAX_SOURCES,
    clean_list,
    clean_slug,
    clean_tags,
    clean_text,
    clean_url,
    closest_names,
    parse_kind,
    parse_partial_date,
    parse_status,
    slugify,
)

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "local"
BUSY_TIMEOUT = 60.0  # seconds a write waits for another process's write to finish
_UNSET: Any = object()

_CLAIM_COLUMNS = (
    "c.id, c.scope, c.ref, c.incident_id, c.speaker_id, c.text, c.quote, c.said_at, c.said_where, c.tags, "
    "c.evidence_status, c.evidence_details, c.evidence_links, c.removed_reason, c.created_at, c.updated_at"
)


def _json_list(value: str | None) -> tuple[str, ...]:
    return tuple(json.loads(value)) if value else ()


class Ledger:
    """The store API. Construct with :meth:`open` (a file) or :meth:`memory` (tests)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self._lock = threading.RLock()
        self.search = SqliteSearch(self.conn, self._lock)
        self.vectors = SqliteVectors(self.conn, self._lock)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        apply_schema(self.db)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT)
        db = Database(conn)
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        return cls(db)

    @classmethod
    def memory(cls) -> Ledger:
        return cls(Database(sqlite3.connect(":memory:", check_same_thread=False)))

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def listen(self, callback: ChangeCallback) -> ChangeFeed:
        """Changes written by other processes: none to tell. A SQLite ledger has one bot process writing it, which
        tells itself of its writes; another process (the command line) shows at the next read, and pinned summaries
        catch up when the bot starts."""
        return NoChanges()

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """All writes inside succeed together or not at all (nests with savepoints).

        The outermost transaction starts as a write (``BEGIN IMMEDIATE``): a writer that finds another process
        writing waits its turn (the busy timeout) instead of failing when a read would upgrade to a write."""
        with self._lock:
            if self.conn.in_transaction:
                with self.db.atomic():
                    yield self
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise LedgerBusyError(
                    "The ledger is busy with another long write (an import?); try again in a minute."
                ) from error
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cursor = self.conn.execute(sql, params)
            except UnicodeEncodeError:  # a lone surrogate (e.g. "\ud800" in imported JSON) in a lookup key
                raise InvalidInputError("The text holds characters that are not valid Unicode.") from None
            keys = [d[0] for d in cursor.description]
            return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def _revise(
        self, scope: str, entity: str, entity_id: int, action: str, actor: str, old: dict | None, new: dict | None
    ) -> None:
        self.db.execute(
            "INSERT INTO revisions (scope, entity, entity_id, action, actor, at, old, new) VALUES (?,?,?,?,?,?,?,?)",
            [
                scope,
                entity,
                entity_id,
                action,
                clean_text(actor, "actor", required=True, multiline=False),
                clock.now(),
                json.dumps(old, ensure_ascii=False) if old is not None else None,
                json.dumps(new, ensure_ascii=False) if new is not None else None,
            ],
        )

    # ---------------------------------------------------------------- incidents

    def _incident(self, row: dict[str, Any]) -> Incident:
        return Incident(
            id=row["id"],
            scope=row["scope"],
            slug=row["slug"],
            title=row["title"],
            date=row["date"],
            place=row["place"],
            summary=row["summary"],
            aliases=_json_list(row["aliases"]),
        )

    def list_incidents(self, scope: str) -> list[Incident]:
        rows = self._rows("SELECT * FROM incidents WHERE scope = ? ORDER BY date DESC, title, id", [scope])
        return [self._incident(r) for r in rows]

    def get_incident(self, scope: str, key: str | int) -> Incident:
        """By id (an int), or by slug, title or alias (a str, case-insensitive: a title made of digits is a
        title, never an id); a miss suggests the closest incidents."""
        incidents = self.list_incidents(scope)
        if isinstance(key, int):
            for inc in incidents:
                if inc.id == key:
                    return inc
            raise NotFoundError("incident", f"#{key}")
        text = key.strip()
        for inc in incidents:
            if text.lower() == inc.slug:
                return inc
        folded = text.casefold()
        for inc in incidents:
            if folded == inc.title.casefold() or folded in (a.casefold() for a in inc.aliases):
                return inc
        names = {inc.slug: [inc.slug, inc.title, *inc.aliases] for inc in incidents}
        raise NotFoundError("incident", f"'{text}'", closest_names(text, names))

    def create_incident(
        self,
        scope: str,
        *,
        title: str,
        slug: str | None = None,
        date: str | None = None,
        place: str | None = None,
        summary: str | None = None,
        aliases: Iterable[str] = (),
        actor: str,
    ) -> Incident:
        title_clean = clean_text(title, "title", required=True, multiline=False)
        assert title_clean is not None
        record = {
            "slug": clean_slug(slug or slugify(title_clean)),
            "title": title_clean,
            "date": parse_partial_date(date),
            "place": clean_text(place, "place", multiline=False),
            "summary": clean_text(summary, "summary"),
            "aliases": list(clean_list(aliases, "alias", limit=MAX_ALIASES)),
        }
        with self.transaction():
            if self._rows("SELECT 1 FROM incidents WHERE scope = ? AND slug = ?", [scope, record["slug"]]):
                raise InvalidInputError(f"An incident with the slug '{record['slug']}' already exists.", "slug")
            now = clock.now()
            cursor = self.db.execute(
                "INSERT INTO incidents (scope, slug, title, date, place, summary, aliases, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [scope, *_incident_values(record), now, now],
            )
            incident_id = cursor.lastrowid
            assert incident_id is not None
            self._revise(scope, "incident", incident_id, "create", actor, None, record)
        return self.get_incident(scope, incident_id)

    def update_incident(
        self,
        scope: str,
        key: str | int,
        *,
        actor: str,
        title: str = _UNSET,
        date: str | None = _UNSET,
        place: str | None = _UNSET,
        summary: str | None = _UNSET,
        aliases: Iterable[str] = _UNSET,
    ) -> Incident:
        with self.transaction():
            incident = self.get_incident(scope, key)
            old = incident_record(incident)
            new = dict(old)
            if title is not _UNSET:
                new["title"] = clean_text(title, "title", required=True, multiline=False)
            if date is not _UNSET:
                new["date"] = parse_partial_date(date)
            if place is not _UNSET:
                new["place"] = clean_text(place, "place", multiline=False)
            if summary is not _UNSET:
                new["summary"] = clean_text(summary, "summary")
            if aliases is not _UNSET:
                new["aliases"] = list(clean_list(aliases, "alias", limit=MAX_ALIASES))
            if new != old:
                self.db.execute(
                    "UPDATE incidents SET slug=?, title=?, date=?, place=?, summary=?, aliases=?, updated_at=?"
                    " WHERE id = ? AND scope = ?",
                    [*_incident_values(new), clock.now(), incident.id, scope],
                )
                self._revise(scope, "incident", incident.id, "update", actor, old, new)
        return self.get_incident(scope, incident.id)

    # ----------------------------------------------------------------- speakers

    def _speaker(self, row: dict[str, Any]) -> Speaker:
        return Speaker(
            id=row["id"],
            scope=row["scope"],
            name=row["name"],
            role=row["role"],
            kind=SpeakerKind(row["kind"]),
            aliases=_json_list(row["aliases"]),
        )

    def list_speakers(self, scope: str) -> list[Speaker]:
        rows = self._rows("SELECT * FROM speakers WHERE scope = ? ORDER BY name COLLATE NOCASE, id", [scope])
        return [self._speaker(r) for r in rows]

    def find_speaker(self, scope: str, name: str) -> Speaker | None:
        """Exact (case-insensitive) name or alias, or None."""
        folded = name.strip().casefold()
        speakers = self.list_speakers(scope)
        for sp in speakers:
            if sp.name.casefold() == folded:
                return sp
        for sp in speakers:
            if folded in (a.casefold() for a in sp.aliases):
                return sp
        return None

    def get_speaker(self, scope: str, key: str | int) -> Speaker:
        """By id (an int), or by name or alias (a str: a name made of digits is a name, never an id)."""
        if isinstance(key, int):
            rows = self._rows("SELECT * FROM speakers WHERE scope = ? AND id = ?", [scope, key])
            if not rows:
                raise NotFoundError("speaker", f"#{key}")
            return self._speaker(rows[0])
        text = key.strip()
        found = self.find_speaker(scope, text)
        if found:
            return found
        names = {sp.name: [sp.name, *sp.aliases] for sp in self.list_speakers(scope)}
        raise NotFoundError("speaker", f"'{text}'", closest_names(text, names))

    def create_speaker(
        self,
        scope: str,
        *,
        name: str,
        role: str | None = None,
        kind: str | SpeakerKind | None = None,
        aliases: Iterable[str] = (),
        actor: str,
    ) -> Speaker:
        record = {
            "name": clean_text(name, "name", required=True, multiline=False),
            "role": clean_text(role, "role", multiline=False),
            "kind": parse_kind(kind).value,
            "aliases": list(clean_list(aliases, "alias", limit=MAX_ALIASES)),
        }
        with self.transaction():
            if self._rows(
                "SELECT 1 FROM speakers WHERE scope = ? AND name = ? COLLATE NOCASE", [scope, record["name"]]
            ):
                raise InvalidInputError(f"A speaker named '{record['name']}' already exists.", "name")
            now = clock.now()
            cursor = self.db.execute(
                "INSERT INTO speakers (scope, name, role, kind, aliases, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?)",
                [scope, *_speaker_values(record), now, now],
            )
            speaker_id = cursor.lastrowid
            assert speaker_id is not None
            self._revise(scope, "speaker", speaker_id, "create", actor, None, record)
        return self.get_speaker(scope, speaker_id)

    def update_speaker(
        self,
        scope: str,
        key: str | int,
        *,
        actor: str,
        name: str = _UNSET,
        role: str | None = _UNSET,
        kind: str | None = _UNSET,
        aliases: Iterable[str] = _UNSET,
    ) -> Speaker:
        with self.transaction():
            speaker = self.get_speaker(scope, key)
            old = speaker_record(speaker)
            new = dict(old)
            if name is not _UNSET:
                new["name"] = clean_text(name, "name", required=True, multiline=False)
                clash = self.find_speaker(scope, new["name"])
                if clash and clash.id != speaker.id and clash.name.casefold() == new["name"].casefold():
                    raise InvalidInputError(f"A speaker named '{new['name']}' already exists.", "name")
            if role is not _UNSET:
                new["role"] = clean_text(role, "role", multiline=False)
            if kind is not _UNSET:
                new["kind"] = parse_kind(kind).value
            if aliases is not _UNSET:
                new["aliases"] = list(clean_list(aliases, "alias", limit=MAX_ALIASES))
            if new != old:
                self.db.execute(
                    "UPDATE speakers SET name=?, role=?, kind=?, aliases=?, updated_at=? WHERE id = ? AND scope = ?",
                    [*_speaker_values(new), clock.now(), speaker.id, scope],
                )
                self._revise(scope, "speaker", speaker.id, "update", actor, old, new)
        return self.get_speaker(scope, speaker.id)

    def add_speaker_alias(self, scope: str, key: str | int, alias: str, *, actor: str) -> Speaker:
        speaker = self.get_speaker(scope, key)
        return self.update_speaker(scope, speaker.id, actor=actor, aliases=[*speaker.aliases, alias])

    def remove_speaker_alias(self, scope: str, key: str | int, alias: str, *, actor: str) -> Speaker:
        speaker = self.get_speaker(scope, key)
        kept = [a for a in speaker.aliases if a.casefold() != alias.strip().casefold()]
        if len(kept) == len(speaker.aliases):
            raise NotFoundError("alias", f"'{alias}' of {speaker.name}", list(speaker.aliases)[:5])
        return self.update_speaker(scope, speaker.id, actor=actor, aliases=kept)

    def merge_speakers(self, scope: str, source: str | int, target: str | int, *, actor: str) -> Speaker:
        """Move every claim of ``source`` to ``target``, keep its name as an alias, delete ``source``."""
        with self.transaction():
            src = self.get_speaker(scope, source)
            dst = self.get_speaker(scope, target)
            if src.id == dst.id:
                raise InvalidInputError("A speaker cannot be merged into itself.", "speaker")
            claim_ids = [r["id"] for r in self._rows("SELECT id FROM claims WHERE speaker_id = ?", [src.id])]
            for claim_id in claim_ids:
                self.update_claim(scope, claim_id, actor=actor, speaker=dst.name)
            merged = self.update_speaker(scope, dst.id, actor=actor, aliases=[*dst.aliases, src.name, *src.aliases])
            self.db.execute("DELETE FROM speakers WHERE id = ? AND scope = ?", [src.id, scope])
            self._revise(scope, "speaker", src.id, "merge", actor, speaker_record(src), {"merged_into": dst.name})
        return merged

    # ------------------------------------------------------------------ sources

    def _source_id(self, scope: str, source: dict[str, Any]) -> int:
        title = clean_text(source.get("title"), "title", multiline=False)
        url = clean_url(source.get("url"), "source link")
        publisher = clean_text(source.get("publisher"), "publisher", multiline=False)
        if title is None:
            if url is None:
                raise InvalidInputError("A source needs a title or a link.", "source")
            title = url
        rows = self._rows(
            "SELECT id, publisher FROM sources WHERE scope = ? AND title = ? AND coalesce(url, '') = ?",
            [scope, title, url or ""],
        )
        if rows:
            if publisher and rows[0]["publisher"] != publisher:
                self.db.execute("UPDATE sources SET publisher = ? WHERE id = ?", [publisher, rows[0]["id"]])
            return rows[0]["id"]
        cursor = self.db.execute(
            "INSERT INTO sources (scope, url, title, publisher) VALUES (?,?,?,?)", [scope, url, title, publisher]
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # ------------------------------------------------------------------- claims

    def _claims_from_rows(self, scope: str, rows: list[dict[str, Any]]) -> list[Claim]:
        if not rows:
            return []
        speaker_ids = {r["speaker_id"] for r in rows if r["speaker_id"] is not None}
        incident_ids = {r["incident_id"] for r in rows if r["incident_id"] is not None}
        claim_ids = [r["id"] for r in rows]
        speakers = {
            r["id"]: self._speaker(r)
            for r in self._rows(
                f"SELECT * FROM speakers WHERE id IN ({','.join('?' * len(speaker_ids))})", list(speaker_ids)
            )
        }
        incidents = {
            r["id"]: self._incident(r)
            for r in self._rows(
                f"SELECT * FROM incidents WHERE id IN ({','.join('?' * len(incident_ids))})", list(incident_ids)
            )
        }
        sources: dict[int, list[Source]] = {}
        for r in self._rows(
            "SELECT cs.claim_id, s.id, s.url, s.title, s.publisher FROM claim_sources cs JOIN sources s"
            f" ON s.id = cs.source_id WHERE cs.claim_id IN ({','.join('?' * len(claim_ids))})"
            " ORDER BY cs.claim_id, cs.position, s.id",
            claim_ids,
        ):
            sources.setdefault(r["claim_id"], []).append(
                Source(id=r["id"], title=r["title"], url=r["url"], publisher=r["publisher"])
            )
        return [
            Claim(
                id=r["id"],
                scope=r["scope"],
                ref=r["ref"],
                text=r["text"],
                quote=r["quote"],
                said_at=r["said_at"],
                said_where=r["said_where"],
                tags=_json_list(r["tags"]),
                incident=incidents.get(r["incident_id"]),
                speaker=speakers.get(r["speaker_id"]),
                evidence=Evidence(
                    status=EvidenceStatus(r["evidence_status"]),
                    details=r["evidence_details"],
                    links=_json_list(r["evidence_links"]),
                ),
                sources=tuple(sources.get(r["id"], ())),
                removed_reason=r["removed_reason"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    def get_claims(self, scope: str, ids: Sequence[int], *, include_removed: bool = False) -> list[Claim]:
        """The claims with these ids in this scope, in the order given (missing ids are skipped)."""
        if not ids:
            return []
        rows = self._rows(
            f"SELECT {_CLAIM_COLUMNS} FROM claims c WHERE c.scope = ? AND c.id IN ({','.join('?' * len(ids))})"
            + ("" if include_removed else " AND c.removed_reason IS NULL"),
            [scope, *ids],
        )
        by_id = {c.id: c for c in self._claims_from_rows(scope, rows)}
        return [by_id[i] for i in ids if i in by_id]

    def get_claim(self, scope: str, claim_id: int | str) -> Claim:
        """One claim (removed ones included) by id (an int) or by ref (a str).

        A str that is no claim's ref but reads as an id ("12", "#12", as typed in Discord or on the command
        line) finds that id: a ref always wins, so a claim whose ref is all digits is found by its ref."""
        if isinstance(claim_id, int):
            found = self.get_claims(scope, [claim_id], include_removed=True)
            if not found:
                raise NotFoundError("claim", f"#{claim_id}")
            return found[0]
        text = claim_id.strip()
        rows = self._rows(f"SELECT {_CLAIM_COLUMNS} FROM claims c WHERE c.scope = ? AND c.ref = ?", [scope, text])
        if rows:
            return self._claims_from_rows(scope, rows)[0]
        digits = text.removeprefix("#")
        if digits.isascii() and digits.isdigit() and len(digits) < 19:
            return self.get_claim(scope, int(digits))
        raise NotFoundError("claim", f"'{text}'")

    def list_claims(
        self,
        scope: str,
        *,
        incident: str | int | None = None,
        speaker: str | int | None = None,
        tag: str | None = None,
        include_removed: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Claim]:
        where = ["c.scope = ?"]
        params: list[Any] = [scope]
        if incident is not None:
            where.append("c.incident_id = ?")
            params.append(self.get_incident(scope, incident).id)
        if speaker is not None:
            where.append("c.speaker_id = ?")
            params.append(self.get_speaker(scope, speaker).id)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)")
            params.append(tag)
        if not include_removed:
            where.append("c.removed_reason IS NULL")
        sql = f"SELECT {_CLAIM_COLUMNS} FROM claims c WHERE {' AND '.join(where)} ORDER BY c.id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return self._claims_from_rows(scope, self._rows(sql, params))

    def count_claims(self, scope: str, *, include_removed: bool = False) -> int:
        sql = "SELECT count(*) AS n FROM claims WHERE scope = ?"
        if not include_removed:
            sql += " AND removed_reason IS NULL"
        return self._rows(sql, [scope])[0]["n"]

    def _claim_record(
        self,
        scope: str,
        *,
        text: str,
        quote: str | None,
        speaker: str | None,
        incident: str | None,
        said_at: str | None,
        said_where: str | None,
        tags: Iterable[str] | str | None,
        evidence_status: str | EvidenceStatus | None,
        evidence_details: str | None,
        evidence_links: Iterable[str] | str | None,
        sources: Iterable[dict[str, Any]] | None,
        ref: str | None,
    ) -> dict[str, Any]:
        """Validate every field; returns the export-shaped record (names, not ids)."""
        links = clean_list(evidence_links, "link", limit=MAX_LINKS)
        source_list = [dict(s) for s in (sources or [])]
        if len(source_list) > MAX_SOURCES:
            raise InvalidInputError(f"At most {MAX_SOURCES} sources per claim; got {len(source_list)}.", "sources")
        speaker_name = clean_text(speaker, "name", multiline=False)
        incident_key = clean_text(incident, "incident", multiline=False)
        return {
            "ref": clean_text(ref, "ref", multiline=False),
            "incident": self.get_incident(scope, incident_key).slug if incident_key else None,
            "speaker": self.get_speaker(scope, speaker_name).name if speaker_name else None,
            "claim": clean_text(text, "claim", required=True),
            "quote": clean_text(quote, "quote"),
            "said_at": parse_partial_date(said_at),
            "said_where": clean_text(said_where, "said_where", multiline=False),
            "tags": list(clean_tags(tags)),
            "evidence": {
                "status": parse_status(evidence_status).value,
                "details": clean_text(evidence_details, "details"),
                "links": [clean_url(link, "evidence link") for link in links],
            },
            "sources": [
                {
                    "url": clean_url(s.get("url"), "source link"),
                    "title": clean_text(s.get("title") or s.get("url"), "title", required=True, multiline=False),
                    "publisher": clean_text(s.get("publisher"), "publisher", multiline=False),
                }
                for s in source_list
            ],
            "removed": None,
        }

    def _write_claim(self, scope: str, claim_id: int | None, record: dict[str, Any]) -> int:
        speaker_id = self.get_speaker(scope, record["speaker"]).id if record["speaker"] else None
        incident_id = self.get_incident(scope, record["incident"]).id if record["incident"] else None
        evidence = record["evidence"]
        removed = record.get("removed")
        values = [
            record["ref"],
            incident_id,
            speaker_id,
            record["claim"],
            record["quote"],
            record["said_at"],
            record["said_where"],
            json.dumps(record["tags"], ensure_ascii=False),
            evidence["status"],
            evidence["details"],
            json.dumps(evidence["links"], ensure_ascii=False),
            removed["reason"] if removed else None,
            clock.now(),
        ]
        if claim_id is None:
            cursor = self.db.execute(
                "INSERT INTO claims (ref, incident_id, speaker_id, text, quote, said_at, said_where, tags,"
                " evidence_status, evidence_details, evidence_links, removed_reason, updated_at, created_at, scope)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [*values, values[-1], scope],
            )
            assert cursor.lastrowid is not None
            claim_id = cursor.lastrowid
        else:
            self.db.execute(
                "UPDATE claims SET ref=?, incident_id=?, speaker_id=?, text=?, quote=?, said_at=?, said_where=?,"
                " tags=?, evidence_status=?, evidence_details=?, evidence_links=?, removed_reason=?, updated_at=?"
                " WHERE id = ? AND scope = ?",
                [*values, claim_id, scope],
            )
        wanted = [self._source_id(scope, s) for s in record["sources"]]
        current = [
            r["source_id"]
            for r in self._rows(
                "SELECT source_id FROM claim_sources WHERE claim_id = ? ORDER BY position, source_id", [claim_id]
            )
        ]
        if current != wanted:
            self.db.execute("DELETE FROM claim_sources WHERE claim_id = ?", [claim_id])
            for position, source_id in enumerate(dict.fromkeys(wanted)):
                self.db.execute(
                    "INSERT INTO claim_sources (claim_id, source_id, position) VALUES (?,?,?)",
                    [claim_id, source_id, position],
                )
        return claim_id

    def add_claim(
        self,
        scope: str,
        *,
        text: str,
        actor: str,
        quote: str | None = None,
        speaker: str | None = None,
        incident: str | None = None,
        said_at: str | None = None,
        said_where: str | None = None,
        tags: Iterable[str] | str | None = None,
        evidence_status: str | EvidenceStatus | None = None,
        evidence_details: str | None = None,
        evidence_links: Iterable[str] | str | None = None,
        sources: Iterable[dict[str, Any]] | None = None,
        ref: str | None = None,
    ) -> Claim:
        with self.transaction():
            record = self._claim_record(
                scope,
                text=text,
                quote=quote,
                speaker=speaker,
                incident=incident,
                said_at=said_at,
                said_where=said_where,
                tags=tags,
                evidence_status=evidence_status,
                evidence_details=evidence_details,
                evidence_links=evidence_links,
                sources=sources,
                ref=ref,
            )
            if record["ref"] and self._rows("SELECT 1 FROM claims WHERE scope = ? AND ref = ?", [scope, record["ref"]]):
                raise InvalidInputError(f"A claim with the ref '{record['ref']}' already exists.", "ref")
            claim_id = self._write_claim(scope, None, record)
            self._revise(scope, "claim", claim_id, "create", actor, None, record)
        return self.get_claim(scope, claim_id)

    def update_claim(self, scope: str, claim_id: int | str, *, actor: str, **changes: Any) -> Claim:
        """Change some fields of a claim. Keys: text, quote, speaker, incident, said_at, said_where, tags,
        evidence_status, evidence_details, evidence_links, sources, ref."""
        allowed = {
            "text", "quote", "speaker", "incident", "said_at", "said_where", "tags",
            "evidence_status", "evidence_details", "evidence_links", "sources", "ref",
        }  # fmt: skip
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInputError(f"Unknown claim field(s): {', '.join(sorted(unknown))}.")
        with self.transaction():
            claim = self.get_claim(scope, claim_id)
            old = claim_record(claim)
            merged = {
                "text": claim.text,
                "quote": claim.quote,
                "speaker": claim.speaker.name if claim.speaker else None,
                "incident": claim.incident.slug if claim.incident else None,
                "said_at": claim.said_at,
                "said_where": claim.said_where,
                "tags": list(claim.tags),
                "evidence_status": claim.evidence.status,
                "evidence_details": claim.evidence.details,
                "evidence_links": list(claim.evidence.links),
                "sources": old["sources"],
                "ref": claim.ref,
            }
            merged.update(changes)
            new = self._claim_record(scope, **merged)
            new["removed"] = old["removed"]
            if (
                new["ref"]
                and new["ref"] != claim.ref
                and self._rows("SELECT 1 FROM claims WHERE scope = ? AND ref = ?", [scope, new["ref"]])
            ):
                raise InvalidInputError(f"A claim with the ref '{new['ref']}' already exists.", "ref")
            if new != old:
                self._write_claim(scope, claim.id, new)
                self._revise(scope, "claim", claim.id, "update", actor, old, new)
        return self.get_claim(scope, claim.id)

    def set_evidence(
        self,
        scope: str,
        claim_id: int | str,
        *,
        status: str | EvidenceStatus,
        details: str | None,
        links: Iterable[str] | str | None = None,
        actor: str,
    ) -> Claim:
        changes: dict[str, Any] = {"evidence_status": status, "evidence_details": details}
        if links is not None:
            changes["evidence_links"] = links
        return self.update_claim(scope, claim_id, actor=actor, **changes)

    def remove_claim(self, scope: str, claim_id: int | str, *, reason: str, actor: str) -> Claim:
        """Soft delete: hidden from answers, kept with its history."""
        why = clean_text(reason, "reason", required=True, multiline=False)
        with self.transaction():
            claim = self.get_claim(scope, claim_id)
            if claim.removed:
                raise InvalidInputError(f"Claim #{claim.id} is already removed ({claim.removed_reason}).")
            old = claim_record(claim)
            self.db.execute(
                "UPDATE claims SET removed_reason = ?, updated_at = ? WHERE id = ? AND scope = ?",
                [why, clock.now(), claim.id, scope],
            )
            self._revise(scope, "claim", claim.id, "remove", actor, old, {**old, "removed": {"reason": why}})
        return self.get_claim(scope, claim.id)

    def restore_claim(self, scope: str, claim_id: int | str, *, actor: str) -> Claim:
        with self.transaction():
            claim = self.get_claim(scope, claim_id)
            if not claim.removed:
                raise InvalidInputError(f"Claim #{claim.id} is not removed.")
            old = claim_record(claim)
            self.db.execute(
                "UPDATE claims SET removed_reason = NULL, updated_at = ? WHERE id = ? AND scope = ?",
                [clock.now(), claim.id, scope],
            )
            self._revise(scope, "claim", claim.id, "restore", actor, old, {**old, "removed": None})
        return self.get_claim(scope, claim.id)

    def undo_claim(self, scope: str, claim_id: int | str, *, actor: str) -> Claim:
        """Revert the last change to a claim (itself recorded as a new revision, so undo can be undone)."""
        with self.transaction():
            claim = self.get_claim(scope, claim_id)
            revisions = self.history(scope, "claim", claim.id)
            if not revisions:
                raise InvalidInputError(f"Claim #{claim.id} has no history to undo.")
            last = revisions[-1]
            if last.old is None:
                raise InvalidInputError(
                    f"The last change to claim #{claim.id} created it; remove it instead of undoing."
                )
            target = dict(last.old)
            current = claim_record(claim)
            for name in ("speaker", "incident"):
                if target.get(name):
                    try:
                        getattr(self, f"get_{name}")(scope, target[name])
                    except NotFoundError:
                        raise InvalidInputError(
                            f"Cannot undo: the {name} '{target[name]}' no longer exists in this ledger."
                        ) from None
            ref = target.get("ref")
            if ref and ref != claim.ref:
                holder = self._rows("SELECT id FROM claims WHERE scope = ? AND ref = ?", [scope, ref])
                if holder:
                    raise InvalidInputError(
                        f"Cannot undo: it would give claim #{claim.id} back the ref '{ref}', which claim "
                        f"#{holder[0]['id']} uses now. Change that claim's ref first."
                    )
            self._write_claim(scope, claim.id, target)
            self._revise(scope, "claim", claim.id, "undo", actor, current, target)
        return self.get_claim(scope, claim.id)

    def history(self, scope: str, entity: str, entity_id: int) -> list[Revision]:
        rows = self._rows(
            "SELECT * FROM revisions WHERE scope = ? AND entity = ? AND entity_id = ? ORDER BY id",
            [scope, entity, entity_id],
        )
        return [_revision(r) for r in rows]

    def revisions_after(self, scope: str, after_id: int, *, limit: int = 50) -> list[Revision]:
        """Revisions of this scope newer than ``after_id``, oldest first."""
        rows = self._rows(
            "SELECT * FROM revisions WHERE scope = ? AND id > ? ORDER BY id LIMIT ?", [scope, after_id, limit]
        )
        return [_revision(r) for r in rows]

    def last_revision_id(self, scope: str) -> int:
        return self._rows("SELECT coalesce(max(id), 0) AS n FROM revisions WHERE scope = ?", [scope])[0]["n"]

    def recent_revisions(self, scope: str, *, limit: int = 10) -> list[Revision]:
        rows = self._rows("SELECT * FROM revisions WHERE scope = ? ORDER BY id DESC LIMIT ?", [scope, limit])
        return [_revision(r) for r in rows]

    # ----------------------------------------------------------------- settings

    def get_setting(self, scope: str, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM settings WHERE scope = ? AND key = ?", [scope, key])
        return rows[0]["value"] if rows else default

    def set_setting(self, scope: str, key: str, value: str | None, *, actor: str) -> None:
        key = clean_text(key, "setting_key", required=True, multiline=False)
        value = clean_text(value, "setting", multiline=False)
        with self.transaction():
            old = self.get_setting(scope, key)
            if value is None:
                self.db.execute("DELETE FROM settings WHERE scope = ? AND key = ?", [scope, key])
            else:
                self.db.execute(
                    "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                    [scope, key, value],
                )
            self._revise(scope, "setting", 0, "set", actor, {key: old}, {key: value})

    def set_marker(self, scope: str, key: str, value: str) -> None:
        """Bookkeeping the bot keeps per server (such as the last revision posted to the audit channel): stored
        like a setting, but not a change to the ledger, so it leaves no revision."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                [scope, clean_text(key, "setting_key", required=True, multiline=False), value],
            )

    def evidence_change_dates(self, scope: str) -> dict[int, str]:
        """Claim id → date (YYYY-MM-DD) of the last revision that changed its evidence (creation included)."""
        rows = self._rows(
            "SELECT entity_id, max(at) AS at FROM revisions WHERE scope = ? AND entity = 'claim'"
            " AND json_extract(old, '$.evidence') IS NOT json_extract(new, '$.evidence') GROUP BY entity_id",
            [scope],
        )
        return {r["entity_id"]: str(r["at"])[:10] for r in rows}

    def find_claim(
        self, scope: str, *, ref: str | None = None, text: str | None = None, speaker: str = ""
    ) -> Claim | None:
        """The claim with this ref; or, without a ref, the first unreferenced claim with this exact text and
        speaker name (case-insensitive; "" for none). None when there is no such claim."""
        if ref:
            rows = self._rows("SELECT id FROM claims WHERE scope = ? AND ref = ?", [scope, ref])
        elif text:
            rows = self._rows(
                "SELECT c.id FROM claims c LEFT JOIN speakers s ON s.id = c.speaker_id"
                " WHERE c.scope = ? AND c.text = ? AND c.ref IS NULL AND coalesce(s.name, '') = ? COLLATE NOCASE"
                " ORDER BY c.id LIMIT 1",
                [scope, text, speaker],
            )
        else:
            return None
        return self.get_claim(scope, rows[0]["id"]) if rows else None

    # -------------------------------------------------------- pinned summaries

    def add_pinned_summary(self, scope: str, incident: str | int, channel_id: int, message_id: int) -> None:
        incident_id = self.get_incident(scope, incident).id
        now = clock.now()
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO pinned_summaries (scope, incident_id, channel_id, message_id, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?)",
                [scope, incident_id, str(channel_id), str(message_id), now, now],
            )

    def pinned_summaries(self, scope: str, incident: str | int | None = None) -> list[tuple[int, int, int]]:
        """(incident id, channel id, message id) of the summaries pinned in this scope."""
        sql = "SELECT incident_id, channel_id, message_id FROM pinned_summaries WHERE scope = ?"
        params: list[Any] = [scope]
        if incident is not None:
            sql += " AND incident_id = ?"
            params.append(self.get_incident(scope, incident).id)
        return [
            (r["incident_id"], int(r["channel_id"]), int(r["message_id"]))
            for r in self._rows(sql + " ORDER BY id", params)
        ]

    def all_pinned_summaries(self) -> list[tuple[str, int]]:
        """(scope, incident id) of every tracked summary, across scopes (for the bot's start-up refresh)."""
        return [
            (r["scope"], r["incident_id"])
            for r in self._rows("SELECT DISTINCT scope, incident_id FROM pinned_summaries")
        ]

    def forget_pinned_summary(self, scope: str, message_id: int) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM pinned_summaries WHERE scope = ? AND message_id = ?", [scope, str(message_id)]
            )
        return cursor.rowcount

    def scopes(self) -> list[str]:
        return [r["scope"] for r in self._rows("SELECT DISTINCT scope FROM claims UNION SELECT scope FROM incidents")]

    def is_empty(self, scope: str) -> bool:
        return not self._rows(
            "SELECT 1 FROM claims WHERE scope = ? UNION ALL SELECT 1 FROM incidents WHERE scope = ? LIMIT 1",
            [scope, scope],
        )


# --------------------------------------------------------------- records (export shape)


def incident_record(incident: Incident) -> dict[str, Any]:
    return {
        "slug": incident.slug,
        "title": incident.title,
        "date": incident.date,
        "place": incident.place,
        "summary": incident.summary,
        "aliases": list(incident.aliases),
    }


def speaker_record(speaker: Speaker) -> dict[str, Any]:
    return {"name": speaker.name, "role": speaker.role, "kind": speaker.kind.value, "aliases": list(speaker.aliases)}


def claim_record(claim: Claim) -> dict[str, Any]:
    return {
        "ref": claim.ref,
        "incident": claim.incident.slug if claim.incident else None,
        "speaker": claim.speaker.name if claim.speaker else None,
        "claim": claim.text,
        "quote": claim.quote,
        "said_at": claim.said_at,
        "said_where": claim.said_where,
        "tags": list(claim.tags),
        "evidence": {
            "status": claim.evidence.status.value,
            "details": claim.evidence.details,
            "links": list(claim.evidence.links),
        },
        "sources": [{"url": s.url, "title": s.title, "publisher": s.publisher} for s in claim.sources],
        "removed": {"reason": claim.removed_reason} if claim.removed else None,
    }


def _revision(row: dict[str, Any]) -> Revision:
    return Revision(
        id=row["id"],
        scope=row["scope"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        action=row["action"],
        actor=row["actor"],
        at=row["at"],
        old=json.loads(row["old"]) if row["old"] else None,
        new=json.loads(row["new"]) if row["new"] else None,
    )


def _incident_values(record: dict[str, Any]) -> list[Any]:
    return [
        record["slug"],
        record["title"],
        record["date"],
        record["place"],
        record["summary"],
        json.dumps(record["aliases"], ensure_ascii=False),
    ]


def _speaker_values(record: dict[str, Any]) -> list[Any]:
    return [record["name"], record["role"], record["kind"], json.dumps(record["aliases"], ensure_ascii=False)]
