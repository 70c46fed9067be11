"""What a moderator changed in the claim form: the fields they edited, and nothing else.

The edit form shows a few of a claim's fields as text (the first source link, the date and venue on one line).
Comparing the submitted text with what the form was prefilled with gives exactly the fields to change: an
untouched box changes nothing, so sources beyond the first, their titles and publishers, evidence links and
tags are kept. Pure: no Discord, no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.models import Claim
from bot.validation import clean_url

FormValues = Mapping[str, str | None]
WhenWhere = Callable[[str | None], tuple[str | None, str | None]]


def _blank(value: str | None) -> str:
    return (value or "").strip()


def claim_edit(claim: Claim, shown: FormValues, submitted: FormValues, split_when_where: WhenWhere) -> dict[str, Any]:
    """The ``update_claim`` changes for a submitted edit form.

    ``shown`` is what the form was prefilled with and ``submitted`` what came back, both keyed by the form's
    boxes: claim, quote, when_where, source, details."""
    changes: dict[str, Any] = {}

    def edited(box: str) -> bool:
        return _blank(shown.get(box)) != _blank(submitted.get(box))

    if edited("claim"):
        changes["text"] = submitted.get("claim")
    if edited("quote"):
        changes["quote"] = _blank(submitted.get("quote")) or None
    if edited("details"):
        changes["evidence_details"] = _blank(submitted.get("details")) or None
    if edited("when_where"):
        said_at, said_where = split_when_where(submitted.get("when_where"))
        changes["said_at"], changes["said_where"] = said_at, said_where
    if edited("source"):
        changes["sources"] = _replace_first_link(claim, _blank(submitted.get("source")))
    return changes


def _replace_first_link(claim: Claim, url: str) -> list[dict[str, Any]]:
    """The claim's sources with the first linked one changed to ``url`` (or dropped when ``url`` is empty).

    A changed link no longer points at the old title's page, so the new link is its own title; every other
    source is kept as it is."""
    sources = [{"url": s.url, "title": s.title, "publisher": s.publisher} for s in claim.sources]
    new = {"url": clean_url(url, "source link"), "title": url, "publisher": None} if url else None
    for index, source in enumerate(sources):
        if source["url"]:
            if new is None:
                del sources[index]
            else:
                sources[index] = new
            return sources
    if new is not None:
        sources.append(new)
    return sources
