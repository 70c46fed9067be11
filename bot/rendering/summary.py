"""The content of a pinned incident summary: what happened, the positions and who holds them, recent changes.

Positions are derived from the claims, not written by hand: claims are grouped by their first tag
(a topic such as ``responsibility`` or ``ukraine-link``; ``disputes:TOPIC`` tags group as "Disputes …"),
each group listing its speakers and the evidence they presented. Pure: no Discord.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.matching import DISPUTES
from bot.models import Claim, EvidenceStatus, Incident, Revision
from bot.store import Ledger

MAX_POSITIONS = 8


@dataclass(frozen=True)
class Position:
    label: str
    speakers: tuple[str, ...]
    status: EvidenceStatus
    claims: int


@dataclass(frozen=True)
class IncidentSummary:
    incident: Incident
    positions: tuple[Position, ...]
    changes: tuple[str, ...]
    claim_count: int


def _topic(claim: Claim) -> str:
    disputes = [t for t in claim.tags if t.startswith(DISPUTES)]
    if disputes:
        return "disputes " + disputes[0][len(DISPUTES) :]
    return claim.tags[0] if claim.tags else "other"


def _label(topic: str) -> str:
    return topic.replace("-", " ").replace("_", " ").capitalize()


def _overall(statuses: list[EvidenceStatus]) -> EvidenceStatus:
    """The status a group shows: any evidence presented wins, then partial, disputed, none presented, unknown."""
    for status in (
        EvidenceStatus.PRESENTED,
        EvidenceStatus.PARTIAL,
        EvidenceStatus.DISPUTED,
        EvidenceStatus.NOT_PRESENTED,
    ):
        if status in statuses:
            return status
    return EvidenceStatus.UNKNOWN


def positions(claims: list[Claim]) -> tuple[Position, ...]:
    groups: dict[str, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(_topic(claim), []).append(claim)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_POSITIONS]
    out = []
    for topic, members in ordered:
        names = Counter(c.speaker.name for c in members if c.speaker)
        out.append(
            Position(
                label=_label(topic),
                speakers=tuple(name for name, _ in names.most_common()),
                status=_overall([c.evidence.status for c in members]),
                claims=len(members),
            )
        )
    return tuple(out)


def describe_change(revision: Revision) -> str:
    record = revision.new or revision.old or {}
    text = str(record.get("claim") or "")
    short = text if len(text) <= 60 else text[:59] + "…"
    return f"{revision.at[:16].replace('T', ' ')} · {revision.action} #{revision.entity_id} · {short}"


def build_summary(ledger: Ledger, scope: str, incident: str | int, *, changes: int = 5) -> IncidentSummary:
    found = ledger.get_incident(scope, incident)
    claims = ledger.list_claims(scope, incident=found.id)
    recent = [
        r
        for r in ledger.recent_revisions(scope, limit=200)
        if r.entity == "claim"
        and ((r.new or {}).get("incident") == found.slug or (r.old or {}).get("incident") == found.slug)
    ]
    return IncidentSummary(
        incident=found,
        positions=positions(claims),
        changes=tuple(describe_change(r) for r in recent[:changes]),
        claim_count=len(claims),
    )
