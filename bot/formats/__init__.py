"""Import and export files of every format: the one public module of ``bot.formats``.

Readers and writers live one format per module (``transfer`` for native JSON and the flat CSV/JSONL rows,
``claimreview`` for schema.org ClaimReview JSON-LD); this module picks one by the file's name and content.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.errors import ImportFileError, InvalidInputError
from bot.formats.claimreview import export_claimreview, import_claimreview
from bot.formats.transfer import (
    _FLAT_NAMES,
    DEFAULT_PUBLISHER,
    MAX_IMPORT_BYTES,
    ImportReport,
    Progress,
    detect_format,
    dump_csv,
    dump_document,
    dump_jsonl,
    export_document,
    flat_rows,
    import_document,
    import_flat_rows,
    read_flat_lines,
    read_native,
)
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
    fmt = detect_format(name, data)
    if fmt == "claimreview":
        return import_claimreview(ledger, scope, data, actor=actor, dry_run=dry_run, progress=progress)
    if fmt == "native":
        return import_document(ledger, scope, read_native(data), actor=actor, dry_run=dry_run, progress=progress)
    rows = list(read_flat_lines(data, fmt))
    broken = any(isinstance(row, str) for _, row in rows)
    return import_flat_rows(
        ledger,
        scope,
        rows,
        actor=actor,
        dry_run=dry_run,
        progress=progress,
        headline=f"Broken {_FLAT_NAMES[fmt]} file." if broken else "",
    )


def preview_import(
    ledger: Ledger, scope: str, name: str, data: bytes, *, actor: str = "preview", progress: Progress | None = None
) -> ImportReport:
    """What importing ``data`` would change, invalid records included; writes nothing.

    Raises ImportFileError only when the file cannot be read at all (encoding, size, broken JSON, wrong CSV
    header); records that are invalid on their own are listed in ``report.problems``."""
    return import_bytes(ledger, scope, name, data, actor=actor, dry_run=True, progress=progress)


def import_file(
    ledger: Ledger, scope: str, path: str | Path, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path.name} is {size / 1024 / 1024:.1f} MB; the import limit is 50 MB.")
        data = path.read_bytes()
    except OSError as err:
        raise ImportFileError(f"Cannot read {path}: {err.strerror or err}.") from None
    return import_bytes(ledger, scope, path.name, data, actor=actor, dry_run=dry_run, progress=progress)


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
