"""A small progress bar for long imports, written to a text stream (stderr by default)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Call with (done, total). Draws in place on a terminal; elsewhere prints a line every 10%."""

    def __init__(self, label: str, *, stream: TextIO | None = None, min_total: int = 200, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.min_total = min_total
        self.width = width
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        fraction = done / total if total else 1.0
        if self._tty:
            now = time.monotonic()
            if done != total and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "." * (self.width - filled)
            end = "\n" if done == total else ""
            self.stream.write(f"\r{self.label} [{bar}] {done}/{total} ({fraction:.0%}){end}")
        else:
            decile = int(fraction * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(f"{self.label}: {done}/{total} ({fraction:.0%})\n")
        self.stream.flush()
