"""Matching questions to claims: the one public module of the matcher."""

from bot.matching.ann import index_dir_for
from bot.matching.dense import DenseIndex
from bot.matching.embedding import E5Embedder, Embedder, default_embedder
from bot.matching.matcher import DEFAULT_THRESHOLD, INLINE_EMBED, Matcher
from bot.matching.sides import DISPUTES, balance

__all__ = [
    "DEFAULT_THRESHOLD",
    "DISPUTES",
    "INLINE_EMBED",
    "DenseIndex",
    "E5Embedder",
    "Embedder",
    "Matcher",
    "balance",
    "default_embedder",
    "index_dir_for",
]
