"""ClaimReview JSON-LD: valid schema.org vocabulary, lossless round trip, imports of every shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.claimreview import export_claimreview, import_claimreview, read_claimreview
from bot.errors import ImportFileError
from bot.ledger import DEFAULT_SCOPE, Ledger
from bot.transfer import detect_format, export_bytes, export_text, import_bytes

S = DEFAULT_SCOPE

# schema.org properties by type (from the schema.org vocabulary; inherited ones listed where used).
THING = {"name", "url", "identifier", "description", "alternateName"}
CREATIVE_WORK = THING | {"text", "author", "datePublished", "about", "keywords", "hasPart", "citation",
                         "locationCreated", "publisher", "headline"}  # fmt: skip
VOCABULARY: dict[str, set[str]] = {
    "Claim": CREATIVE_WORK | {"appearance", "firstAppearance", "claimInterpreter"},
    "ClaimReview": CREATIVE_WORK | {"claimReviewed", "itemReviewed", "reviewRating", "reviewBody"},
    "Rating": THING | {"ratingValue", "bestRating", "worstRating", "ratingExplanation", "reviewAspect", "author"},
    "Person": THING | {"jobTitle", "affiliation"},
    "Organization": THING | {"parentOrganization"},
    "CreativeWork": CREATIVE_WORK,
    "Quotation": CREATIVE_WORK | {"spokenByCharacter"},
    "Event": THING | {"startDate", "endDate", "location"},
    "Place": THING | {"address"},
}
# Expected shapes of values: the type a nested object must have.
RANGES = {
    "author": {"Person", "Organization"},
    "itemReviewed": {"Claim"},
    "reviewRating": {"Rating"},
    "appearance": {"CreativeWork"},
    "firstAppearance": {"CreativeWork"},
    "publisher": {"Organization", "Person"},
    "about": {"Event", "Thing"},
    "hasPart": {"Quotation", "CreativeWork"},
    "locationCreated": {"Place"},
    "location": {"Place"},
}


def check_node(node: Any, path: str = "$") -> list[str]:
    problems = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems += check_node(item, f"{path}[{i}]")
        return problems
    if not isinstance(node, dict):
        return problems
    kind = node.get("@type")
    if kind not in VOCABULARY:
        return [f"{path}: unknown @type {kind!r}"]
    for key, value in node.items():
        if key.startswith("@"):
            continue
        if key not in VOCABULARY[kind]:
            problems.append(f"{path}.{key}: not a property of {kind}")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                if key in RANGES and item.get("@type") not in RANGES[key]:
                    problems.append(f"{path}.{key}: {item.get('@type')} is not in the range {RANGES[key]}")
                problems += check_node(item, f"{path}.{key}")
            elif key in RANGES and key not in ("author", "publisher"):
                problems.append(f"{path}.{key}: expected an object")
    return problems


def test_export_uses_only_schema_org_vocabulary(seeded: Ledger) -> None:
    document = export_claimreview(seeded, S, publisher="OSINT Club")
    assert document["@context"] == "https://schema.org"
    assert check_node(document["@graph"]) == []
    reviews = [n for n in document["@graph"] if n["@type"] == "ClaimReview"]
    assert reviews, "seed claims with evidence assessments become ClaimReviews"
    review = next(r for r in reviews if r["itemReviewed"]["identifier"] == "crocus-2024-010")
    assert review["reviewRating"]["alternateName"] == "No evidence presented"
    assert "proof" in review["reviewRating"]["ratingExplanation"]
    assert review["author"] == {"@type": "Organization", "name": "OSINT Club"}
    assert review["claimReviewed"] == review["itemReviewed"]["text"]
    assert review["itemReviewed"]["author"]["name"] == "Federal Security Service of Russia"
    assert review["itemReviewed"]["datePublished"] == "2024-03-23"
    assert "ratingValue" not in review["reviewRating"], "no truth score: the ledger attributes, it does not rate"


def test_claimreview_round_trip(seeded: Ledger) -> None:
    first = export_text(seeded, S, "claimreview")
    with Ledger.memory() as fresh:
        report = import_bytes(fresh, S, "x.jsonld", first.encode(), actor="t")
        assert report.created == seeded.count_claims(S)
        assert report.unmapped == []
        assert export_text(fresh, S, "claimreview") == first


@pytest.mark.parametrize("shape", ["object", "list", "graph"])
def test_import_single_list_and_graph(ledger: Ledger, shape: str) -> None:
    review = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": "https://factcheck.example/review/1",
        "claimReviewed": "The mayor said the dam was sabotaged.",
        "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "Jane Mayor", "jobTitle": "Mayor"},
                         "datePublished": "2024-05-02",
                         "appearance": [{"@type": "CreativeWork", "url": "https://news.example/a", "name": "A"}]},
        "reviewRating": {"@type": "Rating", "alternateName": "No evidence presented", "ratingExplanation": "None"},
    }  # fmt: skip
    document = {"object": review, "list": [review], "graph": {"@context": "https://schema.org", "@graph": [review]}}
    data = json.dumps(document[shape]).encode()
    assert detect_format("upload.json", data) == "claimreview"
    import_bytes(ledger, S, "upload.json", data, actor="t")
    claim = ledger.get_claim(S, "https://factcheck.example/review/1")
    assert claim.speaker.name == "Jane Mayor" and claim.speaker.role == "Mayor"
    assert claim.said_at == "2024-05-02" and claim.evidence.status.value == "not_presented"
    assert claim.sources[0].url == "https://news.example/a"


def test_unmapped_values_are_reported(ledger: Ledger) -> None:
    data = json.dumps([
        {"@type": "ClaimReview", "claimReviewed": "X said Y.", "reviewRating": {"alternateName": "Mostly False"},
         "inLanguage": "en"},
        {"@type": "NewsArticle", "headline": "Something else"},
    ]).encode()  # fmt: skip
    report = import_claimreview(ledger, S, data, actor="t")
    messages = [m for _, m in report.unmapped]
    assert any("'Mostly False' is not an evidence status" in m for m in messages)
    assert any("'inLanguage' is not mapped" in m for m in messages)
    assert any("NewsArticle" in m for m in messages)
    claim = ledger.list_claims(S)[0]
    assert claim.evidence.status.value == "unknown" and claim.evidence.details.startswith("Rating: Mostly False.")


def test_malformed_claimreview_refused_whole(ledger: Ledger) -> None:
    data = json.dumps({"@graph": [{"@type": "Claim", "text": "ok"}, {"@type": "ClaimReview"}]}).encode()
    with pytest.raises(ImportFileError, match=r"@graph\[1\]: no claim text"):
        read_claimreview(data)
    with pytest.raises(ImportFileError, match="Broken JSON-LD"):
        import_bytes(ledger, S, "x.jsonld", b"{broken", actor="t")
    assert ledger.count_claims(S) == 0


def test_export_bytes_names_the_file(seeded: Ledger) -> None:
    name, data = export_bytes(seeded, S, "claimreview", incident="crocus-city-hall-attack-2024")
    assert name == "claim-ledger-crocus-city-hall-attack-2024.jsonld"
    assert json.loads(data)["@graph"]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_csv_export_neutralises_every_formula_prefix(ledger: Ledger, prefix: str) -> None:
    ledger.add_claim(S, text=f"{prefix}cmd|' /C calc'!A0 said something", ref="f", actor="t")
    text = export_text(ledger, S, "csv")
    row = text.splitlines()[1]
    assert f"'{prefix}" in row or f"\"'{prefix}" in row
    with Ledger.memory() as fresh:
        import_bytes(fresh, S, "x.csv", text.encode(), actor="t")
        assert fresh.get_claim(S, "f").text == ledger.get_claim(S, "f").text


def test_leading_tab_and_cr_never_reach_a_cell(ledger: Ledger) -> None:
    for prefix in ("\t", "\r"):
        claim = ledger.add_claim(S, text=f"{prefix}=1+1", actor="t")
        assert claim.text == "=1+1"  # stored stripped; the CSV export then neutralises the '='
    assert "'=1+1" in export_text(ledger, S, "csv")


def test_dry_run_lists_invalid_rows_and_writes_nothing(seeded: Ledger) -> None:
    before = export_text(seeded, S, "native")
    data = b"ref,claim,said_at\ncrocus-2024-001,Reworded,\nnew-1,New claim,2024\nbad,Bad,someday\n"
    report = import_bytes(seeded, S, "x.csv", data, actor="t", dry_run=True)
    assert (report.created, report.updated) == (1, 1)
    assert [where for where, _ in report.problems] == [4]
    assert export_text(seeded, S, "native") == before
