"""The one clock of the store: every time stamp a ledger writes comes from ``now()``.

Callers look it up at call time (``clock.now()``), so a test can pin it with ``monkeypatch.setattr``.
"""

from __future__ import annotations

import datetime as dt


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
