"""Typed errors of the ledger core; their messages are written to be shown to a user."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: every error the core raises on purpose. ``str(err)`` is fit to show a user."""


class NotFoundError(LedgerError):
    """A claim, speaker, incident or source id/name that does not exist in this scope."""

    def __init__(self, kind: str, key: object, suggestions: list[str] | None = None) -> None:
        self.kind = kind
        self.key = key
        self.suggestions = suggestions or []
        message = f"No {kind} {key!s} in this ledger."
        if self.suggestions:
            message += " Did you mean: " + ", ".join(self.suggestions) + "?"
        super().__init__(message)


class InvalidInputError(LedgerError):
    """User-supplied data that fails validation (too long, wrong format, unknown value)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ImportFileError(LedgerError):
    """An import file that cannot be read; ``problems`` lists ``(where, message)`` pairs, where ``where`` is a
    line number (flat files) or a JSON path like ``claims[3]``."""

    def __init__(self, message: str, problems: list[tuple[int | str, str]] | None = None) -> None:
        self.problems = problems or []
        if self.problems:
            shown = "; ".join(f"{location(where)}: {msg}" for where, msg in self.problems[:10])
            more = len(self.problems) - 10
            message = f"{message} {shown}" + (f" (and {more} more)" if more > 0 else "")
        super().__init__(message)


def location(where: int | str) -> str:
    return f"line {where}" if isinstance(where, int) else where


class LedgerBusyError(LedgerError):
    """Another process held the ledger's write lock for longer than the busy timeout."""


# What a user is told when the ledger's database server cannot be reached (each true where it is raised: see
# bot.store.postgres.PostgresLedger.transaction).
UNREACHABLE = "The ledger's database is unreachable right now (restarting?). Try again in a moment."
NOT_SAVED = "The ledger's database is unreachable right now (restarting?); nothing was saved. Try again in a moment."
UNSURE = (
    "The ledger's database went away while saving, and whether the change was saved is not known yet."
    " Check before trying again."
)


class LedgerUnavailableError(LedgerError):
    """The ledger's database server cannot be reached (restarting, down, the connection lost). Nothing of the
    interrupted write was saved, unless ``unsure``: the connection broke while the write was committing and the
    server could not be asked afterwards whether the commit happened."""

    def __init__(self, message: str, *, unsure: bool = False) -> None:
        self.unsure = unsure
        super().__init__(message)


class ConnectionLostError(LedgerUnavailableError):
    """A pooled connection was found dead (the server restarted, or ended it) by a statement run outside a
    transaction: a read can run again on a fresh connection."""
