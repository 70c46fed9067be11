"""One import, three stages: a reader made the document; here the planner compares it with the ledger and the
applier writes the plan, all or nothing.

The plan is made outside the write transaction (reads only, so other writers go on); the write transaction is
short: it checks that nobody wrote since the plan was made (else it plans again, under the lock) and writes the
plan in bulk. A dry run is the plan alone.
"""

from __future__ import annotations

from bot.errors import ImportFileError
from bot.formats.applier import apply_plan
from bot.formats.document import Document, ImportReport, Progress
from bot.formats.planner import Plan, make_plan
from bot.store import Ledger, data_token


def _refuse(plan: Plan) -> None:
    problems = plan.report.problems
    if problems:
        raise ImportFileError(
            f"{plan.headline} Nothing was imported: {len(problems)} bad {plan.what}.".lstrip(), problems
        )


def run_import(
    ledger: Ledger,
    scope: str,
    document: Document,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a document: write everything, or nothing and raise :class:`ImportFileError` listing every bad
    record. ``dry_run``: the report of what would change, invalid records included; nothing is written."""
    plan = make_plan(ledger, scope, document, progress)
    plan.report.dry_run = dry_run
    if dry_run:
        return plan.report
    _refuse(plan)
    with ledger.transaction():
        if data_token(ledger) != plan.token:  # someone wrote since the plan was made: plan again, under the lock
            plan = make_plan(ledger, scope, document)
            _refuse(plan)
        apply_plan(ledger, plan, actor)
    return plan.report
