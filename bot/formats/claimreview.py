"""schema.org ClaimReview / Claim JSON-LD: what fact-checkers publish and Google's Fact Check tools read.

Export: one ``Claim`` per claim (author = the speaker, datePublished = said_at, appearance /
firstAppearance = the sources, about = the incident, keywords = the tags, hasPart = the verbatim quote)
and, where a moderator recorded an evidence assessment, a ``ClaimReview`` around it. Claim Ledger
attributes, it does not rate truth: the review's ``reviewRating.alternateName`` says what evidence was
presented ("No evidence presented"), not whether the claim is true, and no numeric ``ratingValue`` is given.

Import: a single object, a list, or an ``@graph``; ClaimReviews with an embedded (or ``@id``-referenced)
Claim, or bare Claims. Every value that cannot be mapped is reported in ``ImportReport.unmapped``, never
silently dropped. Existing speakers and incidents are matched by name or alias (slug or title); only their
empty fields are filled. Pure: no Discord, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from bot.errors import ImportFileError, InvalidInputError
from bot.formats.document import DEFAULT_PUBLISHER, FILL, Document, ImportReport, Progress, decode, loads
from bot.formats.document import Record as DocumentRecord
from bot.formats.pipeline import run_import
from bot.models import Claim, EvidenceStatus, SpeakerKind
from bot.store import Ledger
from bot.validation import LIMITS, slugify

CONTEXT = "https://schema.org"

SPEAKER_TYPES = {
    SpeakerKind.PERSON: "Person",
    SpeakerKind.ORGANISATION: "Organization",
    SpeakerKind.AGENCY: "GovernmentOrganization",
    SpeakerKind.MEDIA: "NewsMediaOrganization",
    SpeakerKind.GROUP: "Organization",  # schema.org has no type for an armed or informal group
}
TYPE_KINDS = {
    "Person": SpeakerKind.PERSON,
    "Organization": SpeakerKind.ORGANISATION,
    "Corporation": SpeakerKind.ORGANISATION,
    "NGO": SpeakerKind.ORGANISATION,
    "GovernmentOrganization": SpeakerKind.AGENCY,
    "NewsMediaOrganization": SpeakerKind.MEDIA,
}
LABEL_TO_STATUS = {status.label.casefold(): status for status in EvidenceStatus}

Note = tuple[int | str, str]


# ------------------------------------------------------------------------------------------ export


def assessed(claim: Claim) -> bool:
    """A moderator recorded an evidence assessment: a status other than unknown, details or links."""
    evidence = claim.evidence
    return evidence.status is not EvidenceStatus.UNKNOWN or bool(evidence.details) or bool(evidence.links)


def speaker_node(claim: Claim) -> dict[str, Any] | None:
    speaker = claim.speaker
    if speaker is None:
        return None
    kind = SPEAKER_TYPES[speaker.kind]
    node: dict[str, Any] = {"@type": kind, "name": speaker.name}
    if speaker.role:
        node["jobTitle" if kind == "Person" else "description"] = speaker.role
    if speaker.aliases:
        node["alternateName"] = list(speaker.aliases)
    return node


def source_node(source: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "CreativeWork", "name": source.title}
    if source.url:
        node["url"] = source.url
    if source.publisher:
        node["publisher"] = {"@type": "Organization", "name": source.publisher}
    return node


def incident_node(claim: Claim) -> dict[str, Any] | None:
    incident = claim.incident
    if incident is None:
        return None
    node: dict[str, Any] = {"@type": "Event", "name": incident.title, "identifier": incident.slug}
    if incident.date:
        node["startDate"] = incident.date
    if incident.place:
        node["location"] = {"@type": "Place", "name": incident.place}
    if incident.summary:
        node["description"] = incident.summary
    if incident.aliases:
        node["alternateName"] = list(incident.aliases)
    return node


def claim_node(claim: Claim) -> dict[str, Any]:
    """The schema.org ``Claim`` of a ledger claim (no ``identifier`` when the claim has no ref, so that
    re-importing the export matches it by speaker and text instead of adding a copy)."""
    node: dict[str, Any] = {"@type": "Claim"}
    if claim.ref:
        node["identifier"] = claim.ref
    node["text"] = claim.text
    author = speaker_node(claim)
    if author:
        node["author"] = author
    if claim.said_at:
        node["datePublished"] = claim.said_at
    if claim.said_where:
        node["locationCreated"] = {"@type": "Place", "name": claim.said_where}
    if claim.quote:
        node["hasPart"] = {"@type": "Quotation", "text": claim.quote}
    if claim.sources:
        node["appearance"] = [source_node(s) for s in claim.sources]
        node["firstAppearance"] = source_node(claim.sources[0])
    about = incident_node(claim)
    if about:
        node["about"] = about
    if claim.tags:
        node["keywords"] = list(claim.tags)
    return node


def review_node(
    claim: Claim, *, author: dict[str, Any], date: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """The ``ClaimReview`` around a claim: the rating names the evidence status, never a verdict on truth."""
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": claim.evidence.status.label}
    if claim.evidence.details:
        rating["ratingExplanation"] = claim.evidence.details
    node: dict[str, Any] = {"@type": "ClaimReview"}
    if url:
        node["url"] = url
    node.update(claimReviewed=claim.text, itemReviewed=claim_node(claim), reviewRating=rating, author=author)
    if date:
        node["datePublished"] = date
    if claim.evidence.links:
        node["citation"] = list(claim.evidence.links)
    return node


def evidence_dates(ledger: Ledger, scope: str) -> dict[int, str]:
    """Claim id → date (YYYY-MM-DD) of the last revision that changed its evidence (creation included)."""
    return ledger.evidence_change_dates(scope)


_PLACEHOLDER = re.compile(r"\{(ref|id)\}")
_URL_FORBIDDEN = re.compile(r"[\s\\\x00-\x1f\x7f]")


def _shown(value: str) -> str:
    """A user-supplied value as quoted in an error message: control characters escaped, long ones cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_web_url(value: str, what: str, field: str, *, template: bool = False) -> str:
    """``value`` when it is an absolute http:// or https:// URL with a host, else :class:`InvalidInputError`.

    ``what`` names the option in the message ("The publisher URL"), ``field`` goes in the error. For a
    ``template``, ``{ref}`` and ``{id}`` may only stand after the host (in the path, query or fragment)."""
    got = f'(got "{_shown(value)}")'
    invalid = InvalidInputError(f"{what} is not a valid web address {got}.", field)
    try:
        parts = urlsplit(value)
    except ValueError:
        raise invalid from None
    if parts.scheme.lower() not in ("http", "https") or not value.lower().startswith(("http://", "https://")):
        raise InvalidInputError(f"{what} must start with http:// or https:// {got}.", field)
    if _URL_FORBIDDEN.search(value):
        raise InvalidInputError(f"{what} must not contain spaces, backslashes or control characters {got}.", field)
    if template and _PLACEHOLDER.search(parts.netloc):
        raise InvalidInputError(f"{what} may use {{ref}} and {{id}} only after the host {got}.", field)
    try:
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise invalid from None
    if not host:
        raise InvalidInputError(f"{what} must name a host, as in https://example.org/ {got}.", field)
    return value


def claim_url_for(template: str | None, claim: Claim) -> str | None:
    """``template`` with ``{ref}`` and/or ``{id}`` filled in; None when the claim has no ref to fill.

    The ref is percent-encoded as one path segment ("/", "?", "#", spaces and the like cannot change the
    URL's structure); a ref of "." or ".." (a dot segment even when encoded) gets no URL."""
    if not template:
        return None
    check_web_url(template, "The claim URL template", "claim_url", template=True)
    if "{ref}" in template and (not claim.ref or claim.ref in (".", "..")):
        return None
    values = {"ref": quote(claim.ref or "", safe=""), "id": str(claim.id)}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def export_claimreview(
    ledger: Ledger,
    scope: str,
    *,
    incident: str | None = None,
    publisher: str = DEFAULT_PUBLISHER,
    publisher_url: str | None = None,
    claim_url: str | None = None,
) -> dict[str, Any]:
    """The JSON-LD document of a scope (or one incident): live claims only, in ledger order."""
    if publisher_url:
        check_web_url(publisher_url, "The publisher URL", "publisher_url")
    if claim_url:
        check_web_url(claim_url, "The claim URL template", "claim_url", template=True)
    author: dict[str, Any] = {"@type": "Organization", "name": publisher}
    if publisher_url:
        author["url"] = publisher_url
    dates = evidence_dates(ledger, scope)
    graph = []
    for claim in ledger.list_claims(scope, incident=incident):
        if assessed(claim):
            date = dates.get(claim.id) or (claim.updated_at[:10] if claim.updated_at else None)
            url = claim_url_for(claim_url, claim)
            graph.append(review_node(claim, author=author, date=date, url=url))
        else:
            graph.append(claim_node(claim))
    return {"@context": CONTEXT, "@graph": graph}


# ------------------------------------------------------------------------------------------ import


@dataclass
class Record:
    """One claim read from the file: where it was, the native-shaped claim, its speaker and incident."""

    where: str
    claim: dict[str, Any] = field(default_factory=dict)
    speaker: dict[str, Any] | None = None
    incident: dict[str, Any] | None = None
    problem: str | None = None


_SCHEMA_PREFIX = re.compile(r"^(?:https?://schema\.org/|schema:)")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}")


def type_name(value: Any) -> str | None:
    """The schema.org type of a node (``schema:Claim`` and ``https://schema.org/Claim`` read as ``Claim``)."""
    names = [_SCHEMA_PREFIX.sub("", v) for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    for preferred in ("ClaimReview", "Claim"):
        if preferred in names:
            return preferred
    return names[0] if names else None


def _is_schema_context(value: Any) -> bool:
    if isinstance(value, str):
        return bool(re.match(r"^https?://schema\.org/?$", value.strip()))
    if isinstance(value, list):
        return any(_is_schema_context(v) for v in value)
    if isinstance(value, dict):
        return _is_schema_context(value.get("@vocab"))
    return False


class _Reader:
    """Reads the nodes of one file; resolves ``@id`` references and collects notes."""

    def __init__(self, nodes: list[tuple[str, Any]]) -> None:
        self.nodes = nodes
        self.notes: list[Note] = []
        self.index: dict[str, dict[str, Any]] = {}
        self.referenced: set[int] = set()  # id() of top-level nodes read through a reference or embedded claim
        self.review_meta: dict[str, list[Any]] = {}  # review property → [first location, count, example]
        for _, node in nodes:
            if isinstance(node, dict) and isinstance(node.get("@id"), str):
                self.index.setdefault(node["@id"], node)

    def note(self, where: str, message: str) -> None:
        self.notes.append((where, message))

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
            target = self.index.get(value["@id"])
            if target is None:
                self.note(where, f"reference {value['@id']!r} is not a node of this file; not mapped")
                return None
            self.referenced.add(id(target))
            return target
        return value

    def meta(self, name: str, where: str, example: Any) -> None:
        seen = self.review_meta.setdefault(name, [where, 0, example])
        seen[1] += 1


class _Node:
    """One JSON object being mapped: every property read is marked; :meth:`finish` reports the rest."""

    def __init__(self, reader: _Reader, node: dict[str, Any], where: str) -> None:
        self.reader = reader
        self.node = node
        self.where = where
        self.used = {"@type", "@context"}

    def has(self, key: str) -> bool:
        return self.node.get(key) not in (None, "", [])

    def values(self, key: str) -> list[Any]:
        self.used.add(key)
        raw = self.node.get(key)
        items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        resolved = [self.reader.resolve(item, f"{self.where}.{key}") for item in items]
        return [item for item in resolved if item not in (None, "")]

    def one(self, key: str) -> Any:
        items = self.values(key)
        if len(items) > 1:
            self.reader.note(f"{self.where}.{key}", f"{len(items)} values; only the first is kept")
        return items[0] if items else None

    def text(self, key: str) -> str | None:
        return self._plain(self.one(key), key)

    def texts(self, key: str) -> list[str]:
        return [t for t in (self._plain(v, key) for v in self.values(key)) if t]

    def _plain(self, value: Any, key: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.reader.note(f"{self.where}.{key}", "expected text; not mapped")
            return None
        return str(value).strip() or None

    def finish(self) -> None:
        for key, value in self.node.items():
            if key in self.used or value in (None, "", []):
                continue
            if key.startswith("@") and key != "@id":
                continue
            self.reader.note(self.where, f"property {key!r} is not mapped")


def _date(value: str | None, where: str, reader: _Reader) -> str | None:
    """A schema.org Date or DateTime as a partial date; a time of day is dropped (and noted)."""
    if value and (match := _DATETIME.match(value)):
        reader.note(where, f"the time of day in {value!r} is not kept (dates only)")
        return match.group(1)
    return value


def _name_of(node: Any, reader: _Reader, where: str) -> str | None:
    """The name of a Place, Organization or Thing given as an object, or the text given instead."""
    if isinstance(node, str):
        return node.strip() or None
    if isinstance(node, dict):
        thing = _Node(reader, node, where)
        name = thing.text("name")
        thing.finish()
        return name
    return None


def _quiet_name(value: Any) -> Any:
    """A value to quote in a note: the name of an object (the first of a list), else the value itself."""
    if isinstance(value, list) and value:
        value = value[0]
    return value.get("name", value) if isinstance(value, dict) else value


def _source(reader: _Reader, value: Any, where: str) -> dict[str, Any] | None:
    if isinstance(value, str):
        url = value if value.startswith(("http://", "https://")) else None
        return {"url": url, "title": value, "publisher": None}
    if not isinstance(value, dict):
        reader.note(where, "expected a CreativeWork or a link; not mapped")
        return None
    work = _Node(reader, value, where)
    url = work.text("url")
    title = work.text("name") or (work.text("headline") if work.has("headline") else None) or url
    publisher = _name_of(work.one("publisher"), reader, f"{where}.publisher")
    work.finish()
    if not title:
        reader.note(where, "a source without a name or url; not mapped")
        return None
    return {"url": url, "title": title, "publisher": publisher}


def _sources(claim: _Node) -> list[dict[str, Any]]:
    found = [
        s
        for i, v in enumerate(claim.values("appearance"))
        if (s := _source(claim.reader, v, f"{claim.where}.appearance[{i}]"))
    ]
    first_value = claim.one("firstAppearance")
    first = _source(claim.reader, first_value, f"{claim.where}.firstAppearance") if first_value is not None else None
    if first is not None:
        key = (first["url"], first["title"])
        found = [first] + [s for s in found if (s["url"], s["title"]) != key]
    return found


def _speaker(claim: _Node) -> dict[str, Any] | None:
    key = "author" if claim.has("author") or not claim.has("creator") else "creator"
    value = claim.one(key)
    where = f"{claim.where}.{key}"
    if isinstance(value, str):
        return {"name": value.strip(), "kind": SpeakerKind.PERSON.value} if value.strip() else None
    if not isinstance(value, dict):
        return None
    author = _Node(claim.reader, value, where)
    name = author.text("name")
    kind_name = type_name(value.get("@type"))
    kind = TYPE_KINDS.get(kind_name or "")
    if kind is None:
        claim.reader.note(where, f"@type {kind_name!r} read as an organisation")
        kind = SpeakerKind.ORGANISATION
    role = author.text("jobTitle") if author.has("jobTitle") or kind is SpeakerKind.PERSON else None
    role = role or author.text("description")
    aliases = author.texts("alternateName")
    author.finish()
    if not name:
        claim.reader.note(where, "an author without a name; not mapped")
        return None
    return {"name": name, "role": role, "kind": kind.value, "aliases": aliases}


def _incident(claim: _Node) -> dict[str, Any] | None:
    value = claim.one("about")
    where = f"{claim.where}.about"
    if isinstance(value, str):
        return {"slug": slugify(value), "title": value.strip()} if value.strip() else None
    if not isinstance(value, dict):
        return None
    about = _Node(claim.reader, value, where)
    title = about.text("name")
    identifier = about.text("identifier")
    record = {
        "title": title,
        "date": _date(about.text("startDate"), f"{where}.startDate", claim.reader),
        "place": _name_of(about.one("location"), claim.reader, f"{where}.location"),
        "summary": about.text("description"),
        "aliases": about.texts("alternateName"),
    }
    about.finish()
    if not title:
        claim.reader.note(where, "an incident without a name; not mapped")
        return None
    if identifier and not _SLUG.match(identifier):
        claim.reader.note(where, f"identifier {identifier!r} is not an incident slug; the slug is made from the name")
        identifier = None
    return {"slug": identifier or slugify(title), **record}


def _tags(claim: _Node) -> list[str]:
    listed = isinstance(claim.node.get("keywords"), list)
    tags: list[str] = []
    for value in claim.values("keywords"):
        if isinstance(value, dict):
            value = _name_of(value, claim.reader, f"{claim.where}.keywords")
        if isinstance(value, str):
            # a JSON list holds one keyword per item; a single string is the usual comma-separated form
            tags += [value.strip()] if listed else [t.strip() for t in value.split(",")]
    return [t for t in tags if t]


def _quote(claim: _Node) -> str | None:
    part = claim.one("hasPart")
    if part is None:
        return None
    where = f"{claim.where}.hasPart"
    if not isinstance(part, dict) or type_name(part.get("@type")) != "Quotation":
        claim.reader.note(where, "only a Quotation is mapped (to the quote)")
        return None
    quotation = _Node(claim.reader, part, where)
    text = quotation.text("text")
    quotation.finish()
    return text


def _ref(candidates: list[tuple[_Node, str]]) -> str | None:
    """The first usable candidate among identifier / @id / url, in order; a too-long one is noted and skipped."""
    for node, key in candidates:
        if not node.has(key):
            continue
        value = node.text(key)
        if not value or value.startswith("_:"):
            continue
        if len(value) > LIMITS["ref"]:
            node.reader.note(f"{node.where}.{key}", f"longer than a ref may be ({LIMITS['ref']}); not used as the ref")
            continue
        return value
    return None


def _rating(review: _Node) -> tuple[EvidenceStatus, str | None]:
    value = review.one("reviewRating")
    if value is None:
        return EvidenceStatus.UNKNOWN, None
    where = f"{review.where}.reviewRating"
    if isinstance(value, str):
        value = {"alternateName": value}
    if not isinstance(value, dict):
        review.reader.note(where, "expected a Rating; not mapped")
        return EvidenceStatus.UNKNOWN, None
    rating = _Node(review.reader, value, where)
    label = rating.text("alternateName") or (rating.text("name") if rating.has("name") else None)
    explanation = rating.text("ratingExplanation")
    status = LABEL_TO_STATUS.get(label.casefold()) if label else None
    if status is not None:
        rating.finish()  # a numeric value next to one of our labels is reported, not guessed at
        return status, explanation
    score = rating.text("ratingValue")
    scale = [rating.text("worstRating"), rating.text("bestRating")]
    by = _name_of(review.one("author"), review.reader, f"{review.where}.author") if review.has("author") else None
    rating.finish()
    if not (label or score):
        return EvidenceStatus.UNKNOWN, explanation
    value = f"{score} on a scale of {scale[0]} to {scale[1]}" if score and all(scale) else score
    shown = f"{label} ({value})" if label and value else label or value
    review.reader.note(where, f"rating {label or score!r} is not an evidence status; kept in the details")
    details = f"Rating{f' by {by}' if by else ''}: {shown}." + (f" {explanation}" if explanation else "")
    return EvidenceStatus.UNKNOWN, details


def _links(review: _Node) -> list[str]:
    links = []
    for i, value in enumerate(review.values("citation")):
        url = value.get("url") if isinstance(value, dict) else value
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            links.append(url)
            if isinstance(value, dict) and set(value) - {"@type", "url"}:
                review.reader.note(f"{review.where}.citation[{i}]", "only the url of a citation is kept")
        else:
            review.reader.note(f"{review.where}.citation[{i}]", "a citation that is not a link; not mapped")
    return links


def _read_claim(reader: _Reader, claim: _Node, record: Record) -> None:
    record.claim.update(
        said_at=_date(claim.text("datePublished"), f"{claim.where}.datePublished", reader),
        said_where=_name_of(claim.one("locationCreated"), reader, f"{claim.where}.locationCreated"),
        quote=_quote(claim),
        tags=_tags(claim),
        sources=_sources(claim),
    )
    record.speaker = _speaker(claim)
    record.incident = _incident(claim)


def _read_review(reader: _Reader, node: dict[str, Any], where: str) -> Record:
    review = _Node(reader, node, where)
    record = Record(where)
    item = review.one("itemReviewed")
    claim = _Node(reader, item if isinstance(item, dict) else {}, f"{where}.itemReviewed")
    if item is not None and not isinstance(item, dict):
        reader.note(claim.where, "expected a Claim; not mapped")
    item_type = type_name(claim.node.get("@type"))
    text = review.text("claimReviewed")
    item_text = claim.text("text") or (claim.text("name") if claim.has("name") and item_type == "Claim" else None)
    if text and item_text and item_text != text:
        reader.note(f"{claim.where}.text", "differs from claimReviewed; claimReviewed is kept")
    status, details = _rating(review)
    ref_candidates = [(claim, "identifier"), (claim, "@id"), (review, "url"), (review, "@id")]
    if item_type not in (None, "Claim"):
        # an older form: itemReviewed is the CreativeWork the claim appeared in
        ref_candidates = [(claim, "identifier"), (review, "url"), (review, "@id")]
    record.claim["ref"] = _ref(ref_candidates)
    _read_claim(reader, claim, record)
    if item_type not in (None, "Claim") and (claim.has("url") or claim.has("name") or claim.has("headline")):
        appeared = _source(reader, {k: v for k, v in claim.node.items() if k in ("@type", "url", "name", "headline")},
                           claim.where)  # fmt: skip
        claim.used.update({"url", "name", "headline"})
        if appeared:
            record.claim["sources"] = [appeared, *record.claim["sources"]]
    record.claim.update(
        claim=text or item_text,
        evidence_status=status.value,
        evidence_details=details,
        evidence_links=_links(review),
    )
    for key in ("author", "datePublished", "url"):
        if review.has(key) and key not in review.used:
            review.used.add(key)
            reader.meta(key, where, _quiet_name(node[key]))
    if not record.claim["claim"]:
        record.problem = "no claim text (neither claimReviewed nor itemReviewed.text)"
    claim.finish()
    review.finish()
    return record


def _read_bare_claim(reader: _Reader, node: dict[str, Any], where: str) -> Record:
    claim = _Node(reader, node, where)
    record = Record(where)
    record.claim["ref"] = _ref([(claim, "identifier"), (claim, "@id"), (claim, "url")])
    text = claim.text("text") or (claim.text("name") if claim.has("name") else None)
    _read_claim(reader, claim, record)
    record.claim.update(claim=text, evidence_status=EvidenceStatus.UNKNOWN.value)
    if not text:
        record.problem = "no claim text (Claim.text)"
    claim.finish()
    return record


_META_REASONS = {
    "author": "an export names your server (or --publisher) as the reviewer",
    "datePublished": "an export dates each review by its last evidence change in this ledger",
    "url": "the claim's identifier is its ref; an export gives a url only when a claim URL is configured",
}


def read_claimreview(data: bytes) -> tuple[list[Record], list[Note]]:
    """The claims of a ClaimReview JSON-LD file, and the notes on what could not be mapped.

    Raises ImportFileError when the file is not JSON, or holds no Claim or ClaimReview at all."""
    document = loads(decode(data), "JSON-LD")
    top_notes: list[Note] = []
    if isinstance(document, list):
        nodes = [(f"[{i}]", n) for i, n in enumerate(document)]
    elif isinstance(document, dict) and "@graph" in document:
        graph = document["@graph"]
        graph = graph if isinstance(graph, list) else [graph]
        nodes = [(f"@graph[{i}]", n) for i, n in enumerate(graph)]
        top_notes += [("top level", f"property {k!r} is not mapped") for k in document if not k.startswith("@")]
    elif isinstance(document, dict):
        nodes = [("top level", document)]
    else:
        raise ImportFileError("A ClaimReview file holds a JSON object, a list of objects, or an @graph.")
    reader = _Reader(nodes)
    reader.notes += top_notes
    contexts = [document] + [n for _, n in nodes] if isinstance(document, dict) else [n for _, n in nodes]
    for holder in contexts:
        if isinstance(holder, dict) and "@context" in holder and not _is_schema_context(holder["@context"]):
            reader.note(
                "top level", f"@context {holder['@context']!r} is not schema.org; terms were read as schema.org"
            )
            break
    # claims embedded in (or referenced by) a review are read with the review, not again on their own
    for _, node in nodes:
        if isinstance(node, dict) and type_name(node.get("@type")) == "ClaimReview":
            item = node.get("itemReviewed")
            if isinstance(item, dict) and set(item) == {"@id"} and isinstance(item["@id"], str) \
                    and item["@id"] in reader.index:  # fmt: skip
                reader.referenced.add(id(reader.index[item["@id"]]))
    records: list[Record] = []
    for where, node in nodes:
        if not isinstance(node, dict):
            records.append(Record(where, problem="not a JSON object"))
            continue
        kind = type_name(node.get("@type"))
        try:
            if kind == "ClaimReview":
                records.append(_read_review(reader, node, where))
            elif kind == "Claim" and id(node) not in reader.referenced:
                records.append(_read_bare_claim(reader, node, where))
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as err:
            # a shape the mapping did not foresee: this record is invalid, the others are read
            records.append(Record(where, problem=f"cannot be read ({type(err).__name__})"))
    for where, node in nodes:  # after every reference was followed
        kind = type_name(node.get("@type")) if isinstance(node, dict) else None
        if isinstance(node, dict) and kind not in ("ClaimReview", "Claim") and id(node) not in reader.referenced:
            reader.note(where, f"@type {kind!r} is not a Claim or ClaimReview; skipped")
    for name, (where, count, example) in reader.review_meta.items():
        reader.note(
            where, f"ClaimReview {name} (e.g. {example!r}, on {count} review(s)) is not kept: {_META_REASONS[name]}"
        )
    if not records:
        raise ImportFileError("The file holds no Claim or ClaimReview.", reader.notes[:10])
    _share_people(records, reader)
    return records, reader.notes


def _share_people(records: list[Record], reader: _Reader) -> None:
    """The first record naming a speaker (or incident) defines it for the file; later differences are noted."""
    speakers: dict[str, dict[str, Any]] = {}
    incidents: dict[str, dict[str, Any]] = {}
    for record in records:
        for attr, seen, key, fields in (
            ("speaker", speakers, "name", ("role", "kind")),
            ("incident", incidents, "slug", ("title", "date", "place")),
        ):
            value = getattr(record, attr)
            if value is None:
                continue
            first = seen.setdefault(str(value[key]).casefold(), value)
            if first is not value:
                for name in fields:
                    if value.get(name) and first.get(name) and value[name] != first[name]:
                        reader.note(record.where, f"{attr} {value[key]!r}: {name} {value[name]!r} differs from"
                                                  f" {first[name]!r} given earlier; the first is kept")  # fmt: skip
                setattr(record, attr, first)


def read_document(data: bytes) -> Document:
    """The records of a ClaimReview file: one claim each, with the speaker and incident it names."""
    records, notes = read_claimreview(data)
    out = Document(notes=list(notes))
    for record in records:
        claim = dict(record.claim)
        claim["text"] = claim.pop("claim", None)
        out.records.append(
            DocumentRecord(
                "claim",
                record.where,
                claim,
                mode=FILL,
                speaker=DocumentRecord("speaker", record.where, record.speaker, mode=FILL) if record.speaker else None,
                incident=DocumentRecord("incident", record.where, record.incident, mode=FILL)
                if record.incident
                else None,
                problem=record.problem,
            )
        )
    return out


def import_claimreview(
    ledger: Ledger, scope: str, data: bytes, *, actor: str, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Import ClaimReview JSON-LD: all or nothing, like every import; ``report.unmapped`` lists what was not kept."""
    return run_import(ledger, scope, read_document(data), actor=actor, dry_run=dry_run, progress=progress)
