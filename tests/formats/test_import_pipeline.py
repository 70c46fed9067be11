"""The import pipeline (readers → planner → applier): set-based, all or nothing, and every bad input of issue 11
refused with its position instead of a traceback."""

from __future__ import annotations

import json
import os
import threading
import unicodedata
from pathlib import Path

import pytest

from bot.errors import ImportFileError, LedgerError
from bot.formats import export_text, import_bytes, import_file, preview_import
from bot.formats.transfer import FLAT_COLUMNS, MAX_IMPORT_BYTES
from bot.store import DEFAULT_SCOPE, Ledger, claim_record

S = DEFAULT_SCOPE


def native(*claims: dict, speakers: list | None = None) -> bytes:
    return json.dumps(
        {"format": "claim-ledger", "version": 1, "speakers": speakers or [], "claims": list(claims)}
    ).encode()


def statements(ledger: Ledger, run) -> list[str]:
    seen: list[str] = []
    ledger.conn.set_trace_callback(seen.append)
    try:
        run()
    finally:
        ledger.conn.set_trace_callback(None)
    return seen


def csv_rows(n: int, *, speakers: int, incidents: int) -> bytes:
    lines = ["ref,incident,speaker,speaker_role,claim,source_url,source_title,tags"]
    for i in range(n):
        lines.append(
            f"r-{i},Incident {i % incidents},Speaker {i % speakers},Role,Claim number {i} about the dam,"
            f"https://example.org/{i % 13},Source {i % 13},tag{i % 4}; other"
        )
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------------------------- set-based


def reads(seen: list[str]) -> list[str]:
    """The queries the code ran (not the statements of triggers, nor the rows of an executemany)."""
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def test_an_import_takes_the_same_few_queries_for_ten_or_a_thousand_rows() -> None:
    counts = []
    for n, speakers in ((10, 5), (1000, 400)):
        with Ledger.memory() as store:
            data = csv_rows(n, speakers=speakers, incidents=min(n, 50))
            seen = statements(store, lambda s=store, d=data: import_bytes(s, S, "x.csv", d, actor="t"))
            assert store.count_claims(S) == n
            counts.append(len(reads(seen)))
    assert counts[0] == counts[1] and counts[1] < 15, counts


def test_a_dry_run_writes_nothing_and_reads_a_few_times(seeded: Ledger) -> None:
    before = export_text(seeded, S, "native")
    data = csv_rows(300, speakers=50, incidents=5)
    seen = statements(seeded, lambda: preview_import(seeded, S, "x.csv", data))
    assert len(reads(seen)) < 12 and not any(
        s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in seen
    )
    assert export_text(seeded, S, "native") == before


def test_bulk_writes_leave_the_history_and_search_the_single_item_api_leaves(ledger: Ledger) -> None:
    data = (
        b"ref,incident,speaker,speaker_role,claim,quote,said_at,evidence_status,evidence,source_url,source_title,tags\n"
        b'b-1,Dam breach,Jane Doe,Mayor,Jane said the reservoir was mined,"We saw it",2024-05,partial,Photos,'
        b"https://example.org/a,Report A,dam; mines\n"
        b"b-2,dam breach,jane doe,,A second claim by Jane,,,,,,,\n"
    )
    import_bytes(ledger, S, "x.csv", data, actor="importer")
    claim = ledger.get_claim(S, "b-1")
    (created,) = ledger.history(S, "claim", claim.id)
    assert created.action == "create" and created.actor == "importer" and created.old is None
    assert created.new == claim_record(claim)
    assert ledger.get_claim(S, "b-2").speaker.id == claim.speaker.id, "one speaker, found again by name"
    assert [r.action for r in ledger.history(S, "speaker", claim.speaker.id)] == ["create"]
    assert [r.action for r in ledger.history(S, "incident", claim.incident.id)] == ["create"]
    found = ledger.conn.execute("SELECT rowid FROM claims_fts WHERE claims_fts MATCH 'reservoir AND jane AND dam'")
    assert [row[0] for row in found] == [claim.id], "indexed with its speaker and incident"
    assert [c.ref for c in ledger.list_claims(S)] == ["b-1", "b-2"]
    # an update through the import writes an update revision with the old and new records
    import_bytes(ledger, S, "x.csv", b"ref,claim,evidence_status\nb-1,Jane said the reservoir was mined,disputed\n",
                 actor="importer")  # fmt: skip
    last = ledger.history(S, "claim", claim.id)[-1]
    assert last.action == "update" and last.old == created.new
    assert last.new == claim_record(ledger.get_claim(S, "b-1"))


def test_full_text_index_matches_a_rebuild(ledger: Ledger) -> None:
    import_bytes(ledger, S, "x.csv", csv_rows(60, speakers=5, incidents=3), actor="t")
    import_bytes(ledger, S, "x.csv", b"ref,claim,source_title\nr-7,Reworded claim seven,Another source\n", actor="t")
    sql = "SELECT rowid, claim, quote, speaker, incident, tags, sources FROM claims_fts ORDER BY rowid"
    indexed = ledger.conn.execute(sql).fetchall()
    expected = ledger.conn.execute(
        "SELECT id, claim, quote, speaker, incident, tags, sources FROM claim_search ORDER BY id"
    ).fetchall()
    assert indexed == expected and len(indexed) == 60


def test_progress_counts_every_record_once(ledger: Ledger) -> None:
    calls: list[tuple[int, int]] = []
    import_bytes(ledger, S, "x.csv", csv_rows(30, speakers=3, incidents=2), actor="t",
                 progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls == [(i, 30) for i in range(1, 31)]


def test_a_write_between_plan_and_apply_is_seen(tmp_path: Path) -> None:
    """Another connection commits while the plan is made: the apply plans again under the write lock."""
    db = tmp_path / "l.db"
    with Ledger.open(db) as first, Ledger.open(db) as second:
        wrote: list[int] = []

        def meanwhile(done: int, total: int) -> None:
            if not wrote:
                wrote.append(second.add_claim(S, text="Written meanwhile", ref="r-3", actor="mod").id)

        report = import_bytes(first, S, "x.csv", csv_rows(5, speakers=2, incidents=1), actor="t", progress=meanwhile)
        assert (report.created, report.updated) == (4, 1)
        assert first.get_claim(S, "r-3").id == wrote[0]
        assert first.count_claims(S) == 5


# --------------------------------------------------------------------------------------------- two writers


def test_two_imports_from_two_connections_both_land(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    Ledger.open(db).close()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(prefix: str) -> None:
        lines = ["ref,speaker,claim"] + [f"{prefix}-{i},Speaker {i % 30},{prefix} claim {i}" for i in range(1500)]
        try:
            with Ledger.open(db) as ledger:
                barrier.wait()
                import_bytes(ledger, S, "x.csv", ("\n".join(lines) + "\n").encode(), actor=prefix)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with Ledger.open(db) as ledger:
        assert ledger.count_claims(S) == 3000
        assert len(ledger.list_speakers(S)) == 30, "the second import found the speakers the first one made"


# --------------------------------------------------------------------------------------------- duplicate refs


@pytest.mark.parametrize(
    ("name", "data", "positions"),
    [
        ("x.csv", b"ref,claim\nd-1,First\nd-2,Other\nd-1,Second\n", [2, 4]),
        ("x.jsonl", b'{"ref": "d-1", "claim": "First"}\n{"ref": " d-1", "claim": "Second"}\n', [1, 2]),
        ("x.json", native({"ref": "d-1", "claim": "First"}, {"ref": "d-2", "claim": "x"}, {"ref": "d-1", "claim": "S"}),
         ["claims[0]", "claims[2]"]),
    ],
)  # fmt: skip
def test_duplicate_refs_in_one_file_are_both_invalid(ledger: Ledger, name: str, data: bytes, positions: list) -> None:
    report = preview_import(ledger, S, name, data)
    assert [where for where, _ in report.problems] == positions
    assert all("d-1" in message and "2 times" in message for _, message in report.problems)
    with pytest.raises(ImportFileError, match="Nothing was imported"):
        import_bytes(ledger, S, name, data, actor="t")
    assert ledger.count_claims(S) == 0


# --------------------------------------------------------------------------------------------- idempotent


def test_reimporting_a_file_without_refs_with_nfd_tabs_and_spaces_adds_nothing(ledger: Ledger) -> None:
    text = unicodedata.normalize("NFD", "  Le général a dit\tque le barrage tenait ")
    rows = [{"claim": text, "speaker": " Zoë\tK"}, {"claim": "Second claim", "speaker": ""}]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    first = import_bytes(ledger, S, "x.jsonl", data, actor="t")
    assert first.created == 2
    for _ in range(2):
        again = import_bytes(ledger, S, "x.jsonl", data, actor="t")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert ledger.count_claims(S) == 2 and len(ledger.list_speakers(S)) == 1


def test_a_speaker_given_by_alias_is_matched_on_every_import(seeded: Ledger) -> None:
    before = seeded.count_claims(S)
    data = b"speaker,claim\nZelensky,Zelensky said something new about the dam.\n"
    for _ in range(3):
        import_bytes(seeded, S, "x.csv", data, actor="t")
    assert seeded.count_claims(S) == before + 1
    claim = seeded.list_claims(S)[-1]
    assert claim.speaker.name == "Volodymyr Zelenskiy"


@pytest.mark.parametrize("ref", [unicodedata.normalize("NFD", "réf-1"), "ref\u200b-2", "ref\t3", " ref-4 "])
def test_refs_are_compared_as_stored(ledger: Ledger, ref: str) -> None:
    data = (json.dumps({"ref": ref, "claim": "A claim with an odd ref"}, ensure_ascii=False) + "\n").encode()
    assert import_bytes(ledger, S, "x.jsonl", data, actor="t").created == 1
    again = import_bytes(ledger, S, "x.jsonl", data, actor="t")
    assert (again.created, again.unchanged, again.problems) == (0, 1, [])
    assert ledger.count_claims(S) == 1


# --------------------------------------------------------------------------------------------- JSON Lines separators


def test_jsonl_export_escapes_line_and_paragraph_separators_and_import_splits_on_newline_only(ledger: Ledger) -> None:
    ledger.add_claim(S, ref="sep-1", text="One\u2028two\u2029three", quote="q\u2028", actor="t")
    text = export_text(ledger, S, "jsonl")
    assert "\u2028" not in text and "\u2029" not in text and "\\u2028" in text
    assert len(text.split("\n")) == 2
    with Ledger.memory() as fresh:
        import_bytes(fresh, S, "x.jsonl", text.encode(), actor="t")
        assert fresh.get_claim(S, "sep-1").text == "One\u2028two\u2029three"
    raw = '{"ref": "sep-2", "claim": "raw\u2028separator\u2029inside"}\n'.encode()
    report = import_bytes(ledger, S, "x.jsonl", raw, actor="t")
    assert report.created == 1 and ledger.get_claim(S, "sep-2").text == "raw\u2028separator\u2029inside"


# --------------------------------------------------------------------------------------------- hostile JSON


@pytest.mark.parametrize("name", ["x.json", "x.jsonld", "x.jsonl"])
def test_deeply_nested_json_is_refused_whole_or_per_line(ledger: Ledger, name: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    data = deep if name != "x.jsonl" else b'{"claim": ' + deep + b"}\n"
    with pytest.raises(ImportFileError, match="nested too deeply") as err:
        import_bytes(ledger, S, name, data, actor="t")
    assert err.value.problems and err.value.problems[0][0] == 1
    assert ledger.count_claims(S) == 0


def test_huge_numbers_nan_and_infinity_are_per_record_errors(ledger: Ledger) -> None:
    data = (
        b'{"format": "claim-ledger", "version": 1, "claims": [{"claim": "fine"}, {"claim": ' + b"9" * 5000 + b"},"
        b' {"claim": NaN}, {"claim": "x", "quote": Infinity}, {"claim": "y", "said_at": 1e999}]}'
    )
    report = preview_import(ledger, S, "x.json", data)
    assert [w for w, _ in report.problems] == ["claims[1]", "claims[2]", "claims[3]", "claims[4]"]
    assert "5000-digit number" in report.problems[0][1] and "NaN" in report.problems[1][1]
    assert report.created == 1
    with pytest.raises(ImportFileError, match=r"claims\[1\]"):
        import_bytes(ledger, S, "x.json", data, actor="t")
    assert ledger.count_claims(S) == 0
    jsonl = b'{"claim": "ok"}\n{"claim": NaN}\n{"claim": ' + b"1" * 5000 + b"}\n"
    assert [w for w, _ in preview_import(ledger, S, "x.jsonl", jsonl).problems] == [2, 3]


@pytest.mark.parametrize(
    ("name", "data", "where", "message"),
    [
        ("x.jsonl", b'{"claim": ["a", "b"]}\n', 1, "must be text, not a list"),
        ("x.jsonl", b'{"claim": "x", "quote": {"a": 1}}\n', 1, "must be text, not an object"),
        ("x.json", native({"claim": ["a", "b"]}), "claims[0]", "must be text, not a list"),
        ("x.json", native({"claim": "x", "tags": {"a": 1}}), "claims[0]", "must be a list"),
        ("x.json", native({"claim": "x", "speaker": ["s"]}), "claims[0]", "must be text"),
        ("x.json", native({"claim": "x", "removed": {"reason": ["r"]}}), "claims[0]", "must be text"),
        ("x.json", native({"claim": "x"}, speakers=[{"name": {"a": 1}}]), "speakers[0]", "must be text"),
    ],
)
def test_wrong_types_are_per_record_errors(ledger: Ledger, name: str, data: bytes, where: object, message: str) -> None:
    report = preview_import(ledger, S, name, data)
    assert len(report.problems) == 1
    assert report.problems[0][0] == where and message in report.problems[0][1]


@pytest.mark.parametrize(
    "document",
    [
        {"@type": "ClaimReview", "claimReviewed": "x", "itemReviewed": {"@id": ["a"]}},
        {"@type": "Claim", "text": "x", "@id": ["a"]},
        {"@graph": [{"@type": "Claim", "text": "x", "@id": {"a": 1}, "author": {"@id": ["b"]}}]},
        {"@type": "Claim", "text": ["a", "b"], "identifier": 1e999},
    ],
)
def test_claimreview_odd_shapes_never_raise_past_a_typed_error(ledger: Ledger, document: dict) -> None:
    try:
        import_bytes(ledger, S, "x.jsonld", json.dumps(document).encode(), actor="t")
    except LedgerError:
        assert ledger.count_claims(S) == 0


def test_nan_in_claimreview_is_not_stored_as_text(ledger: Ledger) -> None:
    data = b'{"@type": "Claim", "text": "fine", "identifier": NaN, "datePublished": Infinity}'
    import_bytes(ledger, S, "x.jsonld", data, actor="t")
    claim = ledger.list_claims(S)[0]
    assert claim.ref is None and claim.said_at is None


# --------------------------------------------------------------------------------------------- reading files


def test_a_device_is_refused_without_reading_it(ledger: Ledger) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(ImportFileError, match="not a regular file"):
        import_file(ledger, S, "/dev/zero", actor="t")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once(tmp_path: Path, ledger: Ledger) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    done: list[BaseException] = []

    def run() -> None:
        try:
            import_file(ledger, S, fifo, actor="t")
        except BaseException as err:  # checked below
            done.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the import hung on the FIFO"
    assert isinstance(done[0], ImportFileError) and "not a regular file" in str(done[0])


def test_a_directory_and_a_missing_file_are_one_sentence(tmp_path: Path, ledger: Ledger) -> None:
    for path in (tmp_path, tmp_path / "missing.csv"):
        with pytest.raises(ImportFileError) as err:
            import_file(ledger, S, path, actor="t")
        assert "\n" not in str(err.value)


def test_a_file_that_grows_past_the_limit_is_read_only_up_to_it(tmp_path: Path, ledger: Ledger, monkeypatch) -> None:
    import bot.formats as formats

    path = tmp_path / "big.csv"
    path.write_bytes(b"claim\n" + b"x" * 200)
    monkeypatch.setattr(formats, "MAX_IMPORT_BYTES", 100)  # stat says small, the content says big
    with pytest.raises(ImportFileError, match="import limit"):
        formats.import_file(ledger, S, path, actor="t")
    assert MAX_IMPORT_BYTES == 50 * 1024 * 1024


# --------------------------------------------------------------------------------------------- CSV tags


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_tags_holding_separators_survive_a_round_trip(ledger: Ledger, fmt: str) -> None:
    tags = ["energy, water", "a;b", "x|y", "plain", "[bracket"]
    ledger.add_claim(S, ref="t-1", text="Tagged claim", tags=tags, actor="t")
    ledger.add_claim(S, ref="t-2", text="Plainly tagged", tags=["one", "two"], actor="t")
    text = export_text(ledger, S, fmt)
    with Ledger.memory() as fresh:
        import_bytes(fresh, S, f"x.{fmt}", text.encode(), actor="t")
        assert fresh.get_claim(S, "t-1").tags == tuple(tags)
        assert fresh.get_claim(S, "t-2").tags == ("one", "two")
        assert export_text(fresh, S, fmt) == text
    again = import_bytes(ledger, S, f"x.{fmt}", text.encode(), actor="t")
    assert (again.created, again.updated) == (0, 0)
    assert "one; two" in text


def test_flat_columns_are_unchanged() -> None:
    assert FLAT_COLUMNS[0] == "ref" and "tags" in FLAT_COLUMNS
