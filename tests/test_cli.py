"""The command line: JSON contract, empty result, batch mode, import/export, first-use seeding."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.store import DEFAULT_SCOPE, Ledger, backup

MATCH_KEYS = {
    "claim_id", "ref", "score", "other_side", "speaker_only", "claim", "quote", "speaker", "said_at", "said_where",
    "evidence", "sources", "incident",
}  # fmt: skip


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_ask_json_contract(db_path: Path) -> None:
    code, out = run(
        "ask", "Who claimed responsibility for the Crocus City Hall attack?", "--json", "--db", str(db_path)
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"question", "took_ms", "matches"}
    assert isinstance(data["took_ms"], float)
    assert data["matches"], "the seed ledger answers this"
    for match in data["matches"]:
        assert set(match) == MATCH_KEYS
        assert set(match["speaker"]) == {"name", "role", "aliases"}
        assert set(match["evidence"]) == {"status", "details"}
        assert set(match["incident"]) == {"slug", "title"}
        assert all(set(s) == {"url", "title"} for s in match["sources"])
    assert data["matches"][0]["speaker"]["name"] == "Islamic State Khorasan"
    assert data["matches"][0]["evidence"]["status"] == "presented"
    assert data["matches"][0]["other_side"] is False and data["matches"][0]["speaker_only"] is False


def test_ask_text_and_empty_result(db_path: Path) -> None:
    code, out = run("ask", "How do I bake sourdough bread?", "--db", str(db_path))
    assert code == 0
    assert "No claim in this ledger matches" in out
    code, out = run("ask", "How do I bake sourdough bread?", "--json", "--db", str(db_path))
    assert json.loads(out)["matches"] == []


def test_ask_fts_syntax_is_harmless(db_path: Path) -> None:
    for question in ['"unbalanced', "NEAR(putin ukraine", "putin AND OR NOT", "*", "-ukraine", "(((", "💥 <@123>"]:
        code, out = run("ask", "--json", "--db", str(db_path), "--", question)
        assert code == 0, question
        assert "matches" in json.loads(out)


def test_ask_batch_plain_and_jsonl(db_path: Path, tmp_path: Path) -> None:
    plain = tmp_path / "q.txt"
    plain.write_text("What did Medvedev say?\n\nHow do I bake bread?\n", encoding="utf-8")
    code, out = run("ask", "--batch", str(plain), "--db", str(db_path), "--top", "3")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in lines] == [1, 3]
    assert lines[0]["matches"] and len(lines[0]["matches"]) <= 3
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"id": "a7", "question": "Did the FSB show proof?"}\n', encoding="utf-8")
    code, out = run("ask", "--batch", str(jsonl), "--db", str(db_path))
    record = json.loads(out)
    assert record["id"] == "a7" and record["question"] == "Did the FSB show proof?"


def test_import_creates_ledger_with_only_imported_data(tmp_path: Path, db_path: Path) -> None:
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("ref,claim\nx1,The mayor said the bridge is closed\n", encoding="utf-8")
    code, out = run("import", str(csv_file), "--db", str(db_path))
    assert code == 0 and "1 new" in out
    code, out = run("export", "--format", "jsonl", "--db", str(db_path))
    assert [json.loads(line)["ref"] for line in out.splitlines()] == ["x1"]


def test_import_errors_exit_1_and_name_lines(tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("claim,said_at\nok,2024\nbad,someday\n", encoding="utf-8")
    code, _ = run("import", str(bad), "--db", str(db_path))
    assert code == 1
    assert "line 3" in capsys.readouterr().err


def test_export_to_file_round_trips(tmp_path: Path, db_path: Path) -> None:
    out_file = tmp_path / "ledger.json"
    assert run("export", str(out_file), "--db", str(db_path))[0] == 0
    other = tmp_path / "other.db"
    assert run("import", str(out_file), "--db", str(other))[0] == 0
    again = tmp_path / "again.json"
    assert run("export", str(again), "--db", str(other))[0] == 0
    assert out_file.read_text(encoding="utf-8") == again.read_text(encoding="utf-8")


def test_db_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("CLAIMLEDGER_DB", str(path))
    assert run("ask", "Medvedev", "--json")[0] == 0
    assert path.exists()


def test_run_without_token_says_so(db_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _ = run("run", "--db", str(db_path))
    assert code == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN is not set" in err and "Traceback" not in err


def test_every_command_documented_in_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"claimledger {name}" in readme, name


def test_console_entry_point_runs(db_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "what did zelensky say", "--json", "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["matches"]


def test_settings_from_env_and_dotenv(tmp_path: Path) -> None:
    from bot.config import Settings

    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nDISCORD_TOKEN='from-file'\nCLAIMLEDGER_DEV_GUILD=123\nexport CLAIMLEDGER_LOG_LEVEL=debug\n",
        encoding="utf-8",
    )
    settings = Settings.from_env({"CLAIMLEDGER_DB": str(tmp_path / "x.db")}, dotenv)
    assert settings.token == "from-file" and settings.dev_guild == 123 and settings.log_level == "DEBUG"
    assert settings.db_path == tmp_path / "x.db"
    assert Settings.from_env({"DISCORD_TOKEN": "from-env"}, dotenv).token == "from-env"
    with pytest.raises(Exception, match="CLAIMLEDGER_DEV_GUILD must be a number"):
        Settings.from_env({"CLAIMLEDGER_DEV_GUILD": "abc"}, None)


@pytest.mark.parametrize("command", ["ask", "backup", "restore"])
@pytest.mark.parametrize("kind", ["folder", "missing parent", "read-only"])
def test_a_bad_db_path_is_one_sentence_and_leaves_nothing(
    tmp_path: Path, kind: str, command: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = {"ask": ["ask", "who"], "backup": ["backup", str(tmp_path / "b.db")]}.get(command, [])
    if command == "restore":
        with Ledger.open(tmp_path / "source.db") as ledger:
            ledger.add_claim(DEFAULT_SCOPE, text="from the backup", actor="t")
        argv = ["restore", "--force", str(backup(tmp_path / "source.db", tmp_path / "b.db").path)]
    if kind == "folder":
        db = tmp_path / "afolder"
        db.mkdir()
    elif kind == "missing parent":
        db = tmp_path / "no" / "such" / "ledger.db"
    else:
        db = tmp_path / "ro.db"
        db.write_bytes(b"")
        db.chmod(0o400)
        if os.access(db, os.W_OK):  # root writes anyway: make it unreadable as SQLite instead
            db.write_bytes(b"not a database at all, but long enough to be read as a header" * 4)
            # and say it is read-only, as the system says to anyone but root (restore --force would replace it)
            real_access = os.access
            monkeypatch.setattr(
                os,
                "access",
                lambda p, mode, **kw: not (Path(p) == db and mode & os.W_OK) and real_access(p, mode, **kw),
            )
    before = sorted(p.name for p in tmp_path.rglob("*"))
    content = db.read_bytes() if db.is_file() else None
    code = main([*argv, "--db", str(db)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith(f"claimledger {command}: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (db.read_bytes() if db.is_file() else None) == content
    expected = {"folder": "is a folder", "missing parent": "does not exist", "read-only": "is read-only"}[kind]
    if command == "restore" or (command == "backup" and kind != "read-only"):  # (backup only reads the ledger)
        assert expected in err


def test_export_to_a_missing_folder_or_a_folder_is_one_sentence_and_leaves_nothing(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["export", str(tmp_path / "nowhere" / "x.csv"), "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Cannot write" in err and "Traceback" not in err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not tmp_path.joinpath("nowhere").exists() and not db_path.exists()  # no ledger made for nothing
    folder = tmp_path / "out"
    folder.mkdir()
    code = main(["export", str(folder), "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("claimledger export: Cannot write") and len(err.strip().splitlines()) == 1
    assert "is a folder" in err and str(folder / "ledger.json") in err
    assert list(folder.iterdir()) == [] and not db_path.exists()
