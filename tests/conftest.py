from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.seed import seed_scope
from bot.store import DEFAULT_SCOPE, Ledger
from tests.emulator import MANAGE_GUILD, DiscordEmulator, Guild, Member
from tests.harness import Running, running_bot
from tests.paths import REPO_ROOT

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


# ------------------------------------------------------------------ end-to-end fixtures (the Discord emulator)


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        emulator.patch(monkeypatch)
        yield emulator


@pytest.fixture
def guild(emu: DiscordEmulator) -> Guild:
    return emu.add_guild("OSINT Club")


@pytest.fixture
def mod(emu: DiscordEmulator, guild: Guild) -> Member:
    return emu.add_member(guild.id, "moderator", permissions=MANAGE_GUILD)


@pytest.fixture
def member(emu: DiscordEmulator, guild: Guild) -> Member:
    return emu.add_member(guild.id, "member")


@pytest.fixture
async def running(emu: DiscordEmulator, guild: Guild, db_path: Path) -> AsyncIterator[Running]:
    async with running_bot(emu, db_path, guilds=[guild], summary_delay=0.2) as run:
        yield run
