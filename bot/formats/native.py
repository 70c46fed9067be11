"""The native JSON document (``"format": "claim-ledger"``): its reader and its writer.

The reader turns the file into a :class:`~bot.formats.document.Document` (incidents, then speakers, then
claims, each at its JSON path) and touches no database; the planner does the rest.
"""

from __future__ import annotations

import json
from typing import Any

from bot.errors import ImportFileError
from bot.formats.document import UPSERT, Document, Record, decode, loads
from bot.store import Ledger, claim_record, incident_record, speaker_record

FORMAT_NAME = "claim-ledger"
FORMAT_VERSION = 1
CLAIM_FIELDS = {
    "text": "claim",
    "quote": "quote",
    "speaker": "speaker",
    "incident": "incident",
    "said_at": "said_at",
    "said_where": "said_where",
    "tags": "tags",
    "ref": "ref",
}


def read_native(data: bytes) -> dict[str, Any]:
    """The document as JSON, its shape checked; :class:`ImportFileError` when it is not a native document."""
    document = loads(decode(data), "JSON")
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ImportFileError(f'Not a Claim Ledger document: expected "format": "{FORMAT_NAME}" at the top.')
    version = document.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ImportFileError(f"Unsupported format version {version!r}; this Claim Ledger reads version 1.")
    for key in ("incidents", "speakers", "claims"):
        if not isinstance(document.get(key, []), list):
            raise ImportFileError(f'"{key}" must be a list.')
    return document


def native_records(document: dict[str, Any]) -> Document:
    """The records of a native document (already parsed): incidents, then speakers, then claims."""
    out = Document()
    for i, raw in enumerate(document.get("incidents") or []):
        problem = None if isinstance(raw, dict) else "an incident must be a JSON object"
        out.records.append(Record("incident", f"incidents[{i}]", raw if not problem else {}, problem=problem))
    for i, raw in enumerate(document.get("speakers") or []):
        problem = None if isinstance(raw, dict) else "a speaker must be a JSON object"
        out.records.append(Record("speaker", f"speakers[{i}]", raw if not problem else {}, problem=problem))
    for i, raw in enumerate(document.get("claims") or []):
        out.records.append(_claim(f"claims[{i}]", raw))
    return out


def _claim(where: str, raw: Any) -> Record:
    if not isinstance(raw, dict):
        return Record("claim", where, problem="a claim must be a JSON object")
    evidence = raw.get("evidence") or {}
    if not isinstance(evidence, dict):
        return Record("claim", where, problem="evidence must be an object with status, details and links")
    sources = raw.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        return Record("claim", where, problem="sources must be a list of objects with url, title and publisher")
    data = {name: raw.get(key) for name, key in CLAIM_FIELDS.items()}
    data.update(
        evidence_status=evidence.get("status"),
        evidence_details=evidence.get("details"),
        evidence_links=evidence.get("links"),
        sources=sources,
    )
    if "removed" in raw:
        data["removed"] = raw["removed"]
    return Record("claim", where, data, mode=UPSERT)


def read_document(data: bytes) -> Document:
    return native_records(read_native(data))


# ----------------------------------------------------------------------------- export


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
