"""The planner: compares a document with the ledger and decides, record by record, what an import would do.

It reads the parts of the scope the file can touch in a handful of set-based queries (``bot.store.bulk``),
then works in memory: each record is validated with the ledger's own rules (``bot.validation``), matched
(a claim by its ref, else by its text and speaker; a speaker by name or alias; an incident by slug, title or
alias, every key compared as the ledger stores it: NFC, control characters dropped, spaces trimmed) and
turned into new or changed rows and the revisions the single-item API would write. A record that fails
leaves no trace in the plan (its new speaker or incident is dropped too) and is listed with its position.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from bot.errors import InvalidInputError, LedgerError, NotFoundError, location
from bot.formats.document import ENSURE, UPSERT, BadNumber, Document, ImportReport, Progress, Record, claim_label
from bot.models import EvidenceStatus
from bot.store import Ledger, data_token, load_claim_sources, load_claims, load_incidents, load_sources, load_speakers
from bot.validation import (
    LIMITS,
    MAX_ALIASES,
    MAX_LINKS,
    MAX_SOURCES,
    MAX_TAGS,
    clean_list,
    clean_slug,
    clean_text,
    clean_url,
    closest_names,
    parse_kind,
    parse_partial_date,
    parse_status,
    slugify,
)

_COUNTERS = {"new": "created", "updated": "updated", "unchanged": "unchanged"}
CLAIM_FIELDS = (
    "text", "quote", "speaker", "incident", "said_at", "said_where", "tags",
    "evidence_status", "evidence_details", "evidence_links", "sources", "ref",
)  # fmt: skip


# ----------------------------------------------------------------------------- rows of the plan


@dataclass(eq=False)
class IncidentRow:
    id: int | None  # None: new, its id is given when the plan is applied
    slug: str
    title: str
    date: str | None = None
    place: str | None = None
    summary: str | None = None
    aliases: list[str] = field(default_factory=list)
    original: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "date": self.date,
            "place": self.place,
            "summary": self.summary,
            "aliases": list(self.aliases),
        }


@dataclass(eq=False)
class SpeakerRow:
    id: int | None
    name: str
    role: str | None = None
    kind: str = "person"
    aliases: list[str] = field(default_factory=list)
    original: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "kind": self.kind, "aliases": list(self.aliases)}


@dataclass(eq=False)
class SourceRow:
    id: int | None
    url: str | None
    title: str
    publisher: str | None = None
    original_publisher: str | None = None


@dataclass(eq=False)
class ClaimRow:
    id: int | None
    record: dict[str, Any]  # the export shape (``claim_record``): names and slugs, not ids
    incident: IncidentRow | None = None
    speaker: SpeakerRow | None = None
    sources: list[SourceRow] = field(default_factory=list)
    original: dict[str, Any] | None = None
    original_sources: list[SourceRow] = field(default_factory=list)

    @property
    def removed(self) -> bool:
        return self.record.get("removed") is not None


@dataclass
class Plan:
    scope: str
    report: ImportReport
    token: tuple[int, int]
    incidents: list[IncidentRow] = field(default_factory=list)
    speakers: list[SpeakerRow] = field(default_factory=list)
    sources: list[SourceRow] = field(default_factory=list)
    claims: list[ClaimRow] = field(default_factory=list)
    # (entity, row, action, old, new) in the order the single-item API would have written them
    revisions: list[tuple[str, Any, str, dict[str, Any] | None, dict[str, Any] | None]] = field(default_factory=list)
    headline: str = ""
    what: str = "records"


# ----------------------------------------------------------------------------- values as read


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@overload
def clean(value: Any, name: str, *, required: Literal[True], multiline: bool = True) -> str: ...
@overload
def clean(value: Any, name: str, *, required: bool = False, multiline: bool = True) -> str | None: ...
def clean(value: Any, name: str, *, required: bool = False, multiline: bool = True) -> str | None:
    """``clean_text`` (the same result, the same errors), fast for the usual value: printable, already NFC."""
    if type(value) is str and value.isprintable() and unicodedata.is_normalized("NFC", value):
        text = value.strip()
        limit = LIMITS.get(name)
        if text and (limit is None or len(text) <= limit):
            return text
    return clean_text(value, name, required=required, multiline=multiline)


def clean_items(values: Any, name: str, *, limit: int) -> tuple[str, ...]:
    """``clean_list`` (the same result, the same errors), with :func:`clean` for each item."""
    if values is None:
        return ()
    items = re.split(r"[,;|]", values) if isinstance(values, str) else values
    if not isinstance(items, list | tuple):
        return clean_list(values, name, limit=limit)
    out: list[str] = []
    seen: set[str] = set()
    for raw in items:
        item = clean(raw, name, multiline=False)
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    if len(out) > limit:
        return clean_list(values, name, limit=limit)  # raises the ledger's message
    return tuple(out)


def clean_link(value: Any, name: str) -> str | None:
    """``clean_url``, fast for a valid link."""
    url = clean(value, "url", multiline=False)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        return clean_url(url, name)  # raises the ledger's message
    return url


def text_value(value: Any, name: str) -> str | None:
    """A scalar as text (numbers as written); a list, an object or an unstorable number is invalid."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, BadNumber):
        raise InvalidInputError(f"{_label(name)}: {value.reason} cannot be stored.", name)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    kind = "a list" if isinstance(value, list | tuple) else "an object"
    raise InvalidInputError(f"{_label(name)} must be text, not {kind}.", name)


def list_value(value: Any, name: str) -> Any:
    """A list of texts (or one text, split by ``clean_list``); anything else goes on to fail in ``clean_list``."""
    if isinstance(value, list | tuple):
        return [text_value(item, name) for item in value]
    if isinstance(value, dict):
        raise InvalidInputError(f"{name.capitalize()} must be a list.", name)
    return value if value is None or isinstance(value, str) else text_value(value, name)


def _norm(value: Any, name: str) -> str | None:
    """A key as the ledger stores it, or None when it is not valid (validation reports that later)."""
    try:
        return clean(text_value(value, name), name, multiline=name in ("claim", "quote"))
    except InvalidInputError:
        return None


def _json_list(value: str | None) -> list[str]:
    return list(json.loads(value)) if value else []


# ----------------------------------------------------------------------------- the planner


class Planner:
    def __init__(self, ledger: Ledger, scope: str, document: Document) -> None:
        self.ledger = ledger
        self.scope = scope
        self.document = document
        self.plan = Plan(scope, ImportReport(unmapped=list(document.notes)), data_token(ledger))
        self.plan.headline, self.plan.what = document.headline, document.what
        self._journal: list[Callable[[], None]] = []
        self._pending_notes: list[tuple[Any, str]] = []
        self._noted: set[str] = set()
        self._incident_index: tuple[dict[str, IncidentRow], dict[str, IncidentRow]] | None = None
        self._speaker_index: tuple[dict[str, SpeakerRow], dict[str, SpeakerRow]] | None = None
        self._load()

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        claims = [r for r in self.document.records if r.kind == "claim" and r.problem is None]
        refs, texts, titles = set(), set(), set()
        for record in claims:
            ref = _norm(record.data.get("ref"), "ref")
            if ref:
                refs.add(ref)
            else:
                text = _norm(record.data.get("text"), "claim")
                if text:
                    texts.add(text)
            for source in record.data.get("sources") or []:
                if isinstance(source, dict):
                    title = _norm(source.get("title") or source.get("url"), "title")
                    if title:
                        titles.add(title)
        plan = self.plan
        incidents = {}
        for row in load_incidents(self.ledger, self.scope):
            incident = IncidentRow(row["id"], row["slug"], row["title"], row["date"], row["place"], row["summary"],
                                   _json_list(row["aliases"]))  # fmt: skip
            incident.original = incident.record()
            incidents[incident.id] = incident
            plan.incidents.append(incident)
        speakers = {}
        for row in load_speakers(self.ledger, self.scope):
            speaker = SpeakerRow(row["id"], row["name"], row["role"], row["kind"], _json_list(row["aliases"]))
            speaker.original = speaker.record()
            speakers[speaker.id] = speaker
            plan.speakers.append(speaker)
        self.sources: dict[tuple[str, str], SourceRow] = {}
        for row in load_sources(self.ledger, self.scope, titles):
            self._known_source(row)
        rows = load_claims(self.ledger, self.scope, refs, texts)
        claim_sources: dict[int, list[SourceRow]] = {}
        for row in load_claim_sources(self.ledger, [r["id"] for r in rows]):
            claim_sources.setdefault(row["claim_id"], []).append(self._known_source(row))
        self.by_ref: dict[str, ClaimRow] = {}
        self.by_text: dict[tuple[str, SpeakerRow | None], ClaimRow] = {}
        for row in rows:
            claim_incident = incidents.get(row["incident_id"])
            claim_speaker = speakers.get(row["speaker_id"])
            sources = claim_sources.get(row["id"], [])
            claim_record: dict[str, Any] = {
                "ref": row["ref"],
                "incident": claim_incident.slug if claim_incident else None,
                "speaker": claim_speaker.name if claim_speaker else None,
                "claim": row["text"],
                "quote": row["quote"],
                "said_at": row["said_at"],
                "said_where": row["said_where"],
                "tags": _json_list(row["tags"]),
                "evidence": {
                    "status": row["evidence_status"],
                    "details": row["evidence_details"],
                    "links": _json_list(row["evidence_links"]),
                },
                "sources": [{"url": s.url, "title": s.title, "publisher": s.publisher} for s in sources],
                "removed": {"reason": row["removed_reason"]} if row["removed_reason"] is not None else None,
            }
            claim = ClaimRow(
                row["id"], claim_record, claim_incident, claim_speaker, list(sources), claim_record, list(sources)
            )
            plan.claims.append(claim)
            if row["ref"] is not None:
                self.by_ref[row["ref"]] = claim
            else:
                self.by_text.setdefault((row["text"], claim_speaker), claim)

    def _known_source(self, row: dict[str, Any]) -> SourceRow:
        key = (row["title"], row["url"] or "")
        source = self.sources.get(key)
        if source is None:
            source = SourceRow(row["id"], row["url"], row["title"], row["publisher"], row["publisher"])
            self.sources[key] = source
            self.plan.sources.append(source)
        return source

    # ------------------------------------------------------------------ the journal (a record is all or nothing)

    def _undo(self, action: Callable[[], None]) -> None:
        self._journal.append(action)

    def _touch(self, row: Any) -> None:
        saved = dict(vars(row))
        self._undo(lambda: vars(row).update(saved))

    def _append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self._undo(items.pop)

    def _set(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        if key in mapping:
            old = mapping[key]
            self._undo(lambda: mapping.__setitem__(key, old))
        else:
            self._undo(lambda: mapping.pop(key, None))
        mapping[key] = value

    def _revise(self, entity: str, row: Any, action: str, old: dict | None, new: dict | None) -> None:
        self._append(self.plan.revisions, (entity, row, action, old, new))

    def _note(self, where: Any, message: str) -> None:
        if message not in self._noted:  # once per import, not once per claim of that speaker
            self._pending_notes.append((where, message))

    # ------------------------------------------------------------------ running

    def run(self, progress: Progress | None = None) -> Plan:
        records = self.document.records
        report = self.plan.report
        problems: list[tuple[int, Any, str]] = []
        duplicates = self._duplicate_refs()
        for index, record in enumerate(records):
            problem = record.problem or duplicates.get(index)
            if problem is None:
                self._journal, self._pending_notes = [], []
                try:
                    change = self._record(record)
                except LedgerError as err:
                    for action in reversed(self._journal):
                        action()
                    self._incident_index = self._speaker_index = None
                    problem = str(err)
                else:
                    for where, message in self._pending_notes:
                        if message not in self._noted:
                            self._noted.add(message)
                            report.unmapped.append((where, message))
                    if change:
                        report.changes.append((record.where, *change))
                        counter = _COUNTERS[change[0]]
                        setattr(report, counter, getattr(report, counter) + 1)
            if problem is not None:
                problems.append((index, record.where, problem))
            if progress:
                progress(index + 1, len(records))
        report.problems = [(where, message) for _, where, message in sorted(problems, key=lambda p: p[0])]
        report.incidents = sum(1 for row in self.plan.incidents if row.id is None)
        report.speakers = sum(1 for row in self.plan.speakers if row.id is None)
        return self.plan

    def _duplicate_refs(self) -> dict[int, str]:
        """Records whose ref another claim of the file gives too: every one of them is invalid."""
        seen: dict[str, list[int]] = {}
        for index, record in enumerate(self.document.records):
            if record.kind == "claim" and record.problem is None:
                ref = _norm(record.data.get("ref"), "ref")
                if ref:
                    seen.setdefault(ref, []).append(index)
        out = {}
        for ref, indexes in seen.items():
            if len(indexes) > 1:
                places = ", ".join(location(self.document.records[i].where) for i in indexes)
                for i in indexes:
                    out[i] = f"the ref '{ref}' is given {len(indexes)} times in this file ({places}); give each once"
        return out

    def _record(self, record: Record) -> tuple[str, str] | None:
        if record.kind == "incident":
            self._incident(record)
            return None
        if record.kind == "speaker":
            self._speaker(record)
            return None
        return self._claim(record)

    # ------------------------------------------------------------------ incidents

    def _incident_indexes(self) -> tuple[dict[str, IncidentRow], dict[str, IncidentRow]]:
        if self._incident_index is None:
            by_slug: dict[str, IncidentRow] = {}
            by_name: dict[str, IncidentRow] = {}
            for row in self.plan.incidents:
                by_slug.setdefault(row.slug, row)
                for name in (row.title, *row.aliases):
                    by_name.setdefault(name.casefold(), row)
            self._incident_index = (by_slug, by_name)
        return self._incident_index

    def find_incident(self, key: str) -> IncidentRow | None:
        """By slug, title or alias (case-insensitive), like ``Ledger.get_incident``."""
        text = key.strip()
        by_slug, by_name = self._incident_indexes()
        return by_slug.get(text.lower()) or by_name.get(text.casefold())

    def get_incident(self, key: str) -> IncidentRow:
        found = self.find_incident(key)
        if found is None:
            names = {row.slug: [row.slug, row.title, *row.aliases] for row in self.plan.incidents}
            raise NotFoundError("incident", f"'{key.strip()}'", closest_names(key.strip(), names))
        return found

    def _new_incident(self, raw: dict[str, Any]) -> IncidentRow:
        """``Ledger.create_incident``: the same checks, in the same order, the same revision."""
        title = clean(text_value(raw.get("title"), "title"), "title", required=True, multiline=False)
        assert title is not None
        slug = text_value(raw.get("slug"), "slug")
        record: dict[str, Any] = {
            "slug": clean_slug(slug or slugify(title)),
            "title": title,
            "date": parse_partial_date(text_value(raw.get("date"), "date")),
            "place": clean(text_value(raw.get("place"), "place"), "place", multiline=False),
            "summary": clean(text_value(raw.get("summary"), "summary"), "summary"),
            "aliases": list(clean_items(list_value(raw.get("aliases") or [], "alias"), "alias", limit=MAX_ALIASES)),
        }
        if record["slug"] in self._incident_indexes()[0]:
            raise InvalidInputError(f"An incident with the slug '{record['slug']}' already exists.", "slug")
        row = IncidentRow(None, **record)
        self._append(self.plan.incidents, row)
        by_slug, by_name = self._incident_indexes()
        self._set(by_slug, row.slug, row)
        for name in (row.title, *row.aliases):
            if name.casefold() not in by_name:
                self._set(by_name, name.casefold(), row)
        self._revise("incident", row, "create", None, record)
        return row

    def _change_incident(self, row: IncidentRow, changes: dict[str, Any]) -> None:
        """``Ledger.update_incident``."""
        old = row.record()
        new = dict(old)
        if "title" in changes:
            new["title"] = clean(text_value(changes["title"], "title"), "title", required=True, multiline=False)
        if "date" in changes:
            new["date"] = parse_partial_date(text_value(changes["date"], "date"))
        if "place" in changes:
            new["place"] = clean(text_value(changes["place"], "place"), "place", multiline=False)
        if "summary" in changes:
            new["summary"] = clean(text_value(changes["summary"], "summary"), "summary")
        if "aliases" in changes:
            new["aliases"] = list(clean_items(list_value(changes["aliases"], "alias"), "alias", limit=MAX_ALIASES))
        if new != old:
            self._touch(row)
            vars(row).update(new)
            self._incident_index = None
            self._revise("incident", row, "update", old, new)

    def _incident(self, record: Record) -> IncidentRow:
        raw = record.data
        if record.mode == UPSERT:  # native: the file's record replaces the ledger's
            title = text_value(raw.get("title"), "title")
            slug = text_value(raw.get("slug"), "slug") or slugify(str(title or ""))
            existing = self.find_incident(slug)
            if existing is None:
                return self._new_incident(raw)
            fields = {k: raw.get(k) for k in ("title", "date", "place", "summary")}
            self._change_incident(existing, {**fields, "aliases": raw.get("aliases") or []})
            return existing
        if record.mode == ENSURE:  # a flat row names it: find it, else create it from the name
            title = clean(text_value(raw.get("title"), "incident"), "title", required=True, multiline=False)
            assert title is not None
            return self.find_incident(title) or self._new_incident({"title": title})
        existing = None  # FILL (ClaimReview): by slug, then by title; fill only what the ledger lacks
        for key in (raw.get("slug"), raw.get("title")):
            key = _norm(key, "incident")
            if key and (existing := self.find_incident(key)):
                break
        if existing is None:
            return self._new_incident(raw)
        changes = self._fill(existing.record(), raw, ("title", "date", "place", "summary", "aliases"),
                             f"incident {existing.slug!r}", record.where)  # fmt: skip
        if changes:
            self._change_incident(existing, changes)
        return existing

    def _fill(self, current: dict[str, Any], incoming: dict[str, Any], names: tuple[str, ...], what: str,
              where: Any) -> dict[str, Any]:  # fmt: skip
        """Changes that fill the empty fields of ``current`` (and add new aliases); differences are noted."""
        changes: dict[str, Any] = {}
        for name in names:
            value, have = incoming.get(name), current.get(name)
            if value in (None, "", []):
                continue
            if name == "aliases":
                known = {a.casefold() for a in have or []}
                extra = [a for a in list_value(value, "alias") if isinstance(a, str) and a.casefold() not in known]
                if extra:
                    changes[name] = [*(have or []), *extra]
            elif have in (None, ""):
                changes[name] = value
            elif str(text_value(value, name)).casefold() != str(have).casefold():
                self._note(where, f"{what}: {name} {value!r} differs from the ledger's {have!r}; the ledger's is kept")
        return changes

    # ------------------------------------------------------------------ speakers

    def _speaker_indexes(self) -> tuple[dict[str, SpeakerRow], dict[str, SpeakerRow]]:
        if self._speaker_index is None:
            by_name: dict[str, SpeakerRow] = {}
            by_alias: dict[str, SpeakerRow] = {}
            for row in self.plan.speakers:
                by_name.setdefault(row.name.casefold(), row)
                for alias in row.aliases:
                    by_alias.setdefault(alias.casefold(), row)
            self._speaker_index = (by_name, by_alias)
        return self._speaker_index

    def find_speaker(self, name: str) -> SpeakerRow | None:
        """Exact (case-insensitive) name, else alias, like ``Ledger.find_speaker``."""
        folded = name.strip().casefold()
        by_name, by_alias = self._speaker_indexes()
        return by_name.get(folded) or by_alias.get(folded)

    def get_speaker(self, name: str) -> SpeakerRow:
        found = self.find_speaker(name)
        if found is None:
            names = {row.name: [row.name, *row.aliases] for row in self.plan.speakers}
            raise NotFoundError("speaker", f"'{name.strip()}'", closest_names(name.strip(), names))
        return found

    def _new_speaker(self, raw: dict[str, Any]) -> SpeakerRow:
        """``Ledger.create_speaker``."""
        record: dict[str, Any] = {
            "name": clean(text_value(raw.get("name"), "name"), "name", required=True, multiline=False),
            "role": clean(text_value(raw.get("role"), "role"), "role", multiline=False),
            "kind": parse_kind(text_value(raw.get("kind"), "kind")).value,
            "aliases": list(clean_items(list_value(raw.get("aliases") or [], "alias"), "alias", limit=MAX_ALIASES)),
        }
        by_name, by_alias = self._speaker_indexes()
        if record["name"].casefold() in by_name:
            raise InvalidInputError(f"A speaker named '{record['name']}' already exists.", "name")
        row = SpeakerRow(None, **record)
        self._append(self.plan.speakers, row)
        self._set(by_name, row.name.casefold(), row)
        for alias in row.aliases:
            if alias.casefold() not in by_alias:
                self._set(by_alias, alias.casefold(), row)
        self._revise("speaker", row, "create", None, record)
        return row

    def _change_speaker(self, row: SpeakerRow, changes: dict[str, Any]) -> None:
        """``Ledger.update_speaker`` (never the name: an import does not rename)."""
        old = row.record()
        new = dict(old)
        if "role" in changes:
            new["role"] = clean(text_value(changes["role"], "role"), "role", multiline=False)
        if "kind" in changes:
            new["kind"] = parse_kind(text_value(changes["kind"], "kind")).value
        if "aliases" in changes:
            new["aliases"] = list(clean_items(list_value(changes["aliases"], "alias"), "alias", limit=MAX_ALIASES))
        if new != old:
            self._touch(row)
            vars(row).update(new)
            self._speaker_index = None
            self._revise("speaker", row, "update", old, new)

    def _speaker(self, record: Record) -> SpeakerRow:
        raw = record.data
        if record.mode == UPSERT:
            name = (text_value(raw.get("name"), "name") or "").strip()
            existing = self.find_speaker(name) if name else None
            if existing is None or existing.name.casefold() != (_norm(name, "name") or name).casefold():
                return self._new_speaker(raw)
            self._change_speaker(existing, {"role": raw.get("role"), "kind": raw.get("kind"),
                                            "aliases": raw.get("aliases") or []})  # fmt: skip
            return existing
        name = clean(text_value(raw.get("name"), "name"), "name", required=True, multiline=False)
        assert name is not None
        existing = self.find_speaker(name)
        if record.mode == ENSURE:
            if existing is None:
                return self._new_speaker({"name": name, "role": raw.get("role")})
            if raw.get("role") and not existing.role:
                self._change_speaker(existing, {"role": raw.get("role")})
            return existing
        if existing is None:  # FILL
            return self._new_speaker({**raw, "name": name})
        changes = self._fill(existing.record(), raw, ("role", "aliases"), f"speaker {existing.name!r}", record.where)
        if changes:
            self._change_speaker(existing, changes)
        return existing

    # ------------------------------------------------------------------ claims

    def _source(self, source: dict[str, Any]) -> SourceRow:
        key = (source["title"], source["url"] or "")
        row = self.sources.get(key)
        if row is None:
            row = SourceRow(None, source["url"], source["title"], source["publisher"])
            self._set(self.sources, key, row)
            self._append(self.plan.sources, row)
        elif source["publisher"] and row.publisher != source["publisher"]:
            self._touch(row)
            row.publisher = source["publisher"]
        return row

    def _validate(self, fields: dict[str, Any]) -> tuple[dict[str, Any], IncidentRow | None, SpeakerRow | None]:
        """``Ledger._claim_record``: every field checked in the same order, the same messages."""
        links = clean_items(list_value(fields.get("evidence_links"), "link"), "link", limit=MAX_LINKS)
        sources = fields.get("sources") or []
        if not isinstance(sources, list | tuple) or not all(isinstance(s, dict) for s in sources):
            raise InvalidInputError("Sources must be a list of objects with url, title and publisher.", "sources")
        if len(sources) > MAX_SOURCES:
            raise InvalidInputError(f"At most {MAX_SOURCES} sources per claim; got {len(sources)}.", "sources")
        speaker_name = clean(text_value(fields.get("speaker"), "speaker"), "name", multiline=False)
        incident_key = clean(text_value(fields.get("incident"), "incident"), "incident", multiline=False)
        ref = clean(text_value(fields.get("ref"), "ref"), "ref", multiline=False)
        incident = self.get_incident(incident_key) if incident_key else None
        speaker = self.get_speaker(speaker_name) if speaker_name else None
        record = {
            "ref": ref,
            "incident": incident.slug if incident else None,
            "speaker": speaker.name if speaker else None,
            "claim": clean(text_value(fields.get("text"), "claim"), "claim", required=True),
            "quote": clean(text_value(fields.get("quote"), "quote"), "quote"),
            "said_at": parse_partial_date(text_value(fields.get("said_at"), "said_at")),
            "said_where": clean(text_value(fields.get("said_where"), "said_where"), "said_where", multiline=False),
            "tags": [tag.lower() for tag in clean_items(list_value(fields.get("tags"), "tag"), "tag", limit=MAX_TAGS)],
            "evidence": {
                "status": _status(fields.get("evidence_status")),
                "details": clean(text_value(fields.get("evidence_details"), "details"), "details"),
                "links": [clean_link(link, "evidence link") for link in links],
            },
            "sources": [
                {
                    "url": clean_link(text_value(s.get("url"), "url"), "source link"),
                    "title": clean(
                        text_value(s.get("title") or s.get("url"), "title"), "title", required=True, multiline=False
                    ),
                    "publisher": clean(text_value(s.get("publisher"), "publisher"), "publisher", multiline=False),
                }
                for s in sources
            ],
            "removed": None,
        }
        return record, incident, speaker

    def _place_sources(self, record: dict[str, Any]) -> list[SourceRow]:
        """The source rows of a record (found or planned); the record shows each source as it will be stored."""
        rows = list(dict.fromkeys(self._source(s) for s in record["sources"]))
        record["sources"] = [{"url": s.url, "title": s.title, "publisher": s.publisher} for s in rows]
        return rows

    def _find_claim(self, fields: dict[str, Any]) -> ClaimRow | None:
        """The claim a record updates: the one with its ref, else an unreferenced one with its text and speaker."""
        ref = clean(text_value(fields.get("ref"), "ref"), "ref", multiline=False)
        if ref:
            return self.by_ref.get(ref)
        text = _norm(fields.get("text"), "claim")
        if not text:
            return None
        name = clean(text_value(fields.get("speaker"), "speaker"), "name", multiline=False)
        speaker = self.find_speaker(name) if name else None
        if name and speaker is None:
            return None
        return self.by_text.get((text, speaker))

    def _claim(self, record: Record) -> tuple[str, str]:
        data = record.data
        fields = {name: data.get(name) for name in CLAIM_FIELDS}
        if record.incident is not None:
            fields["incident"] = self._incident(record.incident).slug
        if record.speaker is not None:
            fields["speaker"] = self._speaker(record.speaker).name
        existing = self._find_claim(fields)
        if existing is None:
            new, incident, speaker = self._validate(fields)
            claim = ClaimRow(None, new, incident, speaker)
            claim.sources = self._place_sources(new)
            self._append(self.plan.claims, claim)
            if new["ref"]:
                self._set(self.by_ref, new["ref"], claim)
            elif (new["claim"], speaker) not in self.by_text:
                self._set(self.by_text, (new["claim"], speaker), claim)
            self._revise("claim", claim, "create", None, dict(new))
            before = None
        else:
            claim = existing
            before = claim.record
            self._update(claim, {k: v for k, v in fields.items() if k not in record.keep}, record.one_source)
        removed = data.get("removed")
        if removed and not claim.removed:
            reason = removed.get("reason") if isinstance(removed, dict) else removed
            why = clean(text_value(reason, "reason") or "removed", "reason", required=True, multiline=False)
            old = claim.record
            self._touch(claim)
            claim.record = {**old, "removed": {"reason": why}}
            self._revise("claim", claim, "remove", old, claim.record)
        elif not removed and claim.removed and "removed" in data and data["removed"] is None:
            old = claim.record
            self._touch(claim)
            claim.record = {**old, "removed": None}
            self._revise("claim", claim, "restore", old, claim.record)
        if before is None:
            action = "new"
        elif claim.record == before:
            action = "unchanged"
        else:
            action = "updated"
        return action, claim_label(claim.record["ref"], claim.record["claim"])

    def _update(self, claim: ClaimRow, changes: dict[str, Any], one_source: bool) -> None:
        """``Ledger.update_claim`` with the record's fields (those the file carries)."""
        old = claim.record
        if one_source and changes.get("sources") and old["sources"]:
            given, first = changes["sources"][0], old["sources"][0]
            url = _norm(given.get("url"), "url")
            if (url, _norm(given.get("title") or given.get("url"), "title")) == (first["url"], first["title"]):
                del changes["sources"]
        merged = {
            "text": old["claim"],
            "quote": old["quote"],
            "speaker": old["speaker"],
            "incident": old["incident"],
            "said_at": old["said_at"],
            "said_where": old["said_where"],
            "tags": old["tags"],
            "evidence_status": old["evidence"]["status"],
            "evidence_details": old["evidence"]["details"],
            "evidence_links": old["evidence"]["links"],
            "sources": old["sources"],
            "ref": old["ref"],
        }
        merged.update(changes)
        new, incident, speaker = self._validate(merged)
        new["removed"] = old["removed"]
        # (an update never changes the ref: a record with a ref found its claim by that ref)
        self._touch(claim)
        sources = self._place_sources(new)
        if new != old:
            claim.record, claim.incident, claim.speaker, claim.sources = new, incident, speaker, sources
            self._revise("claim", claim, "update", old, dict(new))


def _status(value: Any) -> str:
    if isinstance(value, EvidenceStatus):
        return value.value
    return parse_status(text_value(value, "evidence_status")).value


def make_plan(ledger: Ledger, scope: str, document: Document, progress: Progress | None = None) -> Plan:
    """The plan of importing ``document`` into ``scope``; reads the ledger, writes nothing."""
    return Planner(ledger, scope, document).run(progress)
