"""The bundled seed data (``data/*.json``, native format) and loading it into a scope."""

from __future__ import annotations

import logging
from pathlib import Path

from .ledger import Ledger
from .transfer import ImportReport, import_file

log = logging.getLogger(__name__)

SEED_ACTOR = "seed"


def seed_files(seed_dir: Path) -> list[Path]:
    return sorted(seed_dir.glob("*.json"))


def seed_scope(ledger: Ledger, scope: str, seed_dir: Path) -> list[ImportReport]:
    """Import every bundled file into ``scope`` (idempotent: a second run changes nothing)."""
    reports = []
    for path in seed_files(seed_dir):
        report = import_file(ledger, scope, path, actor=SEED_ACTOR)
        log.info("Seeded scope %s from %s: %s", scope, path.name, report.summary())
        reports.append(report)
    return reports


def seed_if_empty(ledger: Ledger, scope: str, seed_dir: Path) -> bool:
    if not ledger.is_empty(scope):
        return False
    seed_scope(ledger, scope, seed_dir)
    return True
