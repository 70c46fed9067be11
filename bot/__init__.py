"""Claim Ledger: attributed claims about contested news, answered from a curated ledger."""

__version__ = "0.1.0"
