"""Answers as plain text (terminal) and as the CLI's JSON contract. No Discord here: see ``bot.embeds``."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.models import Answer, Claim, Match
from bot.validation import format_partial_date


def match_json(match: Match) -> dict[str, Any]:
    claim = match.claim
    return {
        "claim_id": claim.id,
        "ref": claim.ref,
        "score": match.score,
        "other_side": match.other_side,
        "speaker_only": match.speaker_only,
        "claim": claim.text,
        "quote": claim.quote,
        "speaker": {
            "name": claim.speaker.name if claim.speaker else None,
            "role": claim.speaker.role if claim.speaker else None,
            "aliases": list(claim.speaker.aliases) if claim.speaker else [],
        },
        "said_at": claim.said_at,
        "said_where": claim.said_where,
        "evidence": {"status": claim.evidence.status.value, "details": claim.evidence.details},
        "sources": [{"url": s.url, "title": s.title} for s in claim.sources],
        "incident": {"slug": claim.incident.slug, "title": claim.incident.title} if claim.incident else None,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    return {"question": answer.question, "took_ms": answer.took_ms, "matches": [match_json(m) for m in answer.matches]}


def who(claim: Claim) -> str:
    if claim.speaker is None:
        return "Unattributed"
    return f"{claim.speaker.name} ({claim.speaker.role})" if claim.speaker.role else claim.speaker.name


def when_where(claim: Claim) -> str:
    parts = [format_partial_date(claim.said_at)]
    if claim.said_where:
        parts.append(claim.said_where)
    return " · ".join(parts)


def evidence_line(claim: Claim) -> str:
    label = claim.evidence.status.label
    return f"{label}: {claim.evidence.details}" if claim.evidence.details else label


def source_line(claim: Claim) -> str:
    if not claim.sources:
        return "No source recorded"
    return "; ".join(f"{s.title} <{s.url}>" if s.url else s.title for s in claim.sources)


def match_label(match: Match) -> str:
    if match.other_side:
        return "other side of a dispute"
    if match.speaker_only:
        return f"{confidence_label(match.score)} for the speaker asked about, not clearly for the subject asked"
    return confidence_label(match.score)


def speaker_only_note(answer: Answer) -> str | None:
    """What to say above an answer whose best claim was found through the speaker the question names alone."""
    best = next((m for m in answer.matches if not m.other_side), None)
    if best is not None and best.speaker_only:
        return "The best match is by the speaker the question names, but not clearly about what it asks."
    return None


def confidence_label(score: float) -> str:
    if score >= 0.75:
        return "strong match"
    if score >= 0.5:
        return "good match"
    return "weak match"


def render_claim_text(claim: Claim, *, width: int = 100) -> list[str]:
    indent = "   "

    def wrap(label: str, text: str) -> list[str]:
        return textwrap.wrap(
            f"{label}: {text}", width=width, initial_indent=indent, subsequent_indent=indent + "  "
        ) or [indent + label + ":"]

    lines = wrap("Claim", claim.text)
    if claim.quote:
        lines += wrap("Quote", f"“{claim.quote}”")
    lines += wrap("When/where", when_where(claim))
    lines += wrap("Evidence", evidence_line(claim))
    lines += wrap("Source", source_line(claim))
    if claim.incident:
        lines += wrap("Incident", claim.incident.title)
    return lines


def render_answer_text(answer: Answer, *, width: int = 100) -> str:
    out = [f"Q: {answer.question}", ""]
    if not answer.matches:
        out.append("No claim in this ledger matches that question.")
        if answer.suggestions:
            out.append("Did you mean: " + ", ".join(answer.suggestions) + "?")
        return "\n".join(out) + "\n"
    note = speaker_only_note(answer)
    if note:
        out.extend([note, ""])
    for number, match in enumerate(answer.matches, start=1):
        ref = f" [{match.claim.ref}]" if match.claim.ref else ""
        out.append(f"{number}. {who(match.claim)} — #{match.claim.id}{ref}, {match_label(match)}")
        out.extend(render_claim_text(match.claim, width=width))
        out.append("")
    out.append(f"{len(answer.matches)} claim(s) in {answer.took_ms:.1f} ms. Claims are attributed, not verified.")
    return "\n".join(out) + "\n"
