"""A child process for crash tests: imports a big file, or streams edits, until it is killed.

python -m tests.crashworker import DB FILE   # prints "starting", "applying" (write transaction begun), "applied"
                                             # (committed), then "imported"
python -m tests.crashworker edits DB SEED    # prints "committed <revision id> <claim id> <action>" after each commit

Every line is printed and flushed at once, so the lines the parent holds after the kill are exactly the ones the
child reached. "applied", "imported" and "committed ..." are printed only after their transaction committed: each
is a promise the parent checks after killing this process; "applying" says only that the write has begun.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.formats import import_file
from bot.store import Ledger

SCOPE = "1"
ACTOR = "crash-worker"


def run_import(ledger: Ledger, path: Path) -> None:
    """Prints "applying" once the import's write transaction has begun (BEGIN IMMEDIATE done: reading and planning
    are over, the rows are about to be written), and "applied" once that transaction committed, so the parent can
    kill it while the rows are being written and tell afterwards whether it did."""
    print("starting", flush=True)
    begin = ledger.transaction

    @contextmanager
    def announced() -> Iterator[Ledger]:
        outermost = not ledger.conn.in_transaction
        with begin() as inner:
            if outermost:
                print("applying", flush=True)
            yield inner
        if outermost:
            print("applied", flush=True)

    ledger.transaction = announced  # type: ignore[method-assign]
    import_file(ledger, SCOPE, path, actor=ACTOR)
    print("imported", flush=True)


def run_edits(ledger: Ledger, rng: random.Random) -> None:
    """Add, update, set evidence on, remove and restore claims, each its own transaction, forever."""
    live: list[int] = []
    removed: list[int] = []
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        action = (
            "create" if len(live) < 3 else rng.choice(["create", "create", "update", "evidence", "remove", "restore"])
        )
        if action == "restore" and not removed:
            action = "update"
        if action == "create":
            claim = ledger.add_claim(
                SCOPE,
                text=f"Edit stream claim {n} about the reservoir",
                actor=ACTOR,
                ref=f"edit-{n}",
                speaker=None,
                sources=[{"title": f"Stream source {n % 7}"}],
                tags=["stream", f"batch-{n % 5}"],
            )
            live.append(claim.id)
        elif action == "update":
            claim = ledger.update_claim(SCOPE, rng.choice(live), actor=ACTOR, text=f"Claim rewritten at step {n}")
        elif action == "evidence":
            claim = ledger.set_evidence(
                SCOPE, rng.choice(live), status=rng.choice(["presented", "partial", "disputed"]),
                details=f"detail {n}", actor=ACTOR,
            )  # fmt: skip
        elif action == "remove":
            claim = ledger.remove_claim(SCOPE, live.pop(rng.randrange(len(live))), reason=f"removed {n}", actor=ACTOR)
            removed.append(claim.id)
        else:
            claim = ledger.restore_claim(SCOPE, removed.pop(rng.randrange(len(removed))), actor=ACTOR)
            live.append(claim.id)
        print(f"committed {ledger.last_revision_id(SCOPE)} {claim.id} {action}", flush=True)


def main(argv: list[str]) -> int:
    mode, db = argv[0], Path(argv[1])
    with Ledger.open(db) as ledger:
        if mode == "import":
            run_import(ledger, Path(argv[2]))
        elif mode == "edits":
            run_edits(ledger, random.Random(int(argv[2])))
        else:
            print(f"unknown mode {mode!r}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
