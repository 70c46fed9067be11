"""The native document and the flat claims format under their old names (one place to import them from).

Readers live in ``native`` and ``flat``; the pipeline (``planner``, ``applier``) imports. Imports validate
every record, then write everything in one transaction: a file with a bad record writes nothing, and the
error lists every bad record with its line number (flat files) or its position (JSON). ``dry_run`` returns
what an import would change, bad records included, and writes nothing (see ``preview_import``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.formats.document import (
    DEFAULT_PUBLISHER,
    MAX_IMPORT_BYTES,
    Document,
    ImportReport,
    Progress,
    Record,
    claim_label,
    detect_format,
)
from bot.formats.flat import (
    FLAT_COLUMNS,
    FLAT_NAMES,
    _escape_cell,
    _unescape_cell,
    dump_csv,
    dump_jsonl,
    flat_rows,
    read_flat_lines,
    row_record,
)
from bot.formats.native import (
    FORMAT_NAME,
    FORMAT_VERSION,
    dump_document,
    export_document,
    native_records,
    read_native,
)
from bot.formats.pipeline import run_import
from bot.store import Ledger

__all__ = [
    "DEFAULT_PUBLISHER",
    "FLAT_COLUMNS",
    "FLAT_NAMES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_IMPORT_BYTES",
    "ImportReport",
    "Progress",
    "_escape_cell",
    "_unescape_cell",
    "claim_label",
    "detect_format",
    "dump_csv",
    "dump_document",
    "dump_jsonl",
    "export_document",
    "flat_rows",
    "import_document",
    "import_flat_rows",
    "read_flat_lines",
    "read_native",
]


def import_document(
    ledger: Ledger,
    scope: str,
    document: dict[str, Any],
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a native document already parsed (incidents, then speakers, then claims)."""
    return run_import(ledger, scope, native_records(document), actor=actor, dry_run=dry_run, progress=progress)


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
    records = [Record("claim", line, problem=row) if isinstance(row, str) else row_record(line, row)
               for line, row in rows]  # fmt: skip
    document = Document(records=records, headline=headline, what="rows")
    return run_import(ledger, scope, document, actor=actor, dry_run=dry_run, progress=progress)
