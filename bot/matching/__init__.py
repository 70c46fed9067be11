"""Matching questions to claims: the one public module of the matcher."""

from bot.matching.matcher import DEFAULT_THRESHOLD, Matcher
from bot.matching.sides import DISPUTES, balance

__all__ = ["DEFAULT_THRESHOLD", "DISPUTES", "Matcher", "balance"]
