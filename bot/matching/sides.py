"""Both sides of a dispute: an answer that shows a claim never hides the claims that dispute it.

Convention (documented in the data format): a claim tagged ``disputes:TOPIC`` answers the claims of the
same incident tagged ``TOPIC`` (e.g. Kyiv's denial, tagged ``disputes:ukraine-link``, answers the FSB's
claim, tagged ``ukraine-link``). When the first page of an answer holds one side of such a pair and not
the other, the best claim of the other side is brought onto it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.models import Claim, Match

DISPUTES = "disputes:"

# fetch(tag, incident_id) -> live claims of that incident carrying the tag
Fetch = Callable[[str, int | None], list[Claim]]
Score = Callable[[Claim], float]


def asserted_topics(claim: Claim) -> set[str]:
    return {t for t in claim.tags if not t.startswith(DISPUTES)}


def disputed_topics(claim: Claim) -> set[str]:
    return {t[len(DISPUTES) :] for t in claim.tags if t.startswith(DISPUTES) and len(t) > len(DISPUTES)}


def balance(matches: Sequence[Match], fetch: Fetch, score: Score, *, window: int = 3) -> list[Match]:
    """Extend ``matches`` so every dispute visible in the first ``window`` matches shows both sides.

    ``matches`` come in order of relevance and keep it; a claim brought in (or moved up) to show the other side
    of a dispute is placed after the claim it answers and marked ``other_side``."""
    result = list(matches)
    changed = True
    rounds = 0
    while changed and rounds < window:
        changed = False
        rounds += 1
        page = result[:window]
        shown_ids = {m.claim.id for m in page}
        for match in page:
            claim = match.claim
            incident_id = claim.incident.id if claim.incident else None
            wanted = sorted(DISPUTES + t for t in asserted_topics(claim)) + sorted(disputed_topics(claim))
            for tag in wanted:
                if any(tag in m.claim.tags for m in page):
                    continue
                others = [c for c in fetch(tag, incident_id) if c.id not in shown_ids]
                if not others:
                    continue
                best = max(others, key=lambda c: (score(c), -c.id))
                # Shown for the dispute, not for its relevance: labelled so, whatever its own score.
                result = [m for m in result if m.claim.id != best.id]
                counterpart = Match(best, score(best), other_side=True)
                position = min(page.index(match) + 1, window - 1)
                result.insert(position, counterpart)
                changed = True
                break
            if changed:
                break
    return result
