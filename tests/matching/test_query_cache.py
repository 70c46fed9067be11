"""Question vectors: asked again → not embedded again; asked together from several threads → one model call."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from bot.matching.embedding import QueryCache


class GatedEmbedder:
    """Records each call's texts; the first call waits until the test opens the gate."""

    model_id = "gated"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.fail_next = False

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            assert self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("model failed")
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_queries(texts)


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_questions_asked_while_the_model_is_busy_are_embedded_together_once() -> None:
    model = GatedEmbedder()
    cache = QueryCache(model)
    results: dict[str, np.ndarray] = {}

    def ask(text: str) -> None:
        results[text] = cache.encode([text])[0]

    first = threading.Thread(target=ask, args=("who did it",))
    first.start()
    _wait_for(lambda: len(model.calls) == 1, "the first model call")
    others = [threading.Thread(target=ask, args=(q,)) for q in ("what did putin say", "fsb link", "fsb link")]
    for thread in others:
        thread.start()
    _wait_for(lambda: cache.pending == 3, "the other two questions to wait beside the first")
    model.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert model.calls[0] == ["who did it"]
    assert len(model.calls) == 2 and sorted(model.calls[1]) == ["fsb link", "what did putin say"]
    assert results["fsb link"][0] == len("fsb link") and results["who did it"][0] == len("who did it")
    cache.encode(["fsb link", "who did it"])
    assert len(model.calls) == 2, "asked again: not embedded again"


def test_a_failed_model_call_raises_for_its_caller_and_the_next_question_still_works() -> None:
    model = GatedEmbedder()
    model.gate.set()
    model.fail_next = True
    cache = QueryCache(model)
    with pytest.raises(RuntimeError):
        cache.encode(["first"])
    assert cache.encode(["first", "second"]).shape == (2, 4)
