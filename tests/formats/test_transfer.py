"""Import/export: native round trip, flat CSV/JSONL, bad files, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import ImportFileError
from bot.formats import export_text, import_bytes
from bot.formats.transfer import FLAT_COLUMNS, dump_document, export_document, import_document, read_native
from bot.store import DEFAULT_SCOPE, Ledger
from tests.paths import REPO_ROOT

S = DEFAULT_SCOPE


def test_seed_document_is_valid_and_rich(seeded: Ledger) -> None:
    claims = seeded.list_claims(S)
    assert len(claims) >= 14
    assert all(c.sources for c in claims), "every seed claim has a source"
    assert all(c.speaker for c in claims), "every seed claim is attributed"
    names = {c.speaker.name for c in claims}
    for expected in ("Vladimir Putin", "Dmitry Medvedev", "Margarita Simonyan", "Adrienne Watson"):
        assert expected in names
    statuses = {c.evidence.status.value for c in claims}
    assert {"presented", "not_presented"} <= statuses


def test_native_round_trip_is_lossless(seeded: Ledger, tmp_path: Path) -> None:
    seeded.remove_claim(S, seeded.list_claims(S)[0].id, reason="test removal", actor="mod")
    first = export_document(seeded, S)
    with Ledger.memory() as fresh:
        import_document(fresh, S, json.loads(dump_document(first)), actor="test")
        second = export_document(fresh, S)
    assert second == first
    assert any(c["removed"] == {"reason": "test removal"} for c in second["claims"])


def test_reimport_updates_never_duplicates(seeded: Ledger) -> None:
    document = export_document(seeded, S)
    before = seeded.count_claims(S, include_removed=True)
    report = import_document(seeded, S, document, actor="test")
    assert (report.created, report.updated, report.unchanged) == (0, 0, before)
    document["claims"][0]["claim"] = "Changed wording of the first claim."
    report = import_document(seeded, S, document, actor="test")
    assert (report.created, report.updated) == (0, 1)
    assert seeded.count_claims(S, include_removed=True) == before
    assert seeded.get_claim(S, document["claims"][0]["ref"]).text == "Changed wording of the first claim."


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_flat_round_trip(seeded: Ledger, fmt: str) -> None:
    text = export_text(seeded, S, fmt)
    with Ledger.memory() as fresh:
        report = import_bytes(fresh, S, f"claims.{fmt}", text.encode(), actor="test")
        assert report.created == seeded.count_claims(S)
        assert export_text(fresh, S, fmt) == text


def test_csv_only_claim_column_required(ledger: Ledger) -> None:
    report = import_bytes(ledger, S, "x.csv", b"claim\nSomeone said something\n", actor="t")
    assert report.created == 1
    assert ledger.list_claims(S)[0].text == "Someone said something"


def test_csv_creates_incident_and_speaker(ledger: Ledger) -> None:
    data = (
        b"ref,incident,speaker,speaker_role,claim,evidence_status,source_url,source_title,tags\n"
        b"r1,Test incident,Jane Doe,Mayor,Jane said it,not presented,https://example.org/x,Example,a; b\n"
    )
    import_bytes(ledger, S, "x.csv", data, actor="t")
    claim = ledger.get_claim(S, "r1")
    assert claim.incident.title == "Test incident" and claim.incident.slug == "test-incident"
    assert claim.speaker.role == "Mayor"
    assert claim.tags == ("a", "b")
    assert claim.sources[0].url == "https://example.org/x"


def test_bad_rows_reported_with_line_numbers_and_nothing_written(ledger: Ledger) -> None:
    data = (
        b"ref,claim,said_at,evidence_status,source_url\n"
        b"ok1,Fine claim,2024-03-22,presented,https://example.org\n"
        b"bad1,Bad date,not a date,presented,\n"
        b"bad2,Bad status,2024,certainly true,\n"
        b"bad3,,2024,unknown,\n"
        b"bad4,Bad link,2024,unknown,ftp://example.org\n"
    )
    with pytest.raises(ImportFileError) as err:
        import_bytes(ledger, S, "x.csv", data, actor="t")
    assert [line for line, _ in err.value.problems] == [3, 4, 5, 6]
    assert "line 3" in str(err.value) and "Could not read the date" in str(err.value)
    assert ledger.count_claims(S) == 0
    assert ledger.list_incidents(S) == [] and ledger.list_speakers(S) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x.json", b"{not json", "Broken JSON"),
        ("x.json", b'{"format": "other"}', "Not a Claim Ledger document"),
        ("x.json", b'{"format": "claim-ledger", "version": 99}', "Unsupported format version"),
        ("x.json", b'{"format": "claim-ledger", "version": 1, "claims": {}}', "must be a list"),
        ("x.csv", b"", "empty"),
        ("x.csv", b"foo,bar\n1,2\n", "header does not match"),
        ("x.csv", b"claim,quote\na\n", "1 cells"),
        ("x.csv", b"claim\n\xff\xfe bad bytes\n", "not UTF-8"),
        ("x.jsonl", b'{"claim": "a"}\n[1,2]\n', "line 2"),
        ("x.jsonl", b'{"claim": "a"}\n{broken\n', "Broken JSON Lines"),
        ("x.jsonl", b'{"claim": "a", "colour": "red"}\n', "unknown field"),
    ],
)
def test_malformed_files_refused(ledger: Ledger, name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        import_bytes(ledger, S, name, data, actor="t")
    assert ledger.count_claims(S) == 0


def test_native_bad_claim_reports_json_path(ledger: Ledger) -> None:
    doc = {"format": "claim-ledger", "version": 1, "claims": [{"claim": "ok"}, {"claim": "x", "speaker": "Nobody"}]}
    with pytest.raises(ImportFileError, match=r"claims\[1\]: No speaker 'Nobody'"):
        import_document(ledger, S, doc, actor="t")
    assert ledger.count_claims(S) == 0


def test_dry_run_reports_and_changes_nothing(seeded: Ledger) -> None:
    before = export_document(seeded, S)
    data = b"ref,claim\ncrocus-2024-001,Reworded\nnew-1,Brand new\n"
    report = import_bytes(seeded, S, "x.csv", data, actor="t", dry_run=True)
    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert "Would import" in report.summary()
    assert export_document(seeded, S) == before


def test_csv_export_neutralises_formulas(ledger: Ledger) -> None:
    ledger.add_claim(S, text='=HYPERLINK("http://evil.example","click")', ref="f1", actor="t")
    text = export_text(ledger, S, "csv")
    assert "'=HYPERLINK" in text
    with Ledger.memory() as fresh:
        import_bytes(fresh, S, "x.csv", text.encode(), actor="t")
        assert fresh.get_claim(S, "f1").text.startswith("=HYPERLINK")


def test_progress_reported(seeded: Ledger) -> None:
    calls: list[tuple[int, int]] = []
    with Ledger.memory() as fresh:
        import_bytes(
            fresh,
            S,
            "x.json",
            dump_document(export_document(seeded, S)).encode(),
            actor="t",
            progress=lambda done, total: calls.append((done, total)),
        )
    assert calls[-1][0] == calls[-1][1] and len(calls) == calls[-1][1]


def test_flat_columns_documented_in_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for column in FLAT_COLUMNS:
        assert f"`{column}`" in readme


def test_read_native_accepts_seed_file() -> None:
    path = REPO_ROOT / "data" / "crocus-city-hall-attack-2024.json"
    assert read_native(path.read_bytes())["version"] == 1
