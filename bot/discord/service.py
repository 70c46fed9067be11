"""Ledger calls off the event loop: reads on a few reader threads (one connection each), writes on one writer.

SQLite in WAL mode lets readers run beside the single writer, so a burst of questions never waits for a
moderator's edit, and no SQLite call ever runs on the event loop. No Discord here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar, cast

from bot.matching import DenseIndex, Matcher
from bot.models import Answer
from bot.seed import seed_if_empty
from bot.store import Ledger, open_store

log = logging.getLogger(__name__)

T = TypeVar("T")
SEEDED_SETTING = "seeded"


class LedgerService:
    """``dense`` (optional) adds semantic matching: question vectors are made on the reader threads, claim
    vectors on an embedder thread of their own after each write, so neither the loop nor the writer waits."""

    def __init__(
        self, path: str | Path, *, readers: int = 2, threshold: float | None = None, dense: DenseIndex | None = None
    ) -> None:
        self.path = path if isinstance(path, str) else Path(path)  # a SQLite file, or a postgresql:// URL
        self.threshold = threshold
        self.dense = dense
        self._embedder = ThreadPoolExecutor(1, thread_name_prefix="ledger-embedder")
        self._embedding_pending = threading.Event()
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
            ledger = cast(Ledger, open_store(self.path))
            self._local.ledger = ledger
            self._local.matcher = Matcher(ledger, threshold=self.threshold, dense=self.dense)
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
        """Run ``fn`` on the one writer connection; writes are serialised in arrival order. Claims the write
        added or changed get their vectors afterwards, on the embedder thread."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._writer, lambda: fn(self._ledger()))
        finally:
            self.schedule_embedding()

    def schedule_embedding(self) -> concurrent.futures.Future[int] | None:
        """Embed every claim that has no vector yet, once; a call while one is waiting to run joins it."""
        if self.dense is None or self._embedding_pending.is_set():
            return None
        self._embedding_pending.set()
        return self._embedder.submit(self._embed_missing)

    def _embed_missing(self) -> int:
        self._embedding_pending.clear()  # writes from now on schedule another pass
        assert self.dense is not None
        try:
            return self.dense.sync_all(self._ledger())
        except Exception:
            log.exception("Embedding claims failed; answers use lexical matching for them until the next write")
            return 0

    async def embed_pending(self) -> int:
        """Wait until every claim has its vector (start-up, tests): runs after any pass already queued."""
        if self.dense is None:
            return 0
        return await asyncio.get_running_loop().run_in_executor(self._embedder, self._embed_missing)

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
        self._embedder.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._opened_lock:
            for ledger in self._opened:
                try:
                    ledger.close()
                except Exception:  # closing from another thread; the process is ending anyway
                    log.debug("closing a ledger connection failed", exc_info=True)
            self._opened.clear()
