"""Typed objects the ledger hands out. Plain dataclasses: no SQL, no Discord."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class EvidenceStatus(enum.StrEnum):
    PRESENTED = "presented"
    NOT_PRESENTED = "not_presented"
    PARTIAL = "partial"
    DISPUTED = "disputed"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    EvidenceStatus.PRESENTED: "Evidence presented",
    EvidenceStatus.NOT_PRESENTED: "No evidence presented",
    EvidenceStatus.PARTIAL: "Partial evidence",
    EvidenceStatus.DISPUTED: "Evidence disputed",
    EvidenceStatus.UNKNOWN: "Evidence not assessed",
}


class SpeakerKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    AGENCY = "agency"
    MEDIA = "media"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    scope: str
    slug: str
    title: str
    date: str | None = None
    place: str | None = None
    summary: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Speaker:
    id: int
    scope: str
    name: str
    role: str | None = None
    kind: SpeakerKind = SpeakerKind.PERSON
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    title: str
    url: str | None = None
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    status: EvidenceStatus = EvidenceStatus.UNKNOWN
    details: str | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    scope: str
    text: str
    ref: str | None = None
    quote: str | None = None
    said_at: str | None = None
    said_where: str | None = None
    tags: tuple[str, ...] = ()
    incident: Incident | None = None
    speaker: Speaker | None = None
    evidence: Evidence = field(default_factory=Evidence)
    sources: tuple[Source, ...] = ()
    removed_reason: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def removed(self) -> bool:
        return self.removed_reason is not None


@dataclass(frozen=True, slots=True)
class Revision:
    id: int
    scope: str
    entity: str
    entity_id: int
    action: str
    actor: str
    at: str
    old: dict | None
    new: dict | None


@dataclass(frozen=True, slots=True)
class Match:
    claim: Claim
    score: float
    other_side: bool = False  # brought in to show the other side of a dispute, not for its own relevance
    # found through the speaker the question names; what it asks about is not clearly this claim's subject
    # ("what did Zelensky say about sanctions?" and a claim of his about the attack)
    speaker_only: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    matches: tuple[Match, ...]
    took_ms: float
    suggestions: tuple[str, ...] = ()
