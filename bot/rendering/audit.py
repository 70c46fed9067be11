"""Compact, human-readable diffs of ledger revisions for the audit channel. Pure: no Discord."""

from __future__ import annotations

from typing import Any

from bot.models import Revision

AUDIT_CHANNEL_SETTING = "audit_channel"
AUDIT_LAST_SETTING = "audit_last_revision"
_VALUE_LIMIT = 80


def _short(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "∅"
    text = value if isinstance(value, str) else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _flatten(record: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (record or {}).items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif key == "sources" and isinstance(value, list):
            out[f"{prefix}sources"] = [s.get("url") or s.get("title") for s in value if isinstance(s, dict)]
        else:
            out[f"{prefix}{key}"] = value
    return out


def diff_lines(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """One line per changed field: ``field: old → new``."""
    before, after = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {_short(before.get(key))} → {_short(after.get(key))}")
    return lines


def describe(revision: Revision) -> str:
    """'moderator (1) updated claim #12' plus the changed fields."""
    verbs = {"create": "created", "update": "updated", "remove": "removed", "restore": "restored", "undo": "undid a"
             " change to", "merge": "merged", "set": "changed"}  # fmt: skip
    what = f"{revision.entity} #{revision.entity_id}" if revision.entity != "setting" else "a setting"
    head = f"{revision.actor} {verbs.get(revision.action, revision.action)} {what}"
    lines = diff_lines(revision.old, revision.new) if revision.action != "create" else []
    if revision.action == "create" and revision.new:
        lines = [f"{k}: {_short(v)}" for k, v in _flatten(revision.new).items() if v not in (None, [], "")][:6]
    return head + ("\n" + "\n".join(f"  {line}" for line in lines[:8]) if lines else "")
