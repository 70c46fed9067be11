"""Ledger calls off the event loop: reads on a few reader threads (one connection each), writes on one writer.

SQLite in WAL mode lets readers run beside the single writer, so a burst of questions never waits for a
moderator's edit, and no SQLite call ever runs on the event loop. No Discord here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bot.matching import Matcher
from bot.models import Answer
from bot.seed import seed_if_empty
from bot.store import Ledger

log = logging.getLogger(__name__)

T = TypeVar("T")
SEEDED_SETTING = "seeded"


class LedgerService:
    def __init__(self, path: Path, *, readers: int = 2, threshold: float | None = None) -> None:
        self.path = Path(path)
        self.threshold = threshold
        self._local = threading.local()
        self._opened: list[Ledger] = []
        self._opened_lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="ledger-reader")
        # Open the writer first, in its own thread, so migrations run before any reader connects.
        self._writer.submit(self._ledger).result()

    def _ledger(self) -> Ledger:
        ledger = getattr(self._local, "ledger", None)
        if ledger is None:
            ledger = Ledger.open(self.path)
            self._local.ledger = ledger
            self._local.matcher = Matcher(ledger, threshold=self.threshold)
            with self._opened_lock:
                self._opened.append(ledger)
        return ledger

    def _matcher(self) -> Matcher:
        self._ledger()
        return self._local.matcher

    async def read(self, fn: Callable[[Ledger], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._ledger()))

    async def write(self, fn: Callable[[Ledger], T]) -> T:
        """Run ``fn`` on the one writer connection; writes are serialised in arrival order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(self._ledger()))

    async def ask(self, scope: str, question: str, *, top: int = 5) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: self._matcher().ask(scope, question, top=top))

    async def autocomplete(self, scope: str, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: self._matcher().autocomplete(scope, text, limit=limit))

    async def ensure_seeded(self, scope: str, seed_dir: Path | None = None) -> bool:
        """Seed a server's ledger with the bundled incidents once, the first time the bot meets the server."""

        def run(ledger: Ledger) -> bool:
            if ledger.get_setting(scope, SEEDED_SETTING):
                return False
            seeded = seed_if_empty(ledger, scope, seed_dir)
            ledger.set_setting(scope, SEEDED_SETTING, "1", actor="seed")
            return seeded

        return await self.write(run)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._opened_lock:
            for ledger in self._opened:
                try:
                    ledger.close()
                except Exception:  # closing from another thread; the process is ending anyway
                    log.debug("closing a ledger connection failed", exc_info=True)
            self._opened.clear()
