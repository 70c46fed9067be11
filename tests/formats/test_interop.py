"""Every format, end to end: round trips into an empty ledger, dry runs, malformed files, formula injection,
detection and the command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ImportFileError
from bot.formats import export_bytes, export_text, import_bytes, import_file, preview_import
from bot.formats.transfer import (
    MAX_IMPORT_BYTES,
    _escape_cell,
    _unescape_cell,
    detect_format,
    dump_csv,
    read_flat_lines,
)
from bot.seed import seed_scope
from bot.store import DEFAULT_SCOPE, Ledger
from bot.store import clock as clock_module
from tests.conftest import SEED_DIR

S = DEFAULT_SCOPE
FORMATS = ["native", "csv", "jsonl", "claimreview"]
NAMES = {"native": "x.json", "csv": "x.csv", "jsonl": "x.jsonl", "claimreview": "x.jsonld"}
FORMULA_PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Revision times are part of a ClaimReview export (the review date): pin them so a run at midnight passes."""
    monkeypatch.setattr(clock_module, "now", lambda: "2024-06-01T12:00:00+00:00")


def add_awkward_data(ledger: Ledger) -> None:
    """Unicode, quotes, commas, semicolons, newlines, formulas, missing parts, every speaker kind, a removed claim."""
    ledger.create_incident(S, title='Dam failure, "Nova Kakhovka"', slug="dam-2023", date="2023-06",
                           place="Kherson Oblast, Ukraine", summary='Line one.\nLine two, with "quotes".',
                           aliases=["Каховська ГЕС", "Kakhovka dam"], actor="t")  # fmt: skip
    ledger.create_speaker(S, name="Ołena Ü'Brien", role='Spokeswoman, "acting"', kind="person", aliases=["Olena"],
                          actor="t")  # fmt: skip
    ledger.create_speaker(S, name="Міністерство оборони", kind="agency", actor="t")
    ledger.create_speaker(S, name="Paper; Inc.", role="Daily", kind="media", actor="t")
    ledger.create_speaker(S, name="River crew", kind="group", actor="t")
    ledger.add_claim(
        S, ref="aw-1", incident="dam-2023", speaker="Ołena Ü'Brien", actor="t",
        text='She said: "it was, in fact,\nblown up" — 🌊', quote='"Blown up," she said.\nTwice.',
        said_at="2023-06-06", said_where="Telegram, 09:00", tags=["dam", "disputes:sabotage"],
        evidence_status="not_presented", evidence_details='No footage; only "sources", commas, and\nnewlines.',
        evidence_links=["https://example.org/a?x=1,2"],
        sources=[{"url": "https://example.org/ü", "title": 'Report, "final"', "publisher": "Paper; Inc."},
                 {"url": None, "title": "Second source"}],
    )  # fmt: skip
    ledger.add_claim(S, text='=HYPERLINK("http://evil.example","click")', speaker="Міністерство оборони",
                     said_at="2023", incident="dam-2023", actor="t")  # fmt: skip
    ledger.add_claim(S, text="+1 -1 @all", quote="-dash first", evidence_details="@mention first", actor="t")
    ledger.add_claim(S, ref="aw-4", text="Crew said the water rose at 02:00.", speaker="River crew",
                     evidence_status="partial", sources=[{"url": "https://example.org/crew", "title": "@crew"}],
                     actor="t")  # fmt: skip
    removed = ledger.add_claim(S, ref="aw-5", text="Later withdrawn.", speaker="Paper; Inc.", actor="t")
    ledger.remove_claim(S, removed.id, reason="Retracted, see aw-1", actor="t")


@pytest.fixture
def awkward(fixed_clock: None, seeded: Ledger) -> Ledger:  # the clock first: the seed's revisions are dated too
    add_awkward_data(seeded)
    return seeded


@pytest.fixture
def empty() -> Iterator[Ledger]:
    with Ledger.memory() as store:
        yield store


# --------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(awkward: Ledger, empty: Ledger, fmt: str) -> None:
    first = export_text(awkward, S, fmt, publisher="OSINT Club")
    report = import_bytes(empty, S, NAMES[fmt], first.encode(), actor="t")
    assert report.problems == []
    live = awkward.count_claims(S)
    assert report.created == (awkward.count_claims(S, include_removed=True) if fmt == "native" else live)
    assert export_text(empty, S, fmt, publisher="OSINT Club") == first
    # and once more into the same ledger: nothing changes, nothing is duplicated
    again = import_bytes(empty, S, NAMES[fmt], first.encode(), actor="t")
    assert (again.created, again.updated) == (0, 0)
    assert export_text(empty, S, fmt, publisher="OSINT Club") == first


def test_native_round_trip_keeps_removed_claims(awkward: Ledger, empty: Ledger) -> None:
    import_bytes(empty, S, "x.json", export_text(awkward, S, "native").encode(), actor="t")
    claim = empty.get_claim(S, "aw-5")
    assert claim.removed and claim.removed_reason == "Retracted, see aw-1"
    assert empty.get_claim(S, "aw-1").text == 'She said: "it was, in fact,\nblown up" — 🌊'


def test_claimreview_round_trip_keeps_every_field_it_carries(awkward: Ledger, empty: Ledger) -> None:
    first = export_text(awkward, S, "claimreview", publisher="OSINT Club")
    report = import_bytes(empty, S, "x.jsonld", first.encode(), actor="t")
    # the review's author and date are regenerated on export, so the import says it does not store them
    assert {m.split(" (")[0] for _, m in report.unmapped} == {"ClaimReview author", "ClaimReview datePublished"}
    original, copy = awkward.get_claim(S, "aw-1"), empty.get_claim(S, "aw-1")
    for name in ("text", "quote", "said_at", "said_where", "tags", "evidence"):
        assert getattr(copy, name) == getattr(original, name), name
    assert [(s.url, s.title, s.publisher) for s in copy.sources] == [
        (s.url, s.title, s.publisher) for s in original.sources
    ]
    assert (copy.speaker.name, copy.speaker.role, copy.speaker.aliases) == (
        original.speaker.name, original.speaker.role, original.speaker.aliases,
    )  # fmt: skip
    incident = empty.get_incident(S, "dam-2023")
    assert (incident.title, incident.date, incident.place, incident.summary, incident.aliases) == (
        'Dam failure, "Nova Kakhovka"', "2023-06", "Kherson Oblast, Ukraine", 'Line one.\nLine two, with "quotes".',
        ("Каховська ГЕС", "Kakhovka dam"),
    )  # fmt: skip
    assert empty.find_speaker(S, "Міністерство оборони").kind.value == "agency"
    assert empty.find_speaker(S, "River crew").kind.value == "organisation", "schema.org has no group type"


@pytest.mark.parametrize("fmt", FORMATS)
def test_incident_export_round_trips(awkward: Ledger, empty: Ledger, fmt: str) -> None:
    name, data = export_bytes(awkward, S, fmt, incident="dam-2023")
    assert name == f"claim-ledger-dam-2023.{NAMES[fmt].split('.')[1]}"
    import_bytes(empty, S, name, data, actor="t")
    assert export_bytes(empty, S, fmt, incident="dam-2023") == (name, data)
    assert {c.incident.slug for c in empty.list_claims(S) if c.incident} == {"dam-2023"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_reimporting_an_export_into_its_own_ledger_changes_nothing(awkward: Ledger, fmt: str) -> None:
    before = export_text(awkward, S, "native")
    report = import_bytes(awkward, S, NAMES[fmt], export_text(awkward, S, fmt).encode(), actor="t")
    assert (report.created, report.updated) == (0, 0) and report.unchanged > 0
    assert export_text(awkward, S, "native") == before, "links, second sources and removals survive"


def test_flat_columns_a_file_lacks_are_left_alone_and_empty_cells_clear(awkward: Ledger) -> None:
    original = awkward.get_claim(S, "aw-1")
    import_bytes(awkward, S, "x.csv", b"ref,claim\naw-1,Reworded claim\n", actor="t")
    claim = awkward.get_claim(S, "aw-1")
    assert claim.text == "Reworded claim"
    for name in ("speaker", "incident", "quote", "said_at", "tags", "evidence", "sources"):
        assert getattr(claim, name) == getattr(original, name), name
    import_bytes(awkward, S, "x.csv", b"ref,claim,quote,source_url,source_title\naw-1,Reworded claim,,,\n", actor="t")
    claim = awkward.get_claim(S, "aw-1")
    assert claim.quote is None and claim.sources == () and claim.speaker == original.speaker


# --------------------------------------------------------------------------------------------- formula injection


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_escape_cell_neutralises_every_prefix_and_import_undoes_it(prefix: str) -> None:
    value = f'{prefix}HYPERLINK("http://evil.example","x")'
    assert _escape_cell(value) == "'" + value
    assert _unescape_cell(_escape_cell(value)) == value
    already = "'" + value  # a value that really starts with a quote mark keeps it
    assert _unescape_cell(_escape_cell(already)) == already


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_no_csv_cell_starts_a_formula(prefix: str) -> None:
    row = {c: f"{prefix}cmd|' /C calc'!A0" for c in ("ref", "speaker", "speaker_role", "claim", "quote",
                                                     "said_where", "evidence", "source_title", "tags")}  # fmt: skip
    row.update(incident="", said_at="", evidence_status="unknown", source_url="")
    text = dump_csv([row])
    cells = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert all(not cell.startswith(tuple(FORMULA_PREFIXES)) for cell in cells)
    ((_, parsed),) = read_flat_lines(text.encode(), "csv")
    assert isinstance(parsed, dict), parsed  # a row, not a broken line
    assert parsed["claim"] == row["claim"] and parsed["tags"] == row["tags"]


def test_every_exported_csv_cell_is_inert(awkward: Ledger) -> None:
    text = export_text(awkward, S, "csv")
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert '\'=HYPERLINK("http://evil.example","click")' in cells
    assert {"'+1 -1 @all", "'-dash first", "'@mention first", "'@crew"} <= set(cells)
    assert all(not cell.startswith(tuple(FORMULA_PREFIXES)) for cell in cells)


# --------------------------------------------------------------------------------------------- malformed files


def _big(fmt: str) -> bytes:
    head = {
        "native": b'{"format": "claim-ledger", "version": 1, "claims": []}',
        "csv": b"claim\n",
        "jsonl": b'{"claim": "x"}\n',
        "claimreview": b'{"@context": "https://schema.org", "@graph": []}',
    }[fmt]
    return head + b" " * (MAX_IMPORT_BYTES + 1 - len(head))


MALFORMED = [
    ("native", b'{"format": "claim-ledger", "version": 1, "claims": [}', "Broken JSON file. line 1"),
    ("native", b'{"format": "claim-ledger", "version": 1, "claims": [{"claim": "caf\xe9"}]}', "not UTF-8"),
    ("csv", b"claim,colour\nx,red\n", "unknown column(s): colour"),
    ("csv", b"claim\n\xff\xfe\n", "not UTF-8 text. line 2"),
    ("csv", b"ref,claim\nr1,fine\nr2\n", "line 3: 1 cells, the header has 2"),
    ("jsonl", b'{"claim": "fine"}\n{"claim": \n', "Broken JSON Lines file. Nothing was imported: 1 bad rows. line 2"),
    ("jsonl", b'{"claim": "caf\xe9"}\n', "not UTF-8"),
    ("claimreview", b'{"@context": "https://schema.org", "@graph": [', "Broken JSON-LD file"),
    ("claimreview", b'{"@graph": [{"@type": "ClaimReview", "reviewRating": {"alternateName": "x"}}]}',
     "@graph[0]: no claim text"),
] + [(fmt, _big(fmt), "the import limit is 50 MB") for fmt in FORMATS]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "data", "message"), MALFORMED, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(MALFORMED)]
)
def test_malformed_files_are_refused_and_nothing_is_written(
    seeded: Ledger, fmt: str, data: bytes, message: str
) -> None:
    before = export_text(seeded, S, "native")
    with pytest.raises(ImportFileError) as err:
        import_bytes(seeded, S, NAMES[fmt], data, actor="t")
    assert message in str(err.value)
    assert export_text(seeded, S, "native") == before


def test_oversized_file_is_refused_before_reading(tmp_path: Path, ledger: Ledger) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(MAX_IMPORT_BYTES + 1)  # sparse: no 50 MB written
    with pytest.raises(ImportFileError, match="the import limit is 50 MB"):
        import_file(ledger, S, big, actor="t")


# --------------------------------------------------------------------------------------------- dry runs

DRY_CSV = (
    b"ref,claim,said_at\n"
    b"crocus-2024-001,Reworded,\n"  # line 2: updated
    b"new-1,Brand new,2024\n"  # line 3: new
    b"bad-1,Bad date,someday\n"  # line 4: invalid
    b"bad-2\n"  # line 5: wrong number of cells
    b'new-2,"Two\nlines",2024-05\n'  # lines 6-7: new
)


def test_dry_run_lists_new_updated_unchanged_and_invalid_rows(seeded: Ledger) -> None:
    exported = list(csv.DictReader(io.StringIO(export_text(seeded, S, "csv"), newline="")))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(exported[0]), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows([
        exported[1],  # line 2: unchanged
        {**exported[2], "claim": "Reworded\nover two lines"},  # lines 3-4: updated
        {"ref": "new-1", "claim": "Brand new", "said_at": "2024"},  # line 5: new
        {"ref": "bad-1", "claim": "Bad date", "said_at": "someday"},  # line 6: invalid
    ])  # fmt: skip
    data = (out.getvalue() + "bad-2,only two cells\n" + "\n" + exported[3]["ref"] + "," * 12 + "\n").encode()
    before = export_text(seeded, S, "native")
    report = preview_import(seeded, S, "x.csv", data)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert [where for where, _ in report.problems] == [6, 7, 9]
    assert "Could not read the date" in report.problems[0][1]
    assert report.problems[1][1] == "2 cells, the header has 13"
    assert report.problems[2][1] == "the claim column is empty"
    assert report.changes == [(2, "unchanged", exported[1]["ref"]), (3, "updated", exported[2]["ref"]),
                              (5, "new", "new-1")]  # fmt: skip
    assert export_text(seeded, S, "native") == before
    with pytest.raises(ImportFileError, match=r"Broken CSV file\. Nothing was imported: 3 bad rows"):
        import_bytes(seeded, S, "x.csv", data, actor="t")
    assert export_text(seeded, S, "native") == before


def test_dry_run_of_jsonl_and_claimreview_lists_positions(seeded: Ledger) -> None:
    jsonl = b'{"claim": "ok"}\n\n{"claim": \n["x"]\n{"claim": "ok2", "said_at": "never"}\n'
    report = preview_import(seeded, S, "x.jsonl", jsonl)
    assert [w for w, _ in report.problems] == [3, 4, 5] and report.created == 1
    graph = {"@graph": [{"@type": "Claim", "text": "fine"}, {"@type": "Claim"}]}
    report = preview_import(seeded, S, "x.jsonld", json.dumps(graph).encode())
    assert report.problems == [("@graph[1]", "no claim text (Claim.text)")]
    assert report.changes == [("@graph[0]", "new", "fine")]


# --------------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.jsonld", b"{}", "claimreview"),
        ("a.json", b'{"@context": "https://schema.org", "@graph": []}', "claimreview"),
        ("a.json", b'\xef\xbb\xbf[{"@type": "ClaimReview"}]', "claimreview"),
        ("upload", b'  {"@type": "Claim", "text": "x"}', "claimreview"),
        ("a.json", b'{"format": "claim-ledger", "version": 1}', "native"),
        ("upload", b'{"format": "claim-ledger", "version": 1}', "native"),
        ("a.csv", b"claim\nx\n", "csv"),
        ("upload", b"claim\nx\n", "csv"),
        ("a.jsonl", b'{"claim": "x"}\n', "jsonl"),
        ("upload", b'{"claim": "x"}\n{"claim": "y"}\n', "jsonl"),
        ("a.json", b'{"format": "claim-ledger", "claims": [{"claim": "\\"@type\\" in text"}]}', "native"),
    ],
)
def test_detect_format(name: str, data: bytes, expected: str) -> None:
    assert detect_format(name, data) == expected


# --------------------------------------------------------------------------------------------- command line


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_cli_dry_run_prints_changes_and_invalid_rows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "l.db"
    with Ledger.open(db) as store:
        seed_scope(store, S, SEED_DIR)
    before = db.stat().st_mtime_ns, run("export", "--db", str(db))[1]
    upload = tmp_path / "u.csv"
    upload.write_bytes(DRY_CSV)
    code, out = run("import", str(upload), "--dry-run", "--db", str(db))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("Would import 3 claims: 2 new, 1 updated, 0 unchanged") and "2 invalid" in lines[0]
    assert "  updated, line 2: crocus-2024-001" in lines
    assert "  new, line 3: new-1" in lines and "  new, line 6: new-2" in lines
    assert any(line.startswith("  invalid, line 4: Could not read the date") for line in lines)
    assert "  invalid, line 5: 1 cells, the header has 3" in lines
    assert run("export", "--db", str(db))[1] == before[1]
    upload.write_bytes(b"ref,claim\nnew-1,Brand new\n")
    code, out = run("import", str(upload), "--dry-run", "--db", str(db))
    assert code == 0
    assert out.splitlines() == [
        "Would import 1 claims: 1 new, 0 updated, 0 unchanged (0 new incidents, 0 new speakers).",
        "  new, line 2: new-1",
    ]


def test_cli_dry_run_creates_no_ledger(tmp_path: Path) -> None:
    upload = tmp_path / "u.csv"
    upload.write_text("claim\nx\n", encoding="utf-8")
    code, out = run("import", str(upload), "--dry-run", "--db", str(tmp_path / "none.db"))
    assert code == 0 and "1 new" in out
    assert not (tmp_path / "none.db").exists()


def test_cli_claimreview_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "l.db"
    code, out = run("export", "--format", "claimreview", "--incident", "crocus-city-hall-attack-2024",
                    "--publisher", "OSINT Club", "--publisher-url", "https://osint.example",
                    "--claim-url", "https://osint.example/c/{ref}", "--db", str(db))  # fmt: skip
    assert code == 0
    document = json.loads(out)
    review = next(n for n in document["@graph"] if n["@type"] == "ClaimReview")
    assert review["author"] == {"@type": "Organization", "name": "OSINT Club", "url": "https://osint.example"}
    assert review["url"] == f"https://osint.example/c/{review['itemReviewed']['identifier']}"
    target = tmp_path / "out.jsonld"
    assert run("export", str(target), "--db", str(db))[0] == 0
    assert json.loads(target.read_text(encoding="utf-8"))["@context"] == "https://schema.org"
    code, out = run("import", str(target), "--db", str(tmp_path / "other.db"))
    assert code == 0 and out.startswith("Imported 27 claims: 27 new")
    assert "  not mapped, @graph[" in out and "ClaimReview author" in out


def test_cli_claimreview_import_shows_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    graph = [{"@type": "Claim", "identifier": f"p-{i}", "text": f"Claim number {i}."} for i in range(250)]
    upload = tmp_path / "many.jsonld"
    upload.write_text(json.dumps({"@context": "https://schema.org", "@graph": graph}), encoding="utf-8")
    code, out = run("import", str(upload), "--db", str(tmp_path / "l.db"))
    assert code == 0 and "250 new" in out
    err = capsys.readouterr().err
    assert "Importing many.jsonld: 250/250 (100%)" in err and "Importing many.jsonld: 25/250 (10%)" in err
