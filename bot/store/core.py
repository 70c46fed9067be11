"""The ledger's logic, written once for both backends: validation, records, revisions and undo, the create /
update / remove paths, and reading claims with their speakers, incidents and sources.

:class:`LedgerCore` holds it; :class:`bot.store.sqlite.Ledger` and :class:`bot.store.postgres.PostgresLedger`
subclass it and supply only what differs: running a statement on their connection (:meth:`LedgerCore._rows`,
:meth:`LedgerCore._execute`, :meth:`LedgerCore._insert`), transactions, and a :class:`Dialect` for the few SQL
constructs that are not the same in SQLite and PostgreSQL. The core writes its statements with ``?`` placeholders;
the dialect turns each finished statement into the backend's own (:meth:`Dialect.sql`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import bot.store.clock as clock
from bot.errors import InvalidInputError, NotFoundError
from bot.models import Claim, Evidence, EvidenceStatus, Incident, Revision, Source, Speaker, SpeakerKind
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

UNSET: Any = object()  # "not given" for the keyword arguments of the update methods

CLAIM_COLUMNS = (
    "c.id, c.scope, c.ref, c.incident_id, c.speaker_id, c.text, c.quote, c.said_at, c.said_where, c.tags, "
    "c.evidence_status, c.evidence_details, c.evidence_links, c.removed_reason, c.created_at, c.updated_at"
)


def stamp(value: Any) -> Any:
    """A time as the ledger's ISO text (UTC, seconds), the form the SQLite ledger stores; PostgreSQL's
    ``timestamptz`` comes back as a ``datetime``, SQLite's text is kept as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return value


def json_list(value: Any) -> tuple[str, ...]:
    """A JSON list column: text on SQLite, already decoded (``jsonb``) on PostgreSQL."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(json.loads(value)) if value else ()
    return tuple(value)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# An incident's and a speaker's table, and the columns that hold their record's fields (named alike; lists as JSON).
ROW_COLUMNS = {
    "incident": ("incidents", ("slug", "title", "date", "place", "summary", "aliases")),
    "speaker": ("speakers", ("name", "role", "kind", "aliases")),
}


def _row_values(record: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    return [to_json(record[c]) if isinstance(record[c], list | tuple) else record[c] for c in columns]


class Cursor(Protocol):
    """What the core reads from a statement's cursor."""

    @property
    def rowcount(self) -> int: ...


class Dialect(ABC):
    """The SQL constructs in which the backends differ. Fragments use ``?`` placeholders like the core's own
    statements; :meth:`sql` turns a finished statement into the backend's form."""

    claim_sources_scoped: ClassVar[bool]  # claim_sources has a scope column (PostgreSQL: scoped foreign keys)

    @abstractmethod
    def sql(self, statement: str) -> str:
        """The statement with the backend's placeholders."""

    @abstractmethod
    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition ``column`` is one of ``values``, and its parameters."""

    @abstractmethod
    def json_list_has(self, column: str) -> str:
        """A condition: the JSON list in ``column`` holds the text ``?``."""

    @abstractmethod
    def load_json(self, value: Any) -> Any:
        """A revision body (``old``, ``new``) as read from the database, decoded."""

    @abstractmethod
    def nocase(self, expr: str) -> str:
        """``expr`` to order by, ignoring case."""

    @abstractmethod
    def equals_nocase(self, expr: str) -> str:
        """A condition: ``expr`` equals ``?``, ignoring case."""

    @abstractmethod
    def desc_nulls_last(self, expr: str) -> str:
        """``expr`` to order by, newest first and NULL last."""

    @abstractmethod
    def json_differs(self, left: str, right: str, key: str) -> str:
        """A condition: the member ``key`` of the JSON objects in ``left`` and ``right`` differ (or one lacks it)."""

    @abstractmethod
    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        """An INSERT of one row (``?`` for each column) that does nothing when it would break a unique key."""


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


class LedgerCore(ABC):
    """The store API's logic on either backend; a subclass supplies the connection and its :class:`Dialect`."""

    _dialect: ClassVar[Dialect]

    # ------------------------------------------------- what each backend supplies

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """All writes inside succeed together or not at all (nests with savepoints)."""

    @abstractmethod
    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement in the backend's own SQL; its rows, as dicts."""

    @abstractmethod
    def _execute(self, query: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement in the backend's own SQL that returns no rows."""

    @abstractmethod
    def _insert(self, query: str, params: Sequence[Any]) -> int:
        """Run one INSERT in the backend's own SQL; the new row's id."""

    # ------------------------------------------------ statements in the core's SQL

    def _fetch(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._rows(self._dialect.sql(query), params)

    def _run(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        return self._execute(self._dialect.sql(query), params).rowcount

    def _insert_id(self, query: str, params: Sequence[Any]) -> int:
        return self._insert(self._dialect.sql(query), params)

    def _revise(
        self, scope: str, entity: str, entity_id: int, action: str, actor: str, old: dict | None, new: dict | None
    ) -> None:
        self._run(
            "INSERT INTO revisions (scope, entity, entity_id, action, actor, at, old, new) VALUES (?,?,?,?,?,?,?,?)",
            [
                scope,
                entity,
                entity_id,
                action,
                clean_text(actor, "actor", required=True, multiline=False),
                clock.now(),
                to_json(old) if old is not None else None,
                to_json(new) if new is not None else None,
            ],
        )

    def _create_row(self, scope: str, entity: str, record: dict[str, Any], actor: str) -> int:
        """Insert an incident's or a speaker's row from its record, with its revision; its id."""
        table, columns = ROW_COLUMNS[entity]
        now = clock.now()
        row_id = self._insert_id(
            f"INSERT INTO {table} (scope, {', '.join(columns)}, created_at, updated_at)"
            f" VALUES ({','.join('?' * (len(columns) + 3))})",
            [scope, *_row_values(record, columns), now, now],
        )
        self._revise(scope, entity, row_id, "create", actor, None, record)
        return row_id

    def _update_row(
        self, scope: str, entity: str, row_id: int, actor: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Write an incident's or a speaker's changed record to its row, with its revision (nothing if unchanged)."""
        if new == old:
            return
        table, columns = ROW_COLUMNS[entity]
        self._run(
            f"UPDATE {table} SET {', '.join(f'{c}=?' for c in columns)}, updated_at=? WHERE id = ? AND scope = ?",
            [*_row_values(new, columns), clock.now(), row_id, scope],
        )
        self._revise(scope, entity, row_id, "update", actor, old, new)

    def _revision(self, row: dict[str, Any]) -> Revision:
        return Revision(
            id=row["id"],
            scope=row["scope"],
            entity=row["entity"],
            entity_id=row["entity_id"],
            action=row["action"],
            actor=row["actor"],
            at=stamp(row["at"]),
            old=self._dialect.load_json(row["old"]),
            new=self._dialect.load_json(row["new"]),
        )

    def _incident(self, row: dict[str, Any]) -> Incident:
        return Incident(
            id=row["id"],
            scope=row["scope"],
            slug=row["slug"],
            title=row["title"],
            date=row["date"],
            place=row["place"],
            summary=row["summary"],
            aliases=json_list(row["aliases"]),
        )

    def _speaker(self, row: dict[str, Any]) -> Speaker:
        return Speaker(
            id=row["id"],
            scope=row["scope"],
            name=row["name"],
            role=row["role"],
            kind=SpeakerKind(row["kind"]),
            aliases=json_list(row["aliases"]),
        )

    # ---------------------------------------------------------------- incidents

    def list_incidents(self, scope: str) -> list[Incident]:
        rows = self._fetch(
            f"SELECT * FROM incidents WHERE scope = ? ORDER BY {self._dialect.desc_nulls_last('date')}, title, id",
            [scope],
        )
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
            if self._fetch("SELECT 1 FROM incidents WHERE scope = ? AND slug = ?", [scope, record["slug"]]):
                raise InvalidInputError(f"An incident with the slug '{record['slug']}' already exists.", "slug")
            incident_id = self._create_row(scope, "incident", record, actor)
            return self.get_incident(scope, incident_id)

    def update_incident(
        self,
        scope: str,
        key: str | int,
        *,
        actor: str,
        title: str = UNSET,
        date: str | None = UNSET,
        place: str | None = UNSET,
        summary: str | None = UNSET,
        aliases: Iterable[str] = UNSET,
    ) -> Incident:
        with self.transaction():
            incident = self.get_incident(scope, key)
            old = incident_record(incident)
            new = dict(old)
            if title is not UNSET:
                new["title"] = clean_text(title, "title", required=True, multiline=False)
            if date is not UNSET:
                new["date"] = parse_partial_date(date)
            if place is not UNSET:
                new["place"] = clean_text(place, "place", multiline=False)
            if summary is not UNSET:
                new["summary"] = clean_text(summary, "summary")
            if aliases is not UNSET:
                new["aliases"] = list(clean_list(aliases, "alias", limit=MAX_ALIASES))
            self._update_row(scope, "incident", incident.id, actor, old, new)
            return self.get_incident(scope, incident.id)

    # ----------------------------------------------------------------- speakers

    def list_speakers(self, scope: str) -> list[Speaker]:
        rows = self._fetch(
            f"SELECT * FROM speakers WHERE scope = ? ORDER BY {self._dialect.nocase('name')}, id", [scope]
        )
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
            rows = self._fetch("SELECT * FROM speakers WHERE scope = ? AND id = ?", [scope, key])
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
            if self._fetch(
                f"SELECT 1 FROM speakers WHERE scope = ? AND {self._dialect.equals_nocase('name')}",
                [scope, record["name"]],
            ):
                raise InvalidInputError(f"A speaker named '{record['name']}' already exists.", "name")
            speaker_id = self._create_row(scope, "speaker", record, actor)
            return self.get_speaker(scope, speaker_id)

    def update_speaker(
        self,
        scope: str,
        key: str | int,
        *,
        actor: str,
        name: str = UNSET,
        role: str | None = UNSET,
        kind: str | None = UNSET,
        aliases: Iterable[str] = UNSET,
    ) -> Speaker:
        with self.transaction():
            speaker = self.get_speaker(scope, key)
            old = speaker_record(speaker)
            new = dict(old)
            if name is not UNSET:
                new["name"] = clean_text(name, "name", required=True, multiline=False)
                clash = self.find_speaker(scope, new["name"])
                if clash and clash.id != speaker.id and clash.name.casefold() == new["name"].casefold():
                    raise InvalidInputError(f"A speaker named '{new['name']}' already exists.", "name")
            if role is not UNSET:
                new["role"] = clean_text(role, "role", multiline=False)
            if kind is not UNSET:
                new["kind"] = parse_kind(kind).value
            if aliases is not UNSET:
                new["aliases"] = list(clean_list(aliases, "alias", limit=MAX_ALIASES))
            self._update_row(scope, "speaker", speaker.id, actor, old, new)
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
            claim_ids = [
                r["id"] for r in self._fetch("SELECT id FROM claims WHERE speaker_id = ? ORDER BY id", [src.id])
            ]
            for claim_id in claim_ids:
                self.update_claim(scope, claim_id, actor=actor, speaker=dst.name)
            merged = self.update_speaker(scope, dst.id, actor=actor, aliases=[*dst.aliases, src.name, *src.aliases])
            self._run("DELETE FROM speakers WHERE id = ? AND scope = ?", [src.id, scope])
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
        rows = self._fetch(
            "SELECT id, publisher FROM sources WHERE scope = ? AND title = ? AND coalesce(url, '') = ?",
            [scope, title, url or ""],
        )
        if rows:
            if publisher and rows[0]["publisher"] != publisher:
                self._run("UPDATE sources SET publisher = ? WHERE id = ?", [publisher, rows[0]["id"]])
            return rows[0]["id"]
        return self._insert_id(
            "INSERT INTO sources (scope, url, title, publisher) VALUES (?,?,?,?)", [scope, url, title, publisher]
        )

    # ------------------------------------------------------------------- claims

    def _claims_from_rows(self, scope: str, rows: list[dict[str, Any]]) -> list[Claim]:
        if not rows:
            return []
        in_list = self._dialect.in_list
        speaker_ids = sorted({r["speaker_id"] for r in rows if r["speaker_id"] is not None})
        incident_ids = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
        claim_ids = [r["id"] for r in rows]
        speakers: dict[int, Speaker] = {}
        if speaker_ids:  # (no query for an empty list: claims without a speaker, or an incident, are common)
            where, params = in_list("id", speaker_ids)
            speakers = {r["id"]: self._speaker(r) for r in self._fetch(f"SELECT * FROM speakers WHERE {where}", params)}
        incidents: dict[int, Incident] = {}
        if incident_ids:
            where, params = in_list("id", incident_ids)
            incidents = {
                r["id"]: self._incident(r) for r in self._fetch(f"SELECT * FROM incidents WHERE {where}", params)
            }
        sources: dict[int, list[Source]] = {}
        where, params = in_list("cs.claim_id", claim_ids)
        for r in self._fetch(
            "SELECT cs.claim_id, s.id, s.url, s.title, s.publisher FROM claim_sources cs JOIN sources s"
            f" ON s.id = cs.source_id WHERE {where} ORDER BY cs.claim_id, cs.position, s.id",
            params,
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
                tags=json_list(r["tags"]),
                incident=incidents.get(r["incident_id"]),
                speaker=speakers.get(r["speaker_id"]),
                evidence=Evidence(
                    status=EvidenceStatus(r["evidence_status"]),
                    details=r["evidence_details"],
                    links=json_list(r["evidence_links"]),
                ),
                sources=tuple(sources.get(r["id"], ())),
                removed_reason=r["removed_reason"],
                created_at=stamp(r["created_at"]),
                updated_at=stamp(r["updated_at"]),
            )
            for r in rows
        ]

    def get_claims(self, scope: str, ids: Sequence[int], *, include_removed: bool = False) -> list[Claim]:
        """The claims with these ids in this scope, in the order given (missing ids are skipped)."""
        if not ids:
            return []
        # ids beyond a 64-bit integer are no claim's (and neither database could compare them)
        where, params = self._dialect.in_list("c.id", [int(i) for i in ids if -(2**63) <= int(i) < 2**63])
        rows = self._fetch(
            f"SELECT {CLAIM_COLUMNS} FROM claims c WHERE c.scope = ? AND {where}"
            + ("" if include_removed else " AND c.removed_reason IS NULL"),
            [scope, *params],
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
        rows = (
            []
            if "\x00" in text  # no ref holds a NUL (PostgreSQL text cannot)
            else self._fetch(f"SELECT {CLAIM_COLUMNS} FROM claims c WHERE c.scope = ? AND c.ref = ?", [scope, text])
        )
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
            where.append(self._dialect.json_list_has("c.tags"))
            params.append(tag)
        if not include_removed:
            where.append("c.removed_reason IS NULL")
        sql = f"SELECT {CLAIM_COLUMNS} FROM claims c WHERE {' AND '.join(where)} ORDER BY c.id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return self._claims_from_rows(scope, self._fetch(sql, params))

    def count_claims(self, scope: str, *, include_removed: bool = False) -> int:
        sql = "SELECT count(*) AS n FROM claims WHERE scope = ?"
        if not include_removed:
            sql += " AND removed_reason IS NULL"
        return int(self._fetch(sql, [scope])[0]["n"])

    def claims_by_speaker(self, scope: str) -> dict[int, int]:
        """How many live claims each speaker of the scope has (speakers without claims are left out)."""
        return self._live_claims_by(scope, "speaker_id")

    def claims_by_incident(self, scope: str) -> dict[int, int]:
        """How many live claims each incident of the scope has (incidents without claims are left out)."""
        return self._live_claims_by(scope, "incident_id")

    def _live_claims_by(self, scope: str, column: str) -> dict[int, int]:
        rows = self._fetch(
            f"SELECT {column} AS key, count(*) AS n FROM claims WHERE scope = ? AND removed_reason IS NULL"
            f" AND {column} IS NOT NULL GROUP BY {column}",
            [scope],
        )
        return {int(row["key"]): int(row["n"]) for row in rows}

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
            to_json(record["tags"]),
            evidence["status"],
            evidence["details"],
            to_json(evidence["links"]),
            removed["reason"] if removed else None,
            clock.now(),
        ]
        if claim_id is None:
            claim_id = self._insert_id(
                "INSERT INTO claims (ref, incident_id, speaker_id, text, quote, said_at, said_where, tags,"
                " evidence_status, evidence_details, evidence_links, removed_reason, updated_at, created_at, scope)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [*values, values[-1], scope],
            )
        else:
            self._run(
                "UPDATE claims SET ref=?, incident_id=?, speaker_id=?, text=?, quote=?, said_at=?, said_where=?,"
                " tags=?, evidence_status=?, evidence_details=?, evidence_links=?, removed_reason=?, updated_at=?"
                " WHERE id = ? AND scope = ?",
                [*values, claim_id, scope],
            )
        wanted = [self._source_id(scope, s) for s in record["sources"]]
        current = [
            r["source_id"]
            for r in self._fetch(
                "SELECT source_id FROM claim_sources WHERE claim_id = ? ORDER BY position, source_id", [claim_id]
            )
        ]
        if current != wanted:
            self._run("DELETE FROM claim_sources WHERE claim_id = ?", [claim_id])
            for position, source_id in enumerate(dict.fromkeys(wanted)):
                if self._dialect.claim_sources_scoped:
                    self._run(
                        "INSERT INTO claim_sources (claim_id, source_id, scope, position) VALUES (?,?,?,?)",
                        [claim_id, source_id, scope, position],
                    )
                else:
                    self._run(
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
            if record["ref"] and self._fetch(
                "SELECT 1 FROM claims WHERE scope = ? AND ref = ?", [scope, record["ref"]]
            ):
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
                and self._fetch("SELECT 1 FROM claims WHERE scope = ? AND ref = ?", [scope, new["ref"]])
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
            self._run(
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
            self._run(
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
                holder = self._fetch("SELECT id FROM claims WHERE scope = ? AND ref = ?", [scope, ref])
                if holder:
                    raise InvalidInputError(
                        f"Cannot undo: it would give claim #{claim.id} back the ref '{ref}', which claim "
                        f"#{holder[0]['id']} uses now. Change that claim's ref first."
                    )
            self._write_claim(scope, claim.id, target)
            self._revise(scope, "claim", claim.id, "undo", actor, current, target)
            return self.get_claim(scope, claim.id)

    def history(self, scope: str, entity: str, entity_id: int) -> list[Revision]:
        rows = self._fetch(
            "SELECT * FROM revisions WHERE scope = ? AND entity = ? AND entity_id = ? ORDER BY id",
            [scope, entity, entity_id],
        )
        return [self._revision(r) for r in rows]

    def revisions_after(self, scope: str, after_id: int, *, limit: int = 50) -> list[Revision]:
        """Revisions of this scope newer than ``after_id``, oldest first."""
        rows = self._fetch(
            "SELECT * FROM revisions WHERE scope = ? AND id > ? ORDER BY id LIMIT ?", [scope, after_id, limit]
        )
        return [self._revision(r) for r in rows]

    def last_revision_id(self, scope: str) -> int:
        return int(self._fetch("SELECT coalesce(max(id), 0) AS n FROM revisions WHERE scope = ?", [scope])[0]["n"])

    def recent_revisions(self, scope: str, *, limit: int = 10) -> list[Revision]:
        rows = self._fetch("SELECT * FROM revisions WHERE scope = ? ORDER BY id DESC LIMIT ?", [scope, limit])
        return [self._revision(r) for r in rows]

    # ----------------------------------------------------------------- settings

    def get_setting(self, scope: str, key: str, default: str | None = None) -> str | None:
        rows = self._fetch("SELECT value FROM settings WHERE scope = ? AND key = ?", [scope, key])
        return rows[0]["value"] if rows else default

    def set_setting(self, scope: str, key: str, value: str | None, *, actor: str) -> None:
        key = clean_text(key, "setting_key", required=True, multiline=False)
        value = clean_text(value, "setting", multiline=False)
        with self.transaction():
            old = self.get_setting(scope, key)
            if value is None:
                self._run("DELETE FROM settings WHERE scope = ? AND key = ?", [scope, key])
            else:
                self._run(
                    "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                    [scope, key, value],
                )
            self._revise(scope, "setting", 0, "set", actor, {key: old}, {key: value})

    def set_marker(self, scope: str, key: str, value: str) -> None:
        """Bookkeeping the bot keeps per server (such as the last revision posted to the audit channel): stored
        like a setting, but not a change to the ledger, so it leaves no revision."""
        with self.transaction():
            self._run(
                "INSERT INTO settings (scope, key, value) VALUES (?,?,?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                [scope, clean_text(key, "setting_key", required=True, multiline=False), value],
            )

    def evidence_change_dates(self, scope: str) -> dict[int, str]:
        """Claim id → date (YYYY-MM-DD) of the last revision that changed its evidence (creation included)."""
        rows = self._fetch(
            "SELECT entity_id, max(at) AS at FROM revisions WHERE scope = ? AND entity = 'claim'"
            f" AND {self._dialect.json_differs('old', 'new', 'evidence')} GROUP BY entity_id",
            [scope],
        )
        return {r["entity_id"]: str(stamp(r["at"]))[:10] for r in rows}

    def find_claim(
        self, scope: str, *, ref: str | None = None, text: str | None = None, speaker: str = ""
    ) -> Claim | None:
        """The claim with this ref; or, without a ref, the first unreferenced claim with this exact text and
        speaker name (case-insensitive; "" for none). None when there is no such claim."""
        if ref:
            rows = self._fetch("SELECT id FROM claims WHERE scope = ? AND ref = ?", [scope, ref])
        elif text:
            same_speaker = self._dialect.equals_nocase("coalesce(s.name, '')")
            rows = self._fetch(
                "SELECT c.id FROM claims c LEFT JOIN speakers s ON s.id = c.speaker_id"
                f" WHERE c.scope = ? AND c.text = ? AND c.ref IS NULL AND {same_speaker} ORDER BY c.id LIMIT 1",
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
            self._run(
                self._dialect.insert_ignore(
                    "pinned_summaries", ("scope", "incident_id", "channel_id", "message_id", "created_at", "updated_at")
                ),
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
            for r in self._fetch(sql + " ORDER BY id", params)
        ]

    def all_pinned_summaries(self) -> list[tuple[str, int]]:
        """(scope, incident id) of every tracked summary, across scopes (for the bot's start-up refresh)."""
        return [
            (r["scope"], r["incident_id"])
            for r in self._fetch("SELECT DISTINCT scope, incident_id FROM pinned_summaries ORDER BY 1, 2")
        ]

    def forget_pinned_summary(self, scope: str, message_id: int) -> int:
        with self.transaction():
            return self._run(
                "DELETE FROM pinned_summaries WHERE scope = ? AND message_id = ?", [scope, str(message_id)]
            )

    def scopes(self) -> list[str]:
        return [
            r["scope"] for r in self._fetch("SELECT scope FROM claims UNION SELECT scope FROM incidents ORDER BY 1")
        ]

    def is_empty(self, scope: str) -> bool:
        return not self._fetch(
            "SELECT 1 FROM claims WHERE scope = ? UNION ALL SELECT 1 FROM incidents WHERE scope = ? LIMIT 1",
            [scope, scope],
        )
