"""Import and export files of every format: the one public module of ``bot.formats``.

An import runs in three stages. A reader, one module per format (``native`` JSON, ``flat`` CSV/JSONL,
``claimreview`` JSON-LD), turns the bytes into one in-memory document (``document``) and touches no database.
The ``planner`` compares the document with the ledger in a handful of set-based queries and decides what is
new, updated, unchanged or invalid (with reasons and positions); a dry run or a preview is that plan. The
``applier`` writes the plan in bulk, revisions included, in one short transaction (``pipeline``). Writers
(``native``, ``flat``, ``claimreview``) turn the ledger back into each format.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from bot.errors import ImportFileError, InvalidInputError
from bot.formats import claimreview, flat, native
from bot.formats.claimreview import export_claimreview
from bot.formats.document import DEFAULT_PUBLISHER, MAX_IMPORT_BYTES, ImportReport, Progress, detect_format
from bot.formats.flat import dump_csv, dump_jsonl, flat_rows
from bot.formats.native import dump_document, export_document
from bot.formats.pipeline import run_import
from bot.store import Ledger

__all__ = [
    "EXTENSIONS",
    "MAX_IMPORT_BYTES",
    "ImportReport",
    "detect_format",
    "export_bytes",
    "export_text",
    "import_bytes",
    "import_file",
    "preview_import",
    "read_import_file",
]


def import_bytes(
    ledger: Ledger,
    scope: str,
    name: str,
    data: bytes,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Read the file (the reader of its format), plan the import against the ledger, and write the plan in one
    transaction (unless ``dry_run``). Raises ImportFileError for a file that cannot be read, or (not in a dry
    run) for any invalid record, and then writes nothing."""
    fmt = detect_format(name, data)
    if fmt == "claimreview":
        document = claimreview.read_document(data)
    elif fmt == "native":
        document = native.read_document(data)
    else:
        document = flat.read_document(data, fmt)
    return run_import(ledger, scope, document, actor=actor, dry_run=dry_run, progress=progress)


def preview_import(
    ledger: Ledger, scope: str, name: str, data: bytes, *, actor: str = "preview", progress: Progress | None = None
) -> ImportReport:
    """What importing ``data`` would change, invalid records included; writes nothing.

    Raises ImportFileError only when the file cannot be read at all (encoding, size, broken JSON, wrong CSV
    header); records that are invalid on their own are listed in ``report.problems``."""
    return import_bytes(ledger, scope, name, data, actor=actor, dry_run=True, progress=progress)


def read_import_file(path: str | Path) -> bytes:
    """The bytes of a file to import: a regular file only (not a device, a FIFO or a directory), and never more
    than the import limit is read, whatever ``stat`` says."""
    path = Path(path)
    limit_mb = MAX_IMPORT_BYTES // 1024 // 1024
    try:
        # O_NONBLOCK: opening a FIFO returns at once (and is then refused) instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as err:
        raise ImportFileError(f"Cannot read {path}: {err.strerror or err}.") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        raise ImportFileError(f"{path.name or path} is not a regular file; import a file.")
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if info.st_size > MAX_IMPORT_BYTES:
                raise ImportFileError(
                    f"{path.name} is {info.st_size / 1024 / 1024:.1f} MB; the import limit is {limit_mb} MB."
                )
            data = file.read(MAX_IMPORT_BYTES + 1)
        except OSError as err:
            raise ImportFileError(f"Cannot read {path}: {err.strerror or err}.") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"{path.name} is larger than the import limit of {limit_mb} MB.")
    return data


def import_file(
    ledger: Ledger, scope: str, path: str | Path, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    data = read_import_file(path)
    return import_bytes(ledger, scope, Path(path).name, data, actor=actor, dry_run=dry_run, progress=progress)


def export_text(
    ledger: Ledger,
    scope: str,
    fmt: str,
    *,
    incident: str | None = None,
    publisher: str | None = None,
    publisher_url: str | None = None,
    claim_url: str | None = None,
) -> str:
    """The export of a scope (or one incident) as text. ``publisher`` (default "Claim Ledger"), ``publisher_url``
    and ``claim_url`` (a template such as ``https://example.org/claims/{ref}``) only matter for ClaimReview."""
    if fmt == "claimreview":
        document = export_claimreview(
            ledger,
            scope,
            incident=incident,
            publisher=publisher or DEFAULT_PUBLISHER,
            publisher_url=publisher_url,
            claim_url=claim_url,
        )
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if fmt == "native":
        return dump_document(export_document(ledger, scope, incident=incident))
    if fmt == "csv":
        return dump_csv(flat_rows(ledger, scope, incident=incident))
    if fmt == "jsonl":
        return dump_jsonl(flat_rows(ledger, scope, incident=incident))
    raise InvalidInputError(f"Unknown export format {fmt!r}; use native, csv, jsonl or claimreview.")


EXTENSIONS = {"native": "json", "csv": "csv", "jsonl": "jsonl", "claimreview": "jsonld"}


def export_bytes(
    ledger: Ledger,
    scope: str,
    fmt: str,
    *,
    incident: str | None = None,
    publisher: str | None = None,
    publisher_url: str | None = None,
    claim_url: str | None = None,
) -> tuple[str, bytes]:
    """(file name, content) of an export, for attaching to a message. ``incident`` is a slug, title or alias."""
    if fmt not in EXTENSIONS:
        raise InvalidInputError(f"Unknown export format {fmt!r}; use native, csv, jsonl or claimreview.")
    slug = ledger.get_incident(scope, incident).slug if incident is not None else None
    text = export_text(
        ledger, scope, fmt, incident=slug, publisher=publisher, publisher_url=publisher_url, claim_url=claim_url
    )
    stem = f"claim-ledger-{slug}" if slug else "claim-ledger"
    return f"{stem}.{EXTENSIONS[fmt]}", text.encode("utf-8")
