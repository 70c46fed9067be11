from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from bot.ledger import DEFAULT_SCOPE, Ledger
from bot.seed import seed_scope

SEED_DIR = REPO_ROOT / "data"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger.memory() as store:
        yield store


@pytest.fixture
def seeded(ledger: Ledger) -> Ledger:
    seed_scope(ledger, DEFAULT_SCOPE, SEED_DIR)
    return ledger


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's real ledger, token or .env."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for key in ("CLAIMLEDGER_DB", "DISCORD_TOKEN", "CLAIMLEDGER_DEV_GUILD", "CLAIMLEDGER_MATCH_THRESHOLD"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
