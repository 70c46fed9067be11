"""ClaimReview JSON-LD: strict schema.org vocabulary check of the export, the mapping back, and every shape
of import (object, list, @graph, references, foreign ratings), with what cannot be mapped reported."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ImportFileError, InvalidInputError, LedgerError
from bot.formats import export_bytes, export_text, import_bytes, preview_import
from bot.formats.claimreview import claim_url_for, export_claimreview, import_claimreview
from bot.formats.transfer import detect_format
from bot.models import EvidenceStatus
from bot.store import DEFAULT_SCOPE, Ledger
from bot.store import clock as clock_module
from tests.paths import REPO_ROOT

S = DEFAULT_SCOPE

# --------------------------------------------------------------------------- the schema.org vocabulary used
# Properties schema.org defines, per type (own properties; the parent's are inherited), with their expected
# values: a type name (a nested object of that type or a subtype), or Text, URL, Date, Number.
PARENT = {
    "Thing": None,
    "CreativeWork": "Thing",
    "Claim": "CreativeWork",
    "Review": "CreativeWork",
    "ClaimReview": "Review",
    "Quotation": "CreativeWork",
    "Rating": "Thing",
    "Person": "Thing",
    "Organization": "Thing",
    "GovernmentOrganization": "Organization",
    "NewsMediaOrganization": "Organization",
    "Event": "Thing",
    "Place": "Thing",
}
PROPERTIES: dict[str, dict[str, set[str]]] = {
    "Thing": {
        "name": {"Text"},
        "alternateName": {"Text"},
        "description": {"Text"},
        "identifier": {"Text", "URL"},
        "url": {"URL"},
        "sameAs": {"URL"},
    },
    "CreativeWork": {
        "text": {"Text"},
        "author": {"Person", "Organization"},
        "datePublished": {"Date"},
        "about": {"Thing"},
        "keywords": {"Text", "URL"},
        "hasPart": {"CreativeWork"},
        "citation": {"CreativeWork", "Text"},
        "locationCreated": {"Place"},
        "publisher": {"Person", "Organization"},
        "headline": {"Text"},
    },
    "Claim": {"appearance": {"CreativeWork"}, "firstAppearance": {"CreativeWork"}, "claimInterpreter": {"Person"}},
    "Review": {"itemReviewed": {"Thing"}, "reviewRating": {"Rating"}, "reviewBody": {"Text"}},
    "ClaimReview": {"claimReviewed": {"Text"}},
    "Quotation": {"spokenByCharacter": {"Person", "Organization"}},
    "Rating": {
        "ratingValue": {"Number", "Text"},
        "bestRating": {"Number", "Text"},
        "worstRating": {"Number", "Text"},
        "ratingExplanation": {"Text"},
        "reviewAspect": {"Text"},
        "author": {"Person", "Organization"},
    },
    "Person": {"jobTitle": {"Text"}, "affiliation": {"Organization"}},
    "Organization": {"parentOrganization": {"Organization"}},
    "GovernmentOrganization": {},
    "NewsMediaOrganization": {},
    "Event": {"startDate": {"Date"}, "endDate": {"Date"}, "location": {"Place", "Text"}},
    "Place": {"address": {"Text"}},
}
REQUIRED = {"ClaimReview": {"claimReviewed", "itemReviewed", "reviewRating", "author"}, "Claim": {"text"},
            "Rating": {"alternateName"}}  # fmt: skip
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def ancestry(kind: str | None) -> list[str]:
    out = []
    while kind:
        out.append(kind)
        kind = PARENT[kind]
    return out


def schema_problems(node: Any, path: str) -> list[str]:
    if not isinstance(node, dict):
        return [f"{path}: expected an object"]
    kind = node.get("@type")
    if kind not in PARENT:
        return [f"{path}: @type {kind!r} is not in the vocabulary table"]
    defined = {p: r for k in ancestry(kind) for p, r in PROPERTIES[k].items()}
    problems = [f"{path}: {kind} lacks {p}" for p in sorted(REQUIRED.get(kind, set()) - set(node))]
    for key, value in node.items():
        if key == "@type":
            continue
        if key not in defined:
            problems.append(f"{path}.{key}: not a property of {kind}")
            continue
        items = value if isinstance(value, list) else [value]
        if not items:
            problems.append(f"{path}.{key}: empty list")
        for item in items:
            problems += value_problems(item, defined[key], f"{path}.{key}")
    return problems


def value_problems(value: Any, expected: set[str], path: str) -> list[str]:
    if isinstance(value, dict):
        kinds = set(ancestry(value.get("@type"))) if value.get("@type") in PARENT else set()
        if not kinds & expected:
            return [f"{path}: a {value.get('@type')} where {sorted(expected)} is expected"]
        return schema_problems(value, path)
    if isinstance(value, str) and value.strip() == value and value:
        if "URL" in expected and re.match(r"^https?://\S+$", value):
            return []
        if "Date" in expected and DATE.match(value):
            return []
        if "Text" in expected:
            return []
    if isinstance(value, int | float) and not isinstance(value, bool) and "Number" in expected:
        return []
    return [f"{path}: {value!r} is not one of {sorted(expected)}"]


def document_problems(document: Any) -> list[str]:
    if not isinstance(document, dict) or set(document) != {"@context", "@graph"}:
        return ["the document must be {'@context', '@graph'}"]
    problems = [] if document["@context"] == "https://schema.org" else ["@context is not https://schema.org"]
    for i, node in enumerate(document["@graph"]):
        if not isinstance(node, dict) or node.get("@type") not in ("Claim", "ClaimReview"):
            problems.append(f"@graph[{i}]: a top-level node must be a Claim or ClaimReview")
        else:
            problems += schema_problems(node, f"@graph[{i}]")
    return problems


def test_the_checker_itself_catches_mistakes() -> None:
    good = {"@type": "Claim", "text": "x", "datePublished": "2024-03"}
    assert schema_problems(good, "$") == []
    assert schema_problems({**good, "ratingExplanation": "x"}, "$") == ["$.ratingExplanation: not a property of Claim"]
    assert schema_problems({**good, "datePublished": "March 2024"}, "$")
    assert schema_problems({**good, "author": {"@type": "Event", "name": "x"}}, "$")
    assert schema_problems({**good, "appearance": [{"@type": "CreativeWork", "url": "ftp://x"}]}, "$")
    assert schema_problems({"@type": "ClaimReview", "claimReviewed": "x"}, "$")  # lacks the required parts


# --------------------------------------------------------------------------------------------- export


def test_export_uses_only_schema_org_vocabulary(seeded: Ledger) -> None:
    document = export_claimreview(seeded, S, publisher="OSINT Club", publisher_url="https://osint.example")
    assert document_problems(document) == []
    graph = document["@graph"]
    assert len(graph) == seeded.count_claims(S)
    reviews = [n for n in graph if n["@type"] == "ClaimReview"]
    assessed = [c for c in seeded.list_claims(S) if c.evidence.status.value != "unknown" or c.evidence.details]
    assert len(reviews) == len(assessed) > 0
    review = next(r for r in reviews if r["itemReviewed"]["identifier"] == "crocus-2024-010")
    assert review["reviewRating"]["alternateName"] == "No evidence presented"
    assert "proof" in review["reviewRating"]["ratingExplanation"]
    assert review["author"] == {"@type": "Organization", "name": "OSINT Club", "url": "https://osint.example"}
    assert review["claimReviewed"] == review["itemReviewed"]["text"]
    assert review["itemReviewed"]["author"]["@type"] == "GovernmentOrganization"
    assert review["itemReviewed"]["author"]["name"] == "Federal Security Service of Russia"
    assert review["itemReviewed"]["datePublished"] == "2024-03-23"
    assert review["itemReviewed"]["about"]["identifier"] == "crocus-city-hall-attack-2024"
    labels = {status.label for status in EvidenceStatus}
    assert all(r["reviewRating"]["alternateName"] in labels for r in reviews)
    assert "ratingValue" not in json.dumps(document), "no truth score: the ledger attributes, it does not rate"
    assert "url" not in review, "no claim URL configured, so none is invented"


def test_person_and_organisation_roles_and_kinds(ledger: Ledger) -> None:
    for name, kind in [("Ann", "person"), ("Org", "organisation"), ("Agency", "agency"), ("Paper", "media"),
                       ("Band", "group")]:  # fmt: skip
        ledger.create_speaker(S, name=name, role=f"{name} role", kind=kind, actor="t")
        ledger.add_claim(S, text=f"{name} said so.", speaker=name, actor="t")
    authors = {n["author"]["name"]: n["author"] for n in export_claimreview(ledger, S)["@graph"]}
    assert authors["Ann"] == {"@type": "Person", "name": "Ann", "jobTitle": "Ann role"}
    assert authors["Org"] == {"@type": "Organization", "name": "Org", "description": "Org role"}
    assert authors["Agency"]["@type"] == "GovernmentOrganization"
    assert authors["Paper"]["@type"] == "NewsMediaOrganization"
    assert authors["Band"]["@type"] == "Organization"


def test_review_date_is_the_last_evidence_change(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"now": "2024-04-01T10:00:00+00:00"}
    monkeypatch.setattr(clock_module, "now", lambda: clock["now"])
    claim = ledger.add_claim(S, text="The dam was sabotaged.", ref="dam-1", actor="t")
    clock["now"] = "2024-04-05T09:00:00+00:00"
    ledger.set_evidence(S, claim.id, status="not_presented", details="No proof shown.", actor="mod")
    clock["now"] = "2024-04-09T09:00:00+00:00"
    ledger.update_claim(S, claim.id, said_where="Press conference", actor="mod")
    (review,) = export_claimreview(ledger, S, claim_url="https://ledger.example/claims/{ref}")["@graph"]
    assert review["datePublished"] == "2024-04-05", "the date of the assessment, not of a later edit"
    assert review["url"] == "https://ledger.example/claims/dam-1"


def test_unassessed_claims_are_bare_claims_and_removed_ones_are_left_out(ledger: Ledger) -> None:
    ledger.add_claim(S, text="Plain claim.", actor="t")
    ledger.add_claim(S, text="Details only.", evidence_details="A video was mentioned.", actor="t")
    gone = ledger.add_claim(S, text="Removed claim.", evidence_status="presented", actor="t")
    ledger.remove_claim(S, gone.id, reason="duplicate", actor="mod")
    graph = export_claimreview(ledger, S, claim_url="https://ledger.example/claims/{ref}")["@graph"]
    assert [n["@type"] for n in graph] == ["Claim", "ClaimReview"]
    assert graph[1]["reviewRating"]["alternateName"] == "Evidence not assessed"
    assert "identifier" not in graph[0] and "url" not in graph[1], "no ref: no identifier and no claim URL"


@pytest.mark.parametrize(
    ("ref", "url"),
    [
        ("../../etc/passwd", "https://ledger.example/claims/..%2F..%2Fetc%2Fpasswd"),
        ("a b", "https://ledger.example/claims/a%20b"),
        ("x?y", "https://ledger.example/claims/x%3Fy"),
        ("x#y", "https://ledger.example/claims/x%23y"),
        ("50%/{id}", "https://ledger.example/claims/50%25%2F%7Bid%7D"),
        ("café", "https://ledger.example/claims/caf%C3%A9"),
    ],
)
def test_claim_urls_encode_the_ref_as_one_path_segment(ledger: Ledger, ref: str, url: str) -> None:
    ledger.add_claim(S, text="The dam was sabotaged.", ref=ref, evidence_status="presented", actor="t")
    (review,) = export_claimreview(ledger, S, claim_url="https://ledger.example/claims/{ref}")["@graph"]
    assert review["url"] == url
    assert review["itemReviewed"]["identifier"] == ref, "only the URL is encoded, not the identifier"
    assert document_problems({"@context": "https://schema.org", "@graph": [review]}) == []


def test_claim_url_templates_with_id_query_or_dot_refs(ledger: Ledger) -> None:
    claim = ledger.add_claim(S, text="A said B.", ref="a&b=c", actor="t")
    assert claim_url_for("https://e.org/c?ref={ref}&n={id}", claim) == f"https://e.org/c?ref=a%26b%3Dc&n={claim.id}"
    assert claim_url_for("https://e.org/c/{id}", claim) == f"https://e.org/c/{claim.id}"
    for ref in (".", ".."):  # a dot segment even when percent-encoded: no URL rather than the parent's
        dots = ledger.add_claim(S, text=f"Dots {ref}", ref=ref, actor="t")
        assert claim_url_for("https://e.org/c/{ref}", dots) is None
        assert claim_url_for("https://e.org/c/{id}", dots) == f"https://e.org/c/{dots.id}"


BAD_URLS = [
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("JavaScript:alert(document.cookie)//https://e.org/", "must start with http:// or https://"),
    ("data:text/html,<script>alert(1)</script>", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("ftp://e.org/c/{ref}", "must start with http:// or https://"),
    ("mailto:press@e.org", "must start with http:// or https://"),
    ("//e.org/c/{ref}", "must start with http:// or https://"),
    ("e.org/c/{ref}", "must start with http:// or https://"),
    ("http:e.org/c/{ref}", "must start with http:// or https://"),
    (" https://e.org/c/{ref}", "must start with http:// or https://"),
    ("https://", "must name a host"),
    ("https:///c/{ref}", "must name a host"),
    ("https://e.org/c /{ref}", "must not contain spaces"),
    ("https://e.org\\@evil.example/{ref}", "must not contain spaces, backslashes"),
    ("https://e.org:port/{ref}", "is not a valid web address"),
]


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_publisher_url_must_be_http_or_https(ledger: Ledger, url: str, message: str) -> None:
    ledger.add_claim(S, text="A said B.", ref="a-1", evidence_status="presented", actor="t")
    with pytest.raises(InvalidInputError, match=re.escape(f"The publisher URL {message}")) as caught:
        export_claimreview(ledger, S, publisher_url=url)
    assert caught.value.field == "publisher_url"
    with pytest.raises(InvalidInputError, match="The publisher URL"):
        export_text(ledger, S, "claimreview", publisher_url=url)


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_claim_url_template_must_be_http_or_https(ledger: Ledger, url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(f"The claim URL template {message}")) as caught:
        export_claimreview(ledger, S, claim_url=url)  # refused even when no claim would use it
    assert caught.value.field == "claim_url"
    claim = ledger.add_claim(S, text="A said B.", ref="a-1", evidence_status="presented", actor="t")
    with pytest.raises(InvalidInputError, match="The claim URL template"):
        claim_url_for(url, claim)


def test_url_errors_are_one_plain_sentence(ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError) as caught:
        export_claimreview(ledger, S, publisher_url="javascript:alert(1)")
    assert str(caught.value) == 'The publisher URL must start with http:// or https:// (got "javascript:alert(1)").'
    with pytest.raises(InvalidInputError) as caught:
        export_claimreview(ledger, S, claim_url="https://e.org/\x1b[2J" + "x" * 200)
    shown = str(caught.value)
    assert "\x1b" not in shown and "\\x1b" in shown and len(shown) < 200, "control characters escaped, long cut"


def test_the_ref_cannot_stand_in_the_host(ledger: Ledger) -> None:
    for template in ("https://{ref}.e.org/c", "https://e.org:{id}/c", "https://{ref}@e.org/c"):
        with pytest.raises(InvalidInputError, match=r"may use \{ref\} and \{id\} only after the host"):
            export_claimreview(ledger, S, claim_url=template)


def test_normal_https_and_http_urls_still_work(ledger: Ledger) -> None:
    ledger.add_claim(S, text="A said B.", ref="dam-1", evidence_status="presented", actor="t")
    for publisher_url, template in [
        ("https://osint.example", "https://ledger.example/claims/{ref}"),
        ("http://osint.example:8080/about?x=1#team", "HTTPS://Ledger.example/c/{ref}.html?v=1#top"),
    ]:
        (review,) = export_claimreview(ledger, S, publisher_url=publisher_url, claim_url=template)["@graph"]
        assert review["author"]["url"] == publisher_url
        assert review["url"] == template.replace("{ref}", "dam-1")
    document = export_claimreview(ledger, S, publisher_url="", claim_url="")
    assert "url" not in document["@graph"][0] and "url" not in document["@graph"][0]["author"], "empty: no URL"


def test_export_bytes_names_the_file_by_slug(seeded: Ledger) -> None:
    name, data = export_bytes(seeded, S, "claimreview", incident="Crocus City Hall attack", publisher=None)
    assert name == "claim-ledger-crocus-city-hall-attack-2024.jsonld"
    document = json.loads(data)
    assert document_problems(document) == []
    assert {n.get("itemReviewed", n)["about"]["identifier"] for n in document["@graph"]} == {
        "crocus-city-hall-attack-2024"
    }
    reviews = [n for n in document["@graph"] if n["@type"] == "ClaimReview"]
    assert reviews[0]["author"]["name"] == "Claim Ledger"


# --------------------------------------------------------------------------------------------- import

REVIEW = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": "https://factcheck.example/review/1",
    "claimReviewed": "The mayor said the dam was sabotaged.",
    "itemReviewed": {
        "@type": "Claim",
        "author": {"@type": "Person", "name": "Jane Mayor", "jobTitle": "Mayor"},
        "datePublished": "2024-05-02",
        "appearance": [{"@type": "CreativeWork", "url": "https://news.example/a", "name": "A"}],
    },
    "reviewRating": {"@type": "Rating", "alternateName": "No evidence presented", "ratingExplanation": "None shown"},
}


@pytest.mark.parametrize("shape", ["object", "list", "graph"])
def test_import_single_list_and_graph(ledger: Ledger, shape: str) -> None:
    document = {"object": REVIEW, "list": [REVIEW], "graph": {"@context": "https://schema.org", "@graph": [REVIEW]}}
    data = json.dumps(document[shape]).encode()
    assert detect_format("upload.json", data) == "claimreview"
    report = import_bytes(ledger, S, "upload.json", data, actor="t")
    assert report.created == 1 and report.speakers == 1
    claim = ledger.get_claim(S, "https://factcheck.example/review/1")  # no identifier: the review url is the ref
    assert claim.text == "The mayor said the dam was sabotaged."
    assert claim.speaker.name == "Jane Mayor" and claim.speaker.role == "Mayor"
    assert claim.speaker.kind.value == "person"
    assert claim.said_at == "2024-05-02" and claim.evidence.status.value == "not_presented"
    assert claim.evidence.details == "None shown"
    assert [(s.url, s.title) for s in claim.sources] == [("https://news.example/a", "A")]
    assert [m for _, m in report.unmapped] == []


def test_references_by_id_are_followed(ledger: Ledger) -> None:
    document = {"@context": "https://schema.org", "@graph": [
        {"@id": "#jane", "@type": "Person", "name": "Jane Mayor"},
        {"@id": "#c1", "@type": "Claim", "identifier": "dam-1", "text": "The dam was sabotaged.",
         "author": {"@id": "#jane"}},
        {"@type": "ClaimReview", "claimReviewed": "The dam was sabotaged.", "itemReviewed": {"@id": "#c1"},
         "reviewRating": {"@type": "Rating", "alternateName": "Partial evidence"}},
    ]}  # fmt: skip
    report = import_claimreview(ledger, S, json.dumps(document).encode(), actor="t")
    assert report.created == 1, "the referenced Claim is read with its review, not a second time"
    claim = ledger.get_claim(S, "dam-1")
    assert claim.speaker.name == "Jane Mayor" and claim.evidence.status.value == "partial"
    assert not any("skipped" in m for _, m in report.unmapped)


def test_a_foreign_rating_is_kept_in_the_details(ledger: Ledger) -> None:
    data = json.dumps([
        {"@type": "ClaimReview", "claimReviewed": "X said Y.", "author": {"@type": "Organization", "name": "CheckOrg"},
         "reviewRating": {"@type": "Rating", "alternateName": "Mostly False", "ratingValue": 2, "worstRating": 1,
                          "bestRating": 5, "ratingExplanation": "Y happened once."},
         "inLanguage": "en"},
        {"@type": "NewsArticle", "headline": "Something else"},
    ]).encode()  # fmt: skip
    report = import_claimreview(ledger, S, data, actor="t")
    messages = [m for _, m in report.unmapped]
    assert any("'Mostly False' is not an evidence status" in m for m in messages)
    assert ("[0]", "property 'inLanguage' is not mapped") in report.unmapped
    assert ("[1]", "@type 'NewsArticle' is not a Claim or ClaimReview; skipped") in report.unmapped
    claim = ledger.list_claims(S)[0]
    assert claim.evidence.status.value == "unknown"
    assert claim.evidence.details == "Rating by CheckOrg: Mostly False (2 on a scale of 1 to 5). Y happened once."


def test_nested_values_that_cannot_be_mapped_are_reported(ledger: Ledger) -> None:
    review = json.loads(json.dumps(REVIEW))
    claim = review["itemReviewed"]
    claim["author"]["sameAs"] = "https://www.wikidata.org/wiki/Q1"
    claim["author"] = [claim["author"], {"@type": "Person", "name": "Deputy"}]
    claim["appearance"][0]["datePublished"] = "2024-05-03"
    claim["datePublished"] = "2024-05-02T14:30:00Z"
    claim["hasPart"] = {"@type": "VideoObject", "name": "clip"}
    report = import_claimreview(ledger, S, json.dumps(review).encode(), actor="t")
    notes = dict(report.unmapped)
    assert ("top level.itemReviewed.author", "2 values; only the first is kept") in report.unmapped
    assert ("top level.itemReviewed.author", "property 'sameAs' is not mapped") in report.unmapped
    assert ("top level.itemReviewed.appearance[0]", "property 'datePublished' is not mapped") in report.unmapped
    assert "time of day" in notes["top level.itemReviewed.datePublished"]
    assert "Quotation" in notes["top level.itemReviewed.hasPart"]
    assert ledger.get_claim(S, "https://factcheck.example/review/1").said_at == "2024-05-02"


def test_review_metadata_the_ledger_does_not_store_is_reported_once(ledger: Ledger) -> None:
    reviews = [
        {**REVIEW, "url": f"https://factcheck.example/review/{i}", "datePublished": "2024-06-01",
         "author": {"@type": "Organization", "name": "CheckOrg"},
         "itemReviewed": {**REVIEW["itemReviewed"], "identifier": f"dam-{i}"}}
        for i in range(3)
    ]  # fmt: skip
    report = import_claimreview(ledger, S, json.dumps(reviews).encode(), actor="t")
    messages = [m for _, m in report.unmapped]
    assert sum("ClaimReview author (e.g. 'CheckOrg', on 3 review(s)) is not kept" in m for m in messages) == 1
    assert sum("ClaimReview datePublished (e.g. '2024-06-01', on 3 review(s))" in m for m in messages) == 1
    assert sum("ClaimReview url" in m for m in messages) == 1
    assert [c.ref for c in ledger.list_claims(S)] == ["dam-0", "dam-1", "dam-2"]


def test_existing_speakers_are_matched_by_alias_and_not_overwritten(seeded: Ledger) -> None:
    speakers = len(seeded.list_speakers(S))
    data = json.dumps({"@type": "Claim", "identifier": "z-1", "text": "Zelensky said something new.",
                       "author": {"@type": "Person", "name": "Zelensky", "jobTitle": "President",
                                  "alternateName": ["Volodymyr Oleksandrovych Zelenskyy"]}}).encode()  # fmt: skip
    report = import_bytes(seeded, S, "z.jsonld", data, actor="t")
    assert report.speakers == 0 and len(seeded.list_speakers(S)) == speakers
    speaker = seeded.get_claim(S, "z-1").speaker
    assert speaker.name == "Volodymyr Zelenskiy" and speaker.role == "President of Ukraine"
    assert "Volodymyr Oleksandrovych Zelenskyy" in speaker.aliases, "a new alias is added"
    assert any("'President' differs from the ledger's 'President of Ukraine'" in m for _, m in report.unmapped)


def test_keywords_first_appearance_and_old_style_item(ledger: Ledger) -> None:
    data = json.dumps([
        {"@type": "Claim", "identifier": "k-1", "text": "A said B.", "keywords": "energy, dams ,  ",
         "appearance": [{"@type": "CreativeWork", "url": "https://b.example", "name": "B"},
                        {"@type": "CreativeWork", "url": "https://a.example", "name": "A"}],
         "firstAppearance": {"@type": "CreativeWork", "url": "https://a.example", "name": "A"}},
        {"@type": "ClaimReview", "claimReviewed": "C said D.",
         "itemReviewed": {"@type": "CreativeWork", "url": "https://video.example/1", "name": "Interview",
                          "author": {"@type": "Person", "name": "C"}},
         "reviewRating": {"@type": "Rating", "alternateName": "Evidence presented"}},
    ]).encode()  # fmt: skip
    report = import_claimreview(ledger, S, data, actor="t")
    first = ledger.get_claim(S, "k-1")
    assert first.tags == ("energy", "dams")
    assert [s.title for s in first.sources] == ["A", "B"], "the first appearance comes first, once"
    second = next(c for c in ledger.list_claims(S) if c.text == "C said D.")
    assert [s.url for s in second.sources] == ["https://video.example/1"]
    assert second.speaker.name == "C" and second.evidence.status.value == "presented"
    assert report.unmapped == []


def test_problems_are_listed_with_positions_and_nothing_is_written(ledger: Ledger) -> None:
    data = json.dumps({"@context": "https://schema.org", "@graph": [
        {"@type": "Claim", "text": "ok"},
        {"@type": "ClaimReview", "reviewRating": {"@type": "Rating", "alternateName": "No evidence presented"}},
        {"@type": "Claim", "text": "bad date", "datePublished": "someday"},
        "not an object",
    ]}).encode()  # fmt: skip
    preview = preview_import(ledger, S, "x.jsonld", data)
    assert [where for where, _ in preview.problems] == ["@graph[1]", "@graph[2]", "@graph[3]"]
    assert "no claim text" in preview.problems[0][1] and "Could not read the date" in preview.problems[1][1]
    assert preview.created == 1 and preview.dry_run
    with pytest.raises(ImportFileError, match=r"@graph\[1\]: no claim text"):
        import_bytes(ledger, S, "x.jsonld", data, actor="t")
    assert ledger.count_claims(S) == 0 and ledger.list_speakers(S) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{broken", "Broken JSON-LD file. line 1"),
        (b'"just a string"', "holds a JSON object"),
        (b'{"@context": "https://schema.org", "@graph": []}', "holds no Claim or ClaimReview"),
        (b'{"@context": "https://schema.org", "@type": "NewsArticle"}', "holds no Claim or ClaimReview"),
        (b'{"@type": "Claim", "text": "caf\xe9"}', "not UTF-8"),
    ],
)
def test_malformed_files_are_refused(ledger: Ledger, data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=re.escape(message)):
        import_bytes(ledger, S, "x.jsonld", data, actor="t")
    assert ledger.count_claims(S) == 0


def test_a_foreign_context_and_long_ids_are_noted(ledger: Ledger) -> None:
    data = json.dumps({"@context": "https://example.org/vocab", "@type": "Claim", "text": "T said U.",
                       "@id": "https://example.org/" + "x" * 200}).encode()  # fmt: skip
    report = import_claimreview(ledger, S, data, actor="t")
    messages = [m for _, m in report.unmapped]
    assert any("is not schema.org" in m for m in messages)
    assert any("longer than a ref may be" in m for m in messages)
    assert ledger.list_claims(S)[0].ref is None


def test_claimreview_import_reports_progress(seeded: Ledger) -> None:
    data = export_text(seeded, S, "claimreview").encode()
    calls: list[tuple[int, int]] = []
    with Ledger.memory() as fresh:
        import_bytes(fresh, S, "x.jsonld", data, actor="t", progress=lambda done, total: calls.append((done, total)))
    total = seeded.count_claims(S)
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_readme_documents_every_rating_label() -> None:
    readme = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    for status in EvidenceStatus:
        assert f'"{status.label}"' in readme, status


KEYS = st.sampled_from(
    ["@type", "@id", "@graph", "@context", "text", "claimReviewed", "itemReviewed", "author", "reviewRating",
     "alternateName", "name", "appearance", "firstAppearance", "about", "keywords", "hasPart", "datePublished",
     "identifier", "url", "citation", "jobTitle"]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from(
    ["Claim", "ClaimReview", "Person", "Quotation", "#a", "https://schema.org", "2024-13-40", "No evidence presented"]
)  # fmt: skip
JSON_LD = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
                       max_leaves=25)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(document=JSON_LD)
def test_any_json_is_imported_whole_or_refused_with_a_typed_error(document: Any) -> None:
    data = json.dumps(document).encode()
    with Ledger.memory() as ledger:
        try:
            report = import_claimreview(ledger, S, data, actor="t", dry_run=True)
        except LedgerError:
            return
        assert all(isinstance(where, str) and message for where, message in report.unmapped + report.problems)
        assert ledger.count_claims(S, include_removed=True) == 0, "a dry run writes nothing"
        try:
            real = import_claimreview(ledger, S, data, actor="t")
        except LedgerError:
            assert report.problems, "the dry run listed what the import refuses"
            assert ledger.count_claims(S, include_removed=True) == 0, "a refused import writes nothing"
        else:
            assert not report.problems and (real.created, real.updated) == (report.created, report.updated)
