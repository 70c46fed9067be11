"""The in-memory document every reader produces and the planner compares with the ledger.

A reader turns a file's bytes into a :class:`Document`: its incidents, speakers and claims, each a
:class:`Record` that knows where it was in the file (a line number, or a JSON path such as ``claims[3]``).
Readers touch no database and do not import each other; they share only this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ImportFileError

MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_NUMBER_DIGITS = 100  # a longer integer in a JSON file is a per-record error, not a ValueError
DEFAULT_PUBLISHER = "Claim Ledger"

Progress = Callable[[int, int], None]
Where = int | str
Note = tuple[Where, str]


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


# How a record that names a speaker or an incident treats the one the ledger already has:
UPSERT = "upsert"  # native document: the file's values replace the ledger's (a full record)
ENSURE = "ensure"  # flat row: find it (by name or alias; slug, title or alias), else create it; fill a missing role
FILL = "fill"  # ClaimReview: find it, else create it; fill only its empty fields, add new aliases, note conflicts


@dataclass
class Record:
    """One record of a file.

    ``kind`` is "incident", "speaker" or "claim". ``data`` holds the record's fields as read (values are not
    validated yet: the planner does that, with the ledger's rules). A claim may carry the ``speaker`` and
    ``incident`` it names as records of their own (flat and ClaimReview files), to be found or created first.
    ``keep`` names claim fields the file does not carry (an update leaves them alone); ``one_source``: the
    record carries only a claim's first source. ``problem`` is set when the reader already knows the record is
    invalid (a broken line, a record that is not an object)."""

    kind: str
    where: Where
    data: dict[str, Any] = field(default_factory=dict)
    mode: str = UPSERT
    speaker: Record | None = None
    incident: Record | None = None
    keep: frozenset[str] = frozenset()
    one_source: bool = False
    problem: str | None = None


@dataclass
class Document:
    """What a reader made of a file: records in file order, notes on what could not be mapped."""

    records: list[Record] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    headline: str = ""  # put before "Nothing was imported" when the file itself is broken
    what: str = "records"  # "records" or "rows", for the error message


# ----------------------------------------------------------------------------- bytes and JSON


class BadNumber:
    """A JSON number the ledger cannot hold (NaN, Infinity, an overflowing float, a huge integer): the reader
    keeps it as this marker so the planner reports it as a per-record error with its position."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return self.reason


def _parse_int(text: str) -> int | BadNumber:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        return BadNumber(f"a {digits}-digit number")
    return int(text)


def _parse_float(text: str) -> float | BadNumber:
    value = float(text)
    return value if math.isfinite(value) else BadNumber(f"the number {text[:20]} (too large)")


def _parse_constant(text: str) -> BadNumber:
    return BadNumber(f"{text} (not a number)")


def loads(text: str, what: str) -> Any:
    """``json.loads`` that never raises anything but :class:`ImportFileError` for a broken file: nesting too
    deep for the parser is refused whole; NaN, Infinity and huge numbers become :class:`BadNumber` markers."""
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except json.JSONDecodeError as err:
        raise ImportFileError(f"Broken {what} file.", [(err.lineno, f"{err.msg} (column {err.colno})")]) from None
    except RecursionError:
        raise ImportFileError(f"Broken {what} file.", [(1, "the JSON is nested too deeply to read")]) from None


def decode(data: bytes) -> str:
    """The file's text (UTF-8, a BOM dropped); :class:`ImportFileError` past the size limit or for bad bytes."""
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


def claim_label(ref: str | None, text: str | None) -> str:
    """How a change lists a claim: its ref, else the start of its text."""
    if ref:
        return ref
    text = " ".join(str(text or "").split())
    return text if len(text) <= 60 else text[:59] + "…"


def json_line(value: Any) -> str:
    """One JSON Lines line: U+2028 and U+2029 escaped, so that no reader splits the line on them."""
    return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"
