"""Ledger integrity: an edit keeps what it did not touch, a name means one thing, bundled data is required."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.edits import claim_edit
from bot.errors import InvalidInputError, NotFoundError
from bot.formats import import_bytes
from bot.seed import SeedDataError, seed_scope
from bot.store import DEFAULT_SCOPE, Ledger

S = DEFAULT_SCOPE


def _when_where(text: str | None) -> tuple[str | None, str | None]:
    return (None, text.strip() or None) if text else (None, None)


def _three_sources(ledger: Ledger) -> int:
    ledger.create_speaker(S, name="Dmitry Medvedev", actor="t")
    claim = ledger.add_claim(
        S,
        text="Medvedev said the attackers must be found.",
        speaker="Dmitry Medvedev",
        sources=[
            {"url": "https://one.example/a", "title": "First report", "publisher": "One"},
            {"url": "https://two.example/b", "title": "Second report", "publisher": "Two"},
            {"url": None, "title": "Printed leaflet"},
        ],
        evidence_links=["https://evidence.example/x"],
        tags=["threat"],
        actor="t",
    )
    return claim.id


def _shown(ledger: Ledger, claim_id: int) -> dict[str, str | None]:
    claim = ledger.get_claim(S, claim_id)
    return {
        "claim": claim.text,
        "quote": claim.quote,
        "when_where": None,
        "source": next((s.url for s in claim.sources if s.url), None),
        "details": claim.evidence.details,
    }


def test_editing_the_text_alone_keeps_every_source_link_and_tag(ledger: Ledger) -> None:
    claim_id = _three_sources(ledger)
    before = ledger.get_claim(S, claim_id)
    shown = _shown(ledger, claim_id)
    changes = claim_edit(before, shown, {**shown, "claim": "Medvedev said the attackers will be found."}, _when_where)
    assert changes == {"text": "Medvedev said the attackers will be found."}
    after = ledger.update_claim(S, claim_id, actor="t", **changes)
    assert after.text == "Medvedev said the attackers will be found."
    assert [(s.url, s.title, s.publisher) for s in after.sources] == [
        (s.url, s.title, s.publisher) for s in before.sources
    ]
    assert after.evidence.links == before.evidence.links
    assert after.tags == before.tags


def test_editing_the_link_changes_that_source_only(ledger: Ledger) -> None:
    claim_id = _three_sources(ledger)
    before = ledger.get_claim(S, claim_id)
    shown = _shown(ledger, claim_id)
    changes = claim_edit(before, shown, {**shown, "source": "https://three.example/c"}, _when_where)
    after = ledger.update_claim(S, claim_id, actor="t", **changes)
    assert [s.url for s in after.sources] == ["https://three.example/c", "https://two.example/b", None]
    assert [s.title for s in after.sources][1:] == ["Second report", "Printed leaflet"]


def test_an_untouched_form_changes_nothing(ledger: Ledger) -> None:
    claim_id = _three_sources(ledger)
    before = ledger.get_claim(S, claim_id)
    shown = _shown(ledger, claim_id)
    assert claim_edit(before, shown, dict(shown), _when_where) == {}


def test_a_speaker_named_with_digits_is_a_name_not_an_id(seeded: Ledger) -> None:
    assert seeded.get_speaker(S, 5).name  # id 5 exists in the seed
    report = import_bytes(seeded, S, "x.csv", b"ref,speaker,claim\nd-1,5,Someone called 5 said this.\n", actor="t")
    assert report.created == 1
    claim = seeded.get_claim(S, "d-1")
    assert claim.speaker is not None
    assert claim.speaker.name == "5"
    assert claim.speaker.id != 5


def test_an_incident_titled_with_digits_is_a_title(ledger: Ledger) -> None:
    first = ledger.create_incident(S, title="First incident", actor="t")
    second = ledger.create_incident(S, title=str(first.id), actor="t")
    assert ledger.get_incident(S, str(first.id)).id == second.id
    assert ledger.get_incident(S, first.id).id == first.id


def test_a_claim_whose_ref_is_digits_is_found_by_its_ref(ledger: Ledger) -> None:
    ledger.add_claim(S, text="The first claim in this ledger.", actor="t")
    numbered = ledger.add_claim(S, text="A claim with a numeric ref.", ref="1", actor="t")
    assert numbered.id != 1
    assert ledger.get_claim(S, "1").id == numbered.id  # the ref wins over the id it looks like
    assert ledger.get_claim(S, 1).text == "The first claim in this ledger."
    assert ledger.get_claim(S, "#1").text == "The first claim in this ledger."
    with pytest.raises(NotFoundError):
        ledger.get_claim(S, 999)


def test_undo_after_the_ref_was_reused_refuses_with_a_reason(ledger: Ledger) -> None:
    first = ledger.add_claim(S, text="A claim about something.", ref="alpha", actor="t")
    ledger.update_claim(S, first.id, ref="beta", actor="t")
    second = ledger.add_claim(S, text="Another claim about something.", ref="alpha", actor="t")
    with pytest.raises(InvalidInputError, match=rf"'alpha', which claim #{second.id} uses now"):
        ledger.undo_claim(S, first.id, actor="t")
    assert ledger.get_claim(S, first.id).ref == "beta"


def test_a_seed_folder_without_incidents_is_an_error(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(SeedDataError, match="holds no incident"):
        seed_scope(ledger, S, tmp_path)
    with pytest.raises(SeedDataError, match="cannot be read"):
        seed_scope(ledger, S, tmp_path / "missing")
    assert ledger.is_empty(S)


def test_the_bundled_incidents_load_from_the_package(ledger: Ledger) -> None:
    reports = seed_scope(ledger, S)
    assert sum(r.created for r in reports) >= 20
    assert ledger.get_claim(S, "crocus-2024-002").speaker is not None


def test_ask_with_a_missing_seed_folder_says_so_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "CLAIMLEDGER_SEED_DIR": str(tmp_path / "nowhere"), "CLAIMLEDGER_DB": str(tmp_path / "l.db")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "Who claimed responsibility?"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert "seed data folder" in result.stderr
    assert "Traceback" not in result.stderr
