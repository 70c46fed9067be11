"""The matcher: a member's question (or a pasted post) → the few claims that answer it.

Baseline: FTS5 BM25 candidates from a safe query, re-scored with rapidfuzz, with abstention.
Pure Python, no Discord.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from rapidfuzz import fuzz, utils

from .errors import InvalidInputError
from .ledger import Ledger
from .models import Answer, Claim, Match
from .sides import balance
from .validation import LIMITS

DEFAULT_THRESHOLD = 0.35

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "anything",
        "something",
        "said",
        "say",
        "says",
        "tell",
        "told",
        "know",
        "think",
    ]
)
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_URL_RE = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+")
_MENTION_RE = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>")


def question_tokens(question: str, limit: int = 40) -> list[str]:
    """Content words of a question: URLs, Discord mentions and punctuation removed, stopwords dropped, de-duplicated."""
    text = _MENTION_RE.sub(" ", _URL_RE.sub(" ", question)).lower()
    seen: dict[str, None] = {}
    for token in _TOKEN_RE.findall(text):
        token = token.strip("_")
        if (len(token) > 1 and token not in STOPWORDS and not token.isdigit()) or (token.isdigit() and len(token) >= 2):
            seen.setdefault(token, None)
        if len(seen) >= limit:
            break
    return list(seen)


def fts_query(tokens: list[str]) -> str | None:
    """An FTS5 MATCH expression that can only mean "any of these words": every token is a quoted string."""
    safe = ['"' + t.replace('"', '""') + '"' for t in tokens if t]
    return " OR ".join(safe) if safe else None


@dataclass(frozen=True)
class Candidate:
    claim_id: int
    bm25: float


class Matcher:
    def __init__(self, ledger: Ledger, *, threshold: float | None = None, candidates: int = 60) -> None:
        self.ledger = ledger
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.candidates = candidates

    def _candidates(self, scope: str, query: str) -> list[Candidate]:
        rows = self.ledger._rows(
            "SELECT f.rowid AS id, bm25(claims_fts, 4.0, 3.0, 2.0, 1.5, 1.0, 1.0) AS rank"
            " FROM claims_fts f JOIN claims c ON c.id = f.rowid"
            " WHERE claims_fts MATCH ? AND c.scope = ? AND c.removed_reason IS NULL"
            " ORDER BY rank, f.rowid LIMIT ?",
            [query, scope, self.candidates],
        )
        return [Candidate(r["id"], -r["rank"]) for r in rows]

    def ask(self, scope: str, question: str, *, top: int = 5) -> Answer:
        started = time.perf_counter()
        if len(question) > LIMITS["question"]:
            raise InvalidInputError(
                f"The question is {len(question)} characters long; the limit is {LIMITS['question']}.", "question"
            )
        tokens = question_tokens(question)
        query = fts_query(tokens)
        matches: list[Match] = []
        if query:
            candidates = self._candidates(scope, query)
            claims = {c.id: c for c in self.ledger.get_claims(scope, [c.claim_id for c in candidates])}
            processed_q = utils.default_process(" ".join(tokens))
            scored = []
            for cand in candidates:
                claim = claims.get(cand.claim_id)
                if claim is None:
                    continue
                score = self._score(processed_q, tokens, claim)
                scored.append((score, claim))
            scored.sort(key=lambda pair: (-pair[0], pair[1].id))
            matches = [Match(claim, round(score, 4)) for score, claim in scored if score >= self.threshold]
            matches = balance(
                matches,
                lambda tag, incident: self.ledger.list_claims(scope, tag=tag, incident=incident),
                lambda claim: round(self._score(processed_q, tokens, claim), 4),
            )[:top]
        took = (time.perf_counter() - started) * 1000
        return Answer(question=question, matches=tuple(matches), took_ms=round(took, 2))

    def _score(self, processed_q: str, tokens: list[str], claim: Claim) -> float:
        doc = " ".join(
            part
            for part in (
                claim.text,
                claim.quote or "",
                claim.speaker.name if claim.speaker else "",
                " ".join(claim.speaker.aliases) if claim.speaker else "",
                claim.incident.title if claim.incident else "",
                " ".join(claim.tags),
            )
            if part
        )
        processed_doc = utils.default_process(doc)
        doc_words = set(processed_doc.split())
        covered = sum(1 for t in tokens if t in doc_words or any(w.startswith(t[:5]) for w in doc_words))
        coverage = covered / len(tokens) if tokens else 0.0
        fuzzy = fuzz.token_set_ratio(processed_q, processed_doc) / 100
        return 0.6 * coverage + 0.4 * fuzzy

    def autocomplete(self, scope: str, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Suggestions as a member types a question: matching speakers first, then matching claims.

        Returns (label, value) pairs, each at most 100 characters (Discord's limit for choices).
        """
        text = text.strip()
        if len(text) < 2:
            return []
        out: list[tuple[str, str]] = []
        folded = utils.default_process(text)
        for speaker in self.ledger.list_speakers(scope):
            names = [speaker.name, *speaker.aliases]
            best = max(fuzz.partial_ratio(folded, utils.default_process(n)) for n in names)
            if best >= 80:
                out.append((f"What did {speaker.name} say?"[:100], f"What did {speaker.name} say?"[:100]))
        answer = self.ask(scope, text[: LIMITS["question"]], top=limit)
        for match in answer.matches:
            who = match.claim.speaker.name if match.claim.speaker else "Unattributed"
            label = f"{who}: {match.claim.text}"
            out.append((label[:99] + "…" if len(label) > 100 else label, match.claim.text[:100]))
        seen: set[str] = set()
        unique = []
        for label, value in out:
            if value not in seen:
                seen.add(value)
                unique.append((label, value))
        return unique[:limit]
