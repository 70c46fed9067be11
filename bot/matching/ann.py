"""The approximate index of a large server's claim vectors (usearch HNSW, 8-bit), and its copy on disk.

Building the index of a million claims takes many minutes of one core, so a built index is saved in a folder of
its own (beside a SQLite ledger: ``<ledger file>.ann/``), one file per server and model, with a small record of
what it holds: the model, the dimension and the highest vector row id it includes. When the bot starts again the
saved index is loaded and brought up to date with the ledger instead of being built again: vectors written since
(row ids above the saved one: new claims, and claims edited, whose vectors are made again) are added, and claims
no longer in the ledger are taken out. The index only proposes claims (their exact cosines order them), so a
saved index that cannot be read, or was made by another model, is simply built again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# HNSW: links per node, candidate list while adding and while searching (usearch's names)
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 128


def new_index(dim: int) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype="i8",  # candidates only: their exact cosines come from the float32 rows
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def index_keys(index: Any) -> np.ndarray:
    """Every key (claim id) the index holds."""
    return np.asarray(index.keys[0 : len(index)], dtype=np.int64)


class SavedIndexes:
    """Saved approximate indexes in one folder: ``save`` after a build, ``load`` instead of one."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _paths(self, scope: str, model: str) -> tuple[Path, Path]:
        digest = hashlib.sha256(f"{scope}\0{model}".encode()).hexdigest()[:16]
        stem = f"{re.sub(r'[^A-Za-z0-9_-]', '_', scope)[:40]}-{digest}"
        return self.folder / f"{stem}.usearch", self.folder / f"{stem}.json"

    def save(self, scope: str, model: str, index: Any, last_id: int) -> None:
        """Write the index and its record (each to a temporary file first, then renamed: a reader never sees half
        a file). ``last_id``: the highest vector row id the index includes."""
        data, record = self._paths(scope, model)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = data.with_name(f"{data.name}.{os.getpid()}.partial")
            index.save(str(partial))
            os.replace(partial, data)
            meta = {"scope": scope, "model": model, "dim": int(index.ndim), "last_id": int(last_id)}
            partial = record.with_name(f"{record.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(meta), encoding="utf-8")
            os.replace(partial, record)
        except OSError as err:  # a read-only folder: the index is built again next time
            log.warning("Could not save the approximate index of %s in %s: %s", scope, self.folder, err)
            return
        log.info("Saved the approximate index of %s (%d vectors) in %s", scope, len(index), data)

    def load(self, scope: str, model: str, dim: int) -> tuple[Any, int] | None:
        """(the saved index, the highest vector row id it includes), or None when there is none to use."""
        data, record = self._paths(scope, model)
        if not data.exists() or not record.exists():
            return None
        try:
            meta = json.loads(record.read_text(encoding="utf-8"))
            if meta.get("scope") != scope or meta.get("model") != model or meta.get("dim") != dim:
                return None
            index = new_index(dim)
            index.load(str(data))
            index.expansion_search = EXPANSION_SEARCH
        except Exception as err:  # a damaged or foreign file: build again
            log.warning("Could not read the saved approximate index of %s (%s); building it again", scope, err)
            return None
        return index, int(meta["last_id"])


def index_dir_for(location: str | Path) -> Path | None:
    """Where a ledger's approximate indexes are saved: beside a SQLite ledger file (``<file>.ann``). None for a
    PostgreSQL ledger (its processes may run on several hosts; with pgvector the database searches) and for a
    ledger in memory."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return None
    text = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text.removeprefix("sqlite://")
    if not text or text == ":memory:":
        return None
    path = Path(text)
    return path.with_name(path.name + ".ann")
