"""Answers and summaries for people: plain text and JSON here, Discord embeds in ``embeds``."""
