"""A child process for crash tests: imports a big file, or streams edits, until it is killed.

python -m tests.crashworker import DB CSV
python -m tests.crashworker edits DB      # prints "committed <claim id> <n>" after each commit
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.ledger import Ledger
from bot.transfer import import_file


def main(argv: list[str]) -> int:
    mode, db = argv[0], Path(argv[1])
    with Ledger.open(db) as ledger:
        if mode == "import":
            print("starting", flush=True)
            import_file(ledger, "1", Path(argv[2]), actor="crash-import")
            print("imported", flush=True)
            return 0
        n = 0
        while True:
            claim = ledger.add_claim("1", text=f"Edit stream claim {n}", actor="crash-edits", ref=f"edit-{n}")
            ledger.set_evidence("1", claim.id, status="partial", details=f"detail {n}", actor="crash-edits")
            if n % 3 == 0:
                ledger.remove_claim("1", claim.id, reason=f"removed {n}", actor="crash-edits")
            print(f"committed {claim.id} {n}", flush=True)
            n += 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
