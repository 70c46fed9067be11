"""Import and export: the native JSON document and the flat claims format (CSV or JSONL).

Imports validate every record, then write everything in one transaction: a file with a
bad record writes nothing, and the error lists every bad record with its line number
(flat files) or its position (JSON). ``dry_run`` does the same work and rolls it back,
so it reports exactly what an import would change: it never raises for bad records, it
returns them in ``ImportReport.problems`` (see :func:`preview_import`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ImportFileError, InvalidInputError, LedgerError, NotFoundError
from bot.store import Ledger, claim_record, incident_record, speaker_record
from bot.validation import slugify

FORMAT_NAME = "claim-ledger"
FORMAT_VERSION = 1
FLAT_COLUMNS = (
    "ref",
    "incident",
    "speaker",
    "speaker_role",
    "claim",
    "quote",
    "said_at",
    "said_where",
    "evidence_status",
    "evidence",
    "source_url",
    "source_title",
    "tags",
)
MAX_IMPORT_BYTES = 50 * 1024 * 1024
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]
Step = Callable[["ImportReport"], "tuple[str, str] | None"]
DEFAULT_PUBLISHER = "Claim Ledger"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    incidents: int = 0
    speakers: int = 0
    dry_run: bool = False
    problems: list[tuple[int | str, str]] = field(default_factory=list)
    unmapped: list[tuple[int | str, str]] = field(default_factory=list)
    # (line or position, "new" | "updated" | "unchanged", the claim's ref or the start of its text)
    changes: list[tuple[int | str, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        verb = "Would import" if self.dry_run else "Imported"
        return (
            f"{verb} {self.total} claims: {self.created} new, {self.updated} updated, {self.unchanged} unchanged"
            f" ({self.incidents} new incidents, {self.speakers} new speakers)."
            + (f" {len(self.problems)} invalid." if self.problems else "")
            + (f" {len(self.unmapped)} value(s) not mapped." if self.unmapped else "")
        )


class _DryRun(Exception):
    pass


# ----------------------------------------------------------------------------- reading files


def detect_format(name: str, data: bytes) -> str:
    """'native', 'claimreview', 'csv' or 'jsonl', from the file name, else from the content."""
    lower = name.lower()
    if lower.endswith(".jsonld"):
        return "claimreview"
    data = data.removeprefix(b"\xef\xbb\xbf")
    head = data.lstrip()[:4096]
    if head[:1] in (b"{", b"[") and (b'"@context"' in head or b'"@type"' in head or b'"@graph"' in head):
        return "claimreview"
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".json"):
        return "native"
    head = data.lstrip()[:1]
    if head == b"{":
        return "native" if b'"format"' in data[:4096] and b"\n{" not in data[:4096] else "jsonl"
    return "csv"


def _decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the import limit is {MAX_IMPORT_BYTES // 1024 // 1024} MB."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ImportFileError(
            "The file is not UTF-8 text.", [(line, f"undecodable byte at offset {err.start}")]
        ) from None


def read_flat_rows(data: bytes, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row dict) for a CSV or JSONL flat file; raise ImportFileError on structure errors."""
    for number, row in read_flat_lines(data, fmt):
        if isinstance(row, str):
            raise ImportFileError(f"Broken {_FLAT_NAMES[fmt]} file.", [(number, row)])
        yield number, row


_FLAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines"}


def read_flat_lines(data: bytes, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row dict, or what is wrong with that row) for a CSV or JSONL flat file.

    A file that cannot be read as a whole (encoding, size, header) raises ImportFileError; a row that is
    broken on its own (a JSON Lines line that is not an object, a CSV row with the wrong number of cells)
    is yielded as a message, so a dry run can list it with the other invalid rows."""
    text = _decode(data)
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield number, f"not JSON: {err.msg} (column {err.colno})"
                continue
            yield number, row if isinstance(row, dict) else "each line must be a JSON object"
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The CSV file is empty.") from None
    except csv.Error as err:
        raise ImportFileError("Broken CSV file.", [(1, str(err))]) from None
    columns = [h.strip().lower().lstrip("\ufeff") for h in header]
    unknown = [c for c in columns if c and c not in FLAT_COLUMNS]
    if "claim" not in columns or unknown:
        detail = f"unknown column(s): {', '.join(unknown)}; " if unknown else ""
        raise ImportFileError(
            "The CSV header does not match the flat claims format.",
            [(1, f"{detail}expected columns from: {', '.join(FLAT_COLUMNS)} ('claim' is required)")],
        )
    try:
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num  # a quoted cell may span lines: name the row's first line
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield start, f"{len(cells)} cells, the header has {len(columns)}"
                continue
            yield start, {c: _unescape_cell(v) for c, v in zip(columns, cells, strict=True) if c}
    except csv.Error as err:
        raise ImportFileError("Broken CSV file.", [(reader.line_num, str(err))]) from None


def _needs_escape(value: str) -> bool:
    """A value a spreadsheet would run as a formula, or one that only looks escaped (quote marks, then one)."""
    return value.lstrip("'").startswith(_FORMULA_PREFIXES)


def _unescape_cell(value: str) -> str:
    if value.startswith("'") and _needs_escape(value[1:]):
        return value[1:]
    return value


def _escape_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell starting with = + - @ tab or CR gets a quote mark
    (and so does one already starting with quote marks before those, so an import gives back the exact value)."""
    return "'" + value if _needs_escape(value) else value


def read_native(data: bytes) -> dict[str, Any]:
    text = _decode(data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ImportFileError("Broken JSON file.", [(err.lineno, err.msg)]) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ImportFileError(f'Not a Claim Ledger document: expected "format": "{FORMAT_NAME}" at the top.')
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise ImportFileError(f"Unsupported format version {version!r}; this Claim Ledger reads version 1.")
    for key in ("incidents", "speakers", "claims"):
        if not isinstance(document.get(key, []), list):
            raise ImportFileError(f'"{key}" must be a list.')
    return document


# ----------------------------------------------------------------------------- importing


def run_import(
    ledger: Ledger,
    records: list[tuple[int | str, Step]],
    *,
    dry_run: bool,
    progress: Progress | None,
    what: str,
    headline: str = "",
    report: ImportReport | None = None,
) -> ImportReport:
    """Run each step in its own savepoint inside one transaction; keep nothing if any step failed (or dry run).

    A step returns ``(action, label)`` for a claim it created, updated or left unchanged, else None."""
    report = report or ImportReport()
    report.dry_run = dry_run
    try:
        with ledger.transaction():
            for done, (position, step) in enumerate(records, start=1):
                try:
                    with ledger.transaction():
                        change = step(report)
                    if change:
                        report.changes.append((position, *change))
                except LedgerError as err:
                    report.problems.append((position, str(err)))
                if progress:
                    progress(done, len(records))
            if dry_run:
                raise _DryRun  # report what would change, invalid records included; write nothing
            if report.problems:
                raise ImportFileError(
                    f"{headline} Nothing was imported: {len(report.problems)} bad {what}.".lstrip(), report.problems
                )
    except _DryRun:
        pass
    return report


def _upsert_incident(ledger: Ledger, scope: str, raw: dict[str, Any], actor: str, report: ImportReport) -> str:
    if not isinstance(raw, dict):
        raise InvalidInputError("an incident must be a JSON object")
    fields = {k: raw.get(k) for k in ("title", "date", "place", "summary")}
    aliases = raw.get("aliases") or []
    slug = raw.get("slug") or slugify(str(raw.get("title") or ""))
    try:
        existing = ledger.get_incident(scope, slug)
    except NotFoundError:
        report.incidents += 1
        return ledger.create_incident(scope, slug=slug, aliases=aliases, actor=actor, **fields).slug
    return ledger.update_incident(scope, existing.id, actor=actor, aliases=aliases, **fields).slug


def _upsert_speaker(ledger: Ledger, scope: str, raw: dict[str, Any], actor: str, report: ImportReport) -> str:
    if not isinstance(raw, dict):
        raise InvalidInputError("a speaker must be a JSON object")
    name = str(raw.get("name") or "").strip()
    existing = ledger.find_speaker(scope, name) if name else None
    if existing is None or existing.name.casefold() != name.casefold():
        report.speakers += 1
        return ledger.create_speaker(
            scope, name=name, role=raw.get("role"), kind=raw.get("kind"), aliases=raw.get("aliases") or [], actor=actor
        ).name
    return ledger.update_speaker(
        scope, existing.id, actor=actor, role=raw.get("role"), kind=raw.get("kind"), aliases=raw.get("aliases") or []
    ).name


def upsert_claim(
    ledger: Ledger,
    scope: str,
    record: dict[str, Any],
    actor: str,
    report: ImportReport,
    *,
    keep: frozenset[str] = frozenset(),
    one_source: bool = False,
) -> tuple[str, str]:
    """Create, update (same ref, or same speaker and text) or leave a claim; apply its removed state.

    ``keep`` names claim fields the record does not carry (a flat file without that column): an update
    leaves them as they are. ``one_source``: the record carries only the first source (flat files), so
    naming the claim's current first source keeps its other sources.
    Returns (``new`` | ``updated`` | ``unchanged``, a label for the claim)."""
    fields = {
        "text": record.get("claim"),
        "quote": record.get("quote"),
        "speaker": record.get("speaker"),
        "incident": record.get("incident"),
        "said_at": record.get("said_at"),
        "said_where": record.get("said_where"),
        "tags": record.get("tags"),
        "evidence_status": record.get("evidence_status"),
        "evidence_details": record.get("evidence_details"),
        "evidence_links": record.get("evidence_links"),
        "sources": record.get("sources"),
        "ref": record.get("ref"),
    }
    existing = _find_existing(ledger, scope, fields)
    before = claim_record(existing) if existing is not None else None
    if existing is None:
        claim = ledger.add_claim(scope, actor=actor, **fields)
    else:
        changes = {k: v for k, v in fields.items() if k not in keep}
        if one_source and changes.get("sources") and existing.sources:
            given, first = changes["sources"][0], existing.sources[0]
            if (given.get("url") or None, given.get("title") or given.get("url")) == (first.url, first.title):
                del changes["sources"]
        claim = ledger.update_claim(scope, existing.id, actor=actor, **changes)
    removed = record.get("removed")
    if removed and not claim.removed:
        reason = removed.get("reason") if isinstance(removed, dict) else str(removed)
        claim = ledger.remove_claim(scope, claim.id, reason=reason or "removed", actor=actor)
    elif not removed and claim.removed and record.get("removed", "absent") is None:
        claim = ledger.restore_claim(scope, claim.id, actor=actor)
    if before is None:
        report.created += 1
        action = "new"
    elif claim_record(claim) == before:
        report.unchanged += 1
        action = "unchanged"
    else:
        report.updated += 1
        action = "updated"
    return action, claim_label(claim.ref, claim.text)


def claim_label(ref: str | None, text: str | None) -> str:
    """How a change lists a claim: its ref, else the start of its text."""
    if ref:
        return ref
    text = " ".join(str(text or "").split())
    return text if len(text) <= 60 else text[:59] + "…"


def _find_existing(ledger: Ledger, scope: str, fields: dict[str, Any]) -> Any:
    """The claim a record updates: the one with its ref, else an unreferenced one with the same speaker and text."""
    ref = str(fields["ref"]).strip() if fields.get("ref") else None
    if ref:
        return ledger.find_claim(scope, ref=ref)
    text = str(fields.get("text") or "").strip()
    return ledger.find_claim(scope, text=text, speaker=str(fields.get("speaker") or "").strip()) if text else None


def import_document(
    ledger: Ledger,
    scope: str,
    document: dict[str, Any],
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a native document (incidents, then speakers, then claims)."""
    steps: list[tuple[int | str, Step]] = []
    for i, raw in enumerate(document.get("incidents", [])):
        steps.append(
            (f"incidents[{i}]", lambda rep, raw=raw: _no_change(_upsert_incident(ledger, scope, raw, actor, rep)))
        )
    for i, raw in enumerate(document.get("speakers", [])):
        steps.append(
            (f"speakers[{i}]", lambda rep, raw=raw: _no_change(_upsert_speaker(ledger, scope, raw, actor, rep)))
        )
    for i, raw in enumerate(document.get("claims", [])):
        steps.append((f"claims[{i}]", lambda rep, raw=raw: _import_native_claim(ledger, scope, raw, actor, rep)))
    return run_import(ledger, steps, dry_run=dry_run, progress=progress, what="records")


def _no_change(_: object) -> None:
    return None


def _import_native_claim(ledger: Ledger, scope: str, raw: Any, actor: str, report: ImportReport) -> tuple[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInputError("a claim must be a JSON object")
    evidence = raw.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise InvalidInputError("evidence must be an object with status, details and links")
    sources = raw.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise InvalidInputError("sources must be a list of objects with url, title and publisher")
    record = {
        **raw,
        "evidence_status": evidence.get("status"),
        "evidence_details": evidence.get("details"),
        "evidence_links": evidence.get("links"),
        "sources": sources,
    }
    return upsert_claim(ledger, scope, record, actor, report)


def import_flat_rows(
    ledger: Ledger,
    scope: str,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
    headline: str = "",
) -> ImportReport:
    """Import flat rows; a row given as a string is a row that could not be read (the string says why)."""
    steps: list[tuple[int | str, Step]] = [
        (line, lambda rep, row=row: _import_flat_row(ledger, scope, row, actor, rep)) for line, row in rows
    ]
    return run_import(ledger, steps, dry_run=dry_run, progress=progress, what="rows", headline=headline)


def _import_flat_row(
    ledger: Ledger, scope: str, row: dict[str, Any] | str, actor: str, report: ImportReport
) -> tuple[str, str]:
    if isinstance(row, str):
        raise InvalidInputError(row)
    unknown = set(row) - set(FLAT_COLUMNS)
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: (str(v) if v is not None and not isinstance(v, list) else v) for k, v in row.items()}
    incident = (values.get("incident") or "").strip() or None
    if incident:
        try:
            incident = ledger.get_incident(scope, incident).slug
        except NotFoundError:
            report.incidents += 1
            incident = ledger.create_incident(scope, title=incident, actor=actor).slug
    speaker = (values.get("speaker") or "").strip() or None
    if speaker:
        found = ledger.find_speaker(scope, speaker)
        if found is None:
            report.speakers += 1
            found = ledger.create_speaker(scope, name=speaker, role=values.get("speaker_role"), actor=actor)
        elif values.get("speaker_role") and not found.role:
            ledger.update_speaker(scope, found.id, role=values.get("speaker_role"), actor=actor)
        speaker = found.name
    source_url = (values.get("source_url") or "").strip() or None
    source_title = (values.get("source_title") or "").strip() or None
    record = {
        "ref": values.get("ref"),
        "incident": incident,
        "speaker": speaker,
        "claim": values.get("claim"),
        "quote": values.get("quote"),
        "said_at": values.get("said_at"),
        "said_where": values.get("said_where"),
        "tags": values.get("tags"),
        "evidence_status": values.get("evidence_status"),
        "evidence_details": values.get("evidence"),
        "evidence_links": None,
        "sources": [{"url": source_url, "title": source_title}] if (source_url or source_title) else [],
    }
    if not (record["claim"] or "").strip():
        raise InvalidInputError("the claim column is empty")
    # a column the file does not have leaves that field of an existing claim alone (an empty cell clears it)
    keep = {field for field, columns in _FLAT_FIELDS.items() if not any(c in row for c in columns)}
    keep.add("evidence_links")  # flat files carry no evidence links
    return upsert_claim(ledger, scope, record, actor, report, keep=frozenset(keep), one_source=True)


# claim field → the flat columns that carry it
_FLAT_FIELDS = {
    "ref": ("ref",),
    "incident": ("incident",),
    "speaker": ("speaker",),
    "quote": ("quote",),
    "said_at": ("said_at",),
    "said_where": ("said_where",),
    "tags": ("tags",),
    "evidence_status": ("evidence_status",),
    "evidence_details": ("evidence",),
    "sources": ("source_url", "source_title"),
}


# ----------------------------------------------------------------------------- exporting


def export_document(ledger: Ledger, scope: str, *, incident: str | None = None) -> dict[str, Any]:
    """The native document of a scope (or one incident of it), removed claims included."""
    claims = ledger.list_claims(scope, incident=incident, include_removed=True)
    incidents = ledger.list_incidents(scope)
    speakers = ledger.list_speakers(scope)
    if incident is not None:
        wanted = ledger.get_incident(scope, incident).id
        incidents = [i for i in incidents if i.id == wanted]
        used = {c.speaker.id for c in claims if c.speaker}
        speakers = [s for s in speakers if s.id in used]
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "incidents": [incident_record(i) for i in sorted(incidents, key=lambda i: i.slug)],
        "speakers": [speaker_record(s) for s in speakers],
        "claims": [claim_record(c) for c in claims],
    }


def dump_document(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def flat_rows(ledger: Ledger, scope: str, *, incident: str | None = None) -> list[dict[str, str]]:
    rows = []
    for claim in ledger.list_claims(scope, incident=incident):
        source = claim.sources[0] if claim.sources else None
        rows.append(
            {
                "ref": claim.ref or "",
                "incident": claim.incident.slug if claim.incident else "",
                "speaker": claim.speaker.name if claim.speaker else "",
                "speaker_role": (claim.speaker.role or "") if claim.speaker else "",
                "claim": claim.text,
                "quote": claim.quote or "",
                "said_at": claim.said_at or "",
                "said_where": claim.said_where or "",
                "evidence_status": claim.evidence.status.value,
                "evidence": claim.evidence.details or "",
                "source_url": (source.url or "") if source else "",
                "source_title": source.title if source else "",
                "tags": "; ".join(claim.tags),
            }
        )
    return rows


def dump_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # the minimal writer leaves a CR unquoted (it is not in the line terminator); such a row is quoted whole
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(FLAT_COLUMNS)
    for row in rows:
        cells = [_escape_cell(row[c]) for c in FLAT_COLUMNS]
        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
    return out.getvalue()


def dump_jsonl(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
