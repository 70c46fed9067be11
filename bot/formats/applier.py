"""The applier: writes a plan in bulk (``bot.store.bulk``), inside the caller's one transaction.

New rows get their ids here, read under the write lock; every row and every revision of the import goes to
the database in a few ``executemany`` calls.
"""

from __future__ import annotations

import json
from typing import Any

from bot.formats.planner import ClaimRow, Plan
from bot.store import Batch, Ledger, next_ids, now, write_batch
from bot.validation import clean_text


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value is not None else None


def _assigned(row_id: int | None) -> int:
    """A row's id, given by :func:`build_batch` before any row is written."""
    if row_id is None:
        raise RuntimeError("a row of the plan has no id")
    return row_id


def _claim_values(claim: ClaimRow) -> tuple[Any, ...]:
    record = claim.record
    evidence = record["evidence"]
    removed = record.get("removed")
    return (
        record["ref"],
        claim.incident.id if claim.incident else None,
        claim.speaker.id if claim.speaker else None,
        record["claim"],
        record["quote"],
        record["said_at"],
        record["said_where"],
        json.dumps(record["tags"], ensure_ascii=False),
        evidence["status"],
        evidence["details"],
        json.dumps(evidence["links"], ensure_ascii=False),
        removed["reason"] if removed else None,
    )


def build_batch(plan: Plan, ids: dict[str, int], actor: str) -> Batch:
    """The rows of a plan. ``ids``: the next free id of each table (see :func:`bot.store.bulk.next_ids`)."""
    who = clean_text(actor, "actor", required=True, multiline=False)
    at = now()
    batch = Batch(plan.scope)
    fresh = {id(source) for source in plan.sources if source.id is None}
    for table, rows in (("incidents", plan.incidents), ("speakers", plan.speakers), ("sources", plan.sources),
                        ("claims", plan.claims)):  # fmt: skip
        for row in rows:
            if row.id is None:
                row.id = ids[table]
                ids[table] += 1
    for incident in plan.incidents:
        record = incident.record()
        values = (*list(record.values())[:5], json.dumps(record["aliases"], ensure_ascii=False))
        if incident.original is None:
            batch.incidents_new.append((incident.id, *values, at, at))
        elif record != incident.original:
            batch.incidents_changed.append((*values, at, incident.id))
    for speaker in plan.speakers:
        record = speaker.record()
        values = (record["name"], record["role"], record["kind"], json.dumps(record["aliases"], ensure_ascii=False))
        if speaker.original is None:
            batch.speakers_new.append((speaker.id, *values, at, at))
        elif record != speaker.original:
            batch.speakers_changed.append((*values, at, speaker.id))
    for source in plan.sources:
        if id(source) in fresh:
            batch.sources_new.append((source.id, source.url, source.title, source.publisher))
        elif source.publisher != source.original_publisher:
            batch.sources_publisher.append((source.publisher, source.id))
    for claim in plan.claims:
        claim_id = _assigned(claim.id)
        source_ids = [_assigned(s.id) for s in claim.sources]
        if claim.original is None:
            batch.claims_new.append((claim_id, *_claim_values(claim), at, at))
            batch.claim_sources_new += [(claim_id, source_id, i) for i, source_id in enumerate(source_ids)]
        elif claim.record != claim.original or source_ids != [s.id for s in claim.original_sources]:
            batch.claims_changed.append((*_claim_values(claim), at, claim_id))
            if source_ids != [s.id for s in claim.original_sources]:
                batch.claim_sources_reset.append(claim_id)
                batch.claim_sources_changed += [(claim_id, source_id, i) for i, source_id in enumerate(source_ids)]
    for entity, row, action, old, new in plan.revisions:
        batch.revisions.append((entity, row.id, action, who, at, _json(old), _json(new)))
    return batch


def apply_plan(ledger: Ledger, plan: Plan, actor: str) -> None:
    """Write the plan; call inside ``ledger.transaction()``."""
    write_batch(ledger, build_batch(plan, next_ids(ledger), actor))
