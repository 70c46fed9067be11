"""The bundled incidents (package data ``bot.seeddata``, native format) and loading them into a scope.

A seed folder that is missing, unreadable or holds no incident is an error (``SeedDataError``), never an
empty ledger: a ledger seeded from nothing would answer "no claim matches" to every question.
"""

from __future__ import annotations

import importlib.resources
import logging
from contextlib import ExitStack
from pathlib import Path

from bot.errors import LedgerError
from bot.formats import ImportReport, import_file
from bot.store import Ledger

log = logging.getLogger(__name__)

SEED_ACTOR = "seed"
SEED_PACKAGE = "bot.seeddata"


class SeedDataError(LedgerError):
    """The seed data cannot be found or read."""


def seed_files(seed_dir: Path) -> list[Path]:
    """The incident files in ``seed_dir``; raises ``SeedDataError`` when there are none to read."""
    try:
        files = sorted(path for path in seed_dir.iterdir() if path.suffix == ".json" and path.is_file())
    except OSError as err:
        raise SeedDataError(f"The seed data folder {seed_dir} cannot be read: {err.strerror or err}.") from None
    if not files:
        raise SeedDataError(f"The seed data folder {seed_dir} holds no incident (*.json) files.")
    return files


def seed_scope(ledger: Ledger, scope: str, seed_dir: Path | None = None) -> list[ImportReport]:
    """Import every bundled file (or every file of ``seed_dir``) into ``scope``; idempotent."""
    with ExitStack() as stack:
        if seed_dir is None:
            seed_dir = stack.enter_context(importlib.resources.as_file(importlib.resources.files(SEED_PACKAGE)))
        reports = []
        for path in seed_files(seed_dir):
            report = import_file(ledger, scope, path, actor=SEED_ACTOR)
            log.info("Seeded scope %s from %s: %s", scope, path.name, report.summary())
            reports.append(report)
        return reports


def seed_if_empty(ledger: Ledger, scope: str, seed_dir: Path | None = None) -> bool:
    if not ledger.is_empty(scope):
        return False
    seed_scope(ledger, scope, seed_dir)
    return True
