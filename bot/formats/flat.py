"""The flat claims format, one claim a row: CSV or JSON Lines. Its reader and its writer.

A row names its incident (slug, title or alias) and its speaker (name or alias); the planner finds them or
creates them. A column the file lacks leaves that field of an existing claim alone; an empty cell clears it.
Tags are joined with "; ", or written as a JSON list (``["a, b", "c"]``) when a tag holds , ; or |.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from bot.errors import ImportFileError
from bot.formats.document import ENSURE, BadNumber, Document, Record, decode, json_line, loads
from bot.store import Ledger

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
FLAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines"}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TAG_SEPARATORS = (",", ";", "|")

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


# ----------------------------------------------------------------------------- reading


def read_flat_lines(data: bytes, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row dict, or what is wrong with that row) for a CSV or JSONL flat file.

    A file that cannot be read as a whole (encoding, size, header) raises ImportFileError; a row that is
    broken on its own (a JSON Lines line that is not an object, a CSV row with the wrong number of cells)
    is yielded as a message, so a dry run can list it with the other invalid rows."""
    text = decode(data)
    if fmt == "jsonl":
        # only "\n" ends a line: U+2028, U+2029, form feeds and lone CRs may stand inside a JSON string
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = loads(line, "JSON Lines")
            except ImportFileError as err:
                yield number, f"not JSON: {err.problems[0][1]}" if err.problems else "not JSON"
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


def read_document(data: bytes, fmt: str) -> Document:
    """The records of a CSV or JSON Lines file, one claim a row (a broken row is a record with a problem)."""
    out = Document(what="rows")
    broken = False
    for number, row in read_flat_lines(data, fmt):
        if isinstance(row, str):
            broken = True
            out.records.append(Record("claim", number, problem=row))
        else:
            out.records.append(row_record(number, row))
    if broken:
        out.headline = f"Broken {FLAT_NAMES[fmt]} file."
    return out


def _cell(column: str, value: Any) -> str | list[Any] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, BadNumber):
        raise ValueError(f"{column}: {value.reason} cannot be stored")
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, list) and column == "tags":
        return value
    raise ValueError(f"{column} must be text, not {'a list' if isinstance(value, list) else 'an object'}")


def _stripped(value: str | list[Any] | None) -> str | None:
    """A text cell trimmed, or None when empty (only the tags column may hold a list)."""
    return (value.strip() or None) if isinstance(value, str) else None


def row_record(line: int, row: dict[str, Any]) -> Record:
    """The record of one flat row."""
    unknown = set(row) - set(FLAT_COLUMNS)
    if unknown:
        return Record("claim", line, problem=f"unknown field(s) {', '.join(sorted(unknown))}")
    try:
        values = {k: _cell(k, v) for k, v in row.items()}
    except ValueError as err:
        return Record("claim", line, problem=str(err))
    text = values.get("claim")
    if not (isinstance(text, str) and text.strip()):
        return Record("claim", line, problem="the claim column is empty")
    incident = _stripped(values.get("incident"))
    speaker = _stripped(values.get("speaker"))
    source_url = _stripped(values.get("source_url"))
    source_title = _stripped(values.get("source_title"))
    data = {
        "ref": values.get("ref"),
        "incident": incident,
        "speaker": speaker,
        "text": text,
        "quote": values.get("quote"),
        "said_at": values.get("said_at"),
        "said_where": values.get("said_where"),
        "tags": decode_tags(values.get("tags")),
        "evidence_status": values.get("evidence_status"),
        "evidence_details": values.get("evidence"),
        "evidence_links": None,
        "sources": [{"url": source_url, "title": source_title}] if (source_url or source_title) else [],
    }
    # a column the file does not have leaves that field of an existing claim alone (an empty cell clears it)
    keep = {name for name, columns in _FLAT_FIELDS.items() if not any(c in row for c in columns)}
    keep.add("evidence_links")  # flat files carry no evidence links
    return Record(
        "claim",
        line,
        data,
        mode=ENSURE,
        incident=Record("incident", line, {"title": incident}, mode=ENSURE) if incident else None,
        speaker=Record("speaker", line, {"name": speaker, "role": values.get("speaker_role")}, mode=ENSURE)
        if speaker
        else None,
        keep=frozenset(keep),
        one_source=True,
    )


def decode_tags(value: str | list[Any] | None) -> str | list[Any] | None:
    """A tags cell: a JSON list of strings (how tags holding , ; or | are written), else the separated text."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            tags = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
            return tags
    return value


def encode_tags(tags: tuple[str, ...] | list[str]) -> str:
    if any(sep in tag for tag in tags for sep in _TAG_SEPARATORS) or (tags and tags[0].startswith("[")):
        return json.dumps(list(tags), ensure_ascii=False)
    return "; ".join(tags)


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


# ----------------------------------------------------------------------------- writing


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
                "tags": encode_tags(claim.tags),
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
    return "".join(json_line(row) for row in rows)
