"""Start the real ClaimLedgerBot against the Discord emulator, on a real SQLite file (or a PostgreSQL URL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.discord.client import DEFAULT_EXTENSIONS, ClaimLedgerBot
from bot.discord.service import LedgerService
from bot.matching import DenseIndex, default_embedder
from tests.emulator import DiscordEmulator, Guild
from tests.paths import REPO_ROOT


@dataclass
class Running:
    bot: ClaimLedgerBot
    service: LedgerService
    task: asyncio.Task
    ready_seconds: float
    extra: dict = field(default_factory=dict)


@contextlib.asynccontextmanager
async def running_bot(
    emu: DiscordEmulator,
    db_path: Path | str,
    *,
    guilds: Sequence[Guild] = (),
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    sync: bool = True,
    message_content: bool = False,
    **settings_overrides: object,
) -> AsyncIterator[Running]:
    """Start the bot on ``db_path`` (an SQLite file or a ``postgresql://`` URL), wait for on_ready (and the seeding
    of every guild), sync commands to ``guilds``.
    ``message_content`` asks for the Message Content intent (watched channels), whatever the environment says."""
    settings_overrides.setdefault("token", "emulated-token")
    settings = Settings(db_path=db_path, seed_dir=REPO_ROOT / "data", **settings_overrides)  # type: ignore[arg-type]
    # semantic matching only where a test asks for it (semantic=True): the model costs seconds per server
    embedder = default_embedder(True) if settings_overrides.get("semantic") else None
    dense = DenseIndex(embedder) if embedder is not None else None
    service = LedgerService(db_path, threshold=settings.match_threshold, dense=dense)
    bot = ClaimLedgerBot(settings=settings, ledger=service, extensions=extensions, guild_ready_timeout=0.05,
                         message_content=message_content)  # fmt: skip
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(bot.start(settings.token or ""))
    try:
        await asyncio.wait_for(_wait_ready(ready, task), timeout=10)
        ready_seconds = loop.time() - started
        for guild in guilds:
            # Seeding runs on guild availability; wait for it so tests see the bundled ledger.
            await service.ensure_seeded(str(guild.id), settings.seed_dir)
            if sync:
                await bot.sync_commands(int(guild.id))
        yield Running(bot=bot, service=service, task=task, ready_seconds=ready_seconds)
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)
        service.close()


async def _wait_ready(ready: asyncio.Event, task: asyncio.Task) -> None:
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()  # raises what stopped the bot
        raise RuntimeError("the bot stopped before it was ready")
