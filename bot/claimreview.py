"""schema.org ClaimReview / Claim JSON-LD: what fact-checkers publish and Google's Fact Check tools read.

Export: one ``Claim`` per claim (author = the speaker, datePublished = said_at, appearance /
firstAppearance = the sources, about = the incident) and, where a moderator recorded an evidence
assessment, a ``ClaimReview`` around it. Claim Ledger attributes, it does not rate truth: the review's
``reviewRating.alternateName`` says what evidence was presented ("No evidence presented"), not whether
the claim is true, and no numeric ``ratingValue`` is given.

Import: a single object, a list, or an ``@graph``; ClaimReview with an embedded Claim, or bare Claims.
Properties that cannot be mapped are reported, never silently dropped. Pure: no Discord.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ImportFileError
from .ledger import Ledger
from .models import Claim, EvidenceStatus
from .transfer import ImportReport, Progress, _decode, import_document
from .validation import slugify

CONTEXT = "https://schema.org"
LABEL_TO_STATUS = {status.label.casefold(): status for status in EvidenceStatus}
KIND_TO_TYPE = {"person": "Person"}
TYPE_TO_KIND = {"Person": "person", "Organization": "organisation", "GovernmentOrganization": "agency",
                "NewsMediaOrganization": "media"}  # fmt: skip

# What the import understands, per type; anything else is reported as unmapped.
MAPPED = {
    "ClaimReview": {"@type", "@id", "@context", "claimReviewed", "itemReviewed", "reviewRating", "author",
                    "datePublished", "url", "citation"},
    "Claim": {"@type", "@id", "@context", "text", "identifier", "author", "datePublished", "appearance",
              "firstAppearance", "about", "keywords", "hasPart", "locationCreated"},
}  # fmt: skip


def _person(claim: Claim) -> dict[str, Any] | None:
    speaker = claim.speaker
    if speaker is None:
        return None
    kind = KIND_TO_TYPE.get(speaker.kind.value, "Organization")
    node: dict[str, Any] = {"@type": kind, "name": speaker.name}
    if speaker.role:
        node["jobTitle" if kind == "Person" else "description"] = speaker.role
    if speaker.aliases:
        node["alternateName"] = list(speaker.aliases)
    return node


def _work(source: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "CreativeWork", "name": source.title}
    if source.url:
        node["url"] = source.url
    if source.publisher:
        node["publisher"] = {"@type": "Organization", "name": source.publisher}
    return node


def claim_node(claim: Claim) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "Claim", "identifier": claim.ref or f"claim-{claim.id}", "text": claim.text}
    author = _person(claim)
    if author:
        node["author"] = author
    if claim.said_at:
        node["datePublished"] = claim.said_at
    if claim.said_where:
        node["locationCreated"] = {"@type": "Place", "name": claim.said_where}
    if claim.quote:
        node["hasPart"] = {"@type": "Quotation", "text": claim.quote}
    if claim.sources:
        node["appearance"] = [_work(s) for s in claim.sources]
        node["firstAppearance"] = _work(claim.sources[0])
    if claim.incident:
        event: dict[str, Any] = {"@type": "Event", "name": claim.incident.title, "identifier": claim.incident.slug}
        if claim.incident.date:
            event["startDate"] = claim.incident.date
        if claim.incident.place:
            event["location"] = {"@type": "Place", "name": claim.incident.place}
        if claim.incident.summary:
            event["description"] = claim.incident.summary
        if claim.incident.aliases:
            event["alternateName"] = list(claim.incident.aliases)
        node["about"] = event
    if claim.tags:
        node["keywords"] = list(claim.tags)
    return node


def reviewed(claim: Claim) -> bool:
    return claim.evidence.status is not EvidenceStatus.UNKNOWN or bool(claim.evidence.details)


def review_node(claim: Claim, *, publisher: str, publisher_url: str | None = None) -> dict[str, Any]:
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": claim.evidence.status.label}
    if claim.evidence.details:
        rating["ratingExplanation"] = claim.evidence.details
    author: dict[str, Any] = {"@type": "Organization", "name": publisher}
    if publisher_url:
        author["url"] = publisher_url
    node: dict[str, Any] = {
        "@type": "ClaimReview",
        "claimReviewed": claim.text,
        "itemReviewed": claim_node(claim),
        "reviewRating": rating,
        "author": author,
    }
    if claim.updated_at:
        node["datePublished"] = claim.updated_at[:10]
    if claim.evidence.links:
        node["citation"] = list(claim.evidence.links)
    return node


def export_claimreview(
    ledger: Ledger, scope: str, *, incident: str | None = None, publisher: str = "Claim Ledger",
    publisher_url: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    graph = []
    for claim in ledger.list_claims(scope, incident=incident):
        if reviewed(claim):
            graph.append(review_node(claim, publisher=publisher, publisher_url=publisher_url))
        else:
            graph.append(claim_node(claim))
    return {"@context": CONTEXT, "@graph": graph}


# ------------------------------------------------------------------------------------------ import


def _nodes(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("@graph"), list):
        return document["@graph"]
    return [document]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("text"))
    if isinstance(value, list) and value:
        return _text(value[0])
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _source(node: Any) -> dict[str, Any] | None:
    if isinstance(node, str):
        return {"url": node if node.startswith(("http://", "https://")) else None, "title": node}
    if not isinstance(node, dict):
        return None
    url = node.get("url")
    title = _text(node.get("name")) or _text(node.get("headline")) or url
    if not title:
        return None
    return {"url": url, "title": title, "publisher": _text(node.get("publisher"))}


def read_claimreview(data: bytes) -> tuple[dict[str, Any], list[tuple[int | str, str]]]:
    """A native document built from ClaimReview JSON-LD, and what could not be mapped."""
    text = _decode(data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ImportFileError("Broken JSON-LD file.", [(err.lineno, err.msg)]) from None
    claims: list[dict[str, Any]] = []
    speakers: dict[str, dict[str, Any]] = {}
    incidents: dict[str, dict[str, Any]] = {}
    unmapped: list[tuple[int | str, str]] = []
    problems: list[tuple[int | str, str]] = []
    for index, node in enumerate(_nodes(document)):
        where = f"@graph[{index}]"
        if not isinstance(node, dict):
            problems.append((where, "not a JSON object"))
            continue
        kind = node.get("@type")
        if kind == "ClaimReview":
            claim = node.get("itemReviewed") if isinstance(node.get("itemReviewed"), dict) else {}
            rating = node.get("reviewRating") if isinstance(node.get("reviewRating"), dict) else {}
            label = _text(rating.get("alternateName")) or ""
            status = LABEL_TO_STATUS.get(label.casefold())
            details = _text(rating.get("ratingExplanation"))
            if status is None:
                if label:
                    unmapped.append((where, f"rating {label!r} is not an evidence status; kept in the details"))
                    details = f"Rating: {label}." + (f" {details}" if details else "")
                status = EvidenceStatus.UNKNOWN
            links = [c for c in _as_list(node.get("citation")) if isinstance(c, str)]
            extra = set(node) - MAPPED["ClaimReview"]
            text = _text(node.get("claimReviewed")) or _text(claim.get("text"))
        elif kind == "Claim":
            claim, status, details, links = node, EvidenceStatus.UNKNOWN, None, []
            extra = set()
            text = _text(node.get("text"))
        else:
            unmapped.append((where, f"@type {kind!r} is not a Claim or ClaimReview; skipped"))
            continue
        extra |= set(claim) - MAPPED["Claim"]
        for name in sorted(extra):
            unmapped.append((where, f"property {name!r} is not mapped"))
        if not text:
            problems.append((where, "no claim text (claimReviewed or itemReviewed.text)"))
            continue
        record: dict[str, Any] = {
            "ref": _text(claim.get("identifier")) or _text(claim.get("@id")) or _text(node.get("url")),
            "claim": text,
            "said_at": _text(claim.get("datePublished")),
            "said_where": _text(claim.get("locationCreated")),
            "quote": _text(claim.get("hasPart")),
            "tags": [t.strip() for k in _as_list(claim.get("keywords")) for t in str(k).split(",") if t.strip()],
            "evidence": {"status": status.value, "details": details, "links": links},
            "sources": [s for s in map(_source, _as_list(claim.get("appearance"))) if s],
            "removed": None,
        }
        author = claim.get("author")
        if isinstance(author, list):
            author = author[0] if author else None
        if isinstance(author, dict) and _text(author.get("name")):
            name = _text(author.get("name")) or ""
            speakers.setdefault(name, {
                "name": name,
                "role": _text(author.get("jobTitle")) or _text(author.get("description")),
                "kind": TYPE_TO_KIND.get(str(author.get("@type")), "organisation"),
                "aliases": [a for a in _as_list(author.get("alternateName")) if isinstance(a, str)],
            })  # fmt: skip
            record["speaker"] = name
        elif isinstance(author, str):
            speakers.setdefault(author, {"name": author, "role": None, "kind": "person", "aliases": []})
            record["speaker"] = author
        about = claim.get("about")
        if isinstance(about, dict) and _text(about.get("name")):
            slug = _text(about.get("identifier"))
            incident = {
                "slug": slug,
                "title": _text(about.get("name")),
                "date": _text(about.get("startDate")),
                "place": _text(about.get("location")),
                "summary": _text(about.get("description")),
                "aliases": [a for a in _as_list(about.get("alternateName")) if isinstance(a, str)],
            }
            incident["slug"] = slug or slugify(str(incident["title"]))
            incidents.setdefault(incident["slug"], incident)
            record["incident"] = incident["slug"]
        claims.append(record)
    if problems:
        raise ImportFileError(f"Nothing was imported: {len(problems)} bad records.", problems)
    native = {
        "format": "claim-ledger",
        "version": 1,
        "incidents": list(incidents.values()),
        "speakers": list(speakers.values()),
        "claims": claims,
    }
    return native, unmapped


def import_claimreview(
    ledger: Ledger, scope: str, data: bytes, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    native, unmapped = read_claimreview(data)
    report = import_document(ledger, scope, native, actor=actor, dry_run=dry_run, progress=progress)
    report.unmapped = unmapped
    return report


def looks_like_claimreview(data: bytes) -> bool:
    head = data[:4096].decode("utf-8", "ignore")
    return '"@context"' in head or '"@type"' in head or '"@graph"' in head
