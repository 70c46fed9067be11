"""What the matcher asks of the store: the full-text index, its vocabulary, and the data version.

User text never reaches FTS5 as query syntax: callers pass words, and each is quoted here. The matcher keeps
its caches keyed on :meth:`SqliteSearch.version`, which changes whenever any connection (another thread, the
CLI, another process) commits a change to the ledger.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Literal

FTS_WEIGHTS = "0.0, 4.0, 3.0, 2.5, 1.5, 1.0, 1.5"  # scope_key, claim, quote, speaker, incident, tags, sources


def scope_token(scope: str) -> str:
    """The token that stands for a server in the full-text index (``scope_key`` column)."""
    return "scope_key:x" + scope.encode().hex().upper()


def _quoted(word: str) -> str:
    return '"' + word.replace("\x00", "").replace('"', '""') + '"'


class SqliteSearch:
    """The search side of one ledger connection (FTS5 with the porter and unicode61 tokenizers)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self.conn = conn
        self.lock = lock
        self.own_changes = 0  # rows the tokenizer wrote to its temp table: not changes to the ledger
        self.tokenizer_ready = False
        self.df_cache: dict[tuple[str, str], int] = {}
        self.df_version: tuple[int, int] | None = None
        self.sole_cache: dict[str, bool] = {}  # scope -> whether it holds every claim (cleared with df_cache)
        self.live_cache: dict[str, int] = {}  # scope -> its live claims (cleared with df_cache)
        self.removed_cache: dict[str, bool] = {}  # scope -> whether it holds removed claims (cleared with df_cache)

    def version(self) -> tuple[int, int]:
        """Changes whenever the ledger changes: commits by other connections (``data_version``) or by this one."""
        with self.lock:
            data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            return data_version, self.conn.total_changes - self.own_changes

    def stems(self, tokens: Sequence[str]) -> list[str]:
        """The index's own stem for each token ("" for a token it drops), via a temporary FTS5 table."""
        conn = self.conn
        with self.lock:
            before = conn.total_changes
            was_in_transaction = conn.in_transaction
            if not self.tokenizer_ready:
                conn.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.question_tokens USING fts5"
                    "(x, tokenize = 'porter unicode61 remove_diacritics 2')"
                )
                conn.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.question_tokens_vocab"
                    " USING fts5vocab(temp, question_tokens, 'instance')"
                )
                self.tokenizer_ready = True
            conn.executemany("INSERT INTO temp.question_tokens (rowid, x) VALUES (?, ?)", list(enumerate(tokens)))
            rows = conn.execute("SELECT doc, term FROM temp.question_tokens_vocab ORDER BY doc, offset").fetchall()
            conn.execute("DELETE FROM temp.question_tokens")
            if conn.in_transaction and not was_in_transaction:
                conn.commit()
            self.own_changes += conn.total_changes - before
        stems = [""] * len(tokens)
        for doc, term in rows:
            if not stems[doc]:
                stems[doc] = term
        return stems

    def _forget_if_changed(self) -> None:
        """Drop what is remembered about the ledger (document frequencies, sole scopes) once it has changed."""
        version = self.version()
        if version != self.df_version:
            self.df_cache.clear()
            self.sole_cache.clear()
            self.live_cache.clear()
            self.removed_cache.clear()
            self.df_version = version

    def _sole_scope(self, scope: str) -> bool:
        """Whether every claim of the ledger is the scope's (remembered until the ledger changes)."""
        sole = self.sole_cache.get(scope)
        if sole is None:
            others = self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM claims WHERE scope < ?) OR EXISTS (SELECT 1 FROM claims WHERE scope > ?)",
                [scope, scope],
            ).fetchone()[0]
            sole = self.sole_cache[scope] = not others
        return sole

    def _any_removed(self, scope: str) -> bool:
        """Whether the scope holds removed claims (their rows stay in the index): remembered until the ledger
        changes; its claims counted from the scope's index, against its live claims."""
        removed = self.removed_cache.get(scope)
        if removed is None:
            every = self.conn.execute("SELECT count(*) FROM claims WHERE scope = ?", [scope]).fetchone()[0]
            removed = self.removed_cache[scope] = every != self._live(scope)
        return removed

    def _within(self, scope: str, expression: str) -> str:
        """A full-text expression kept to the scope's claims by its token, unless the scope holds every claim.

        Then every row of the index holds the token, so the rows are the same without it, and so are their BM25
        scores (the token's column weighs 0, adding exactly 0.0 to a score); but FTS5 no longer reads the token's
        postings, one for each claim of the server, to weigh it: at 100,000 claims most of a question's search."""
        if self._sole_scope(scope):
            return f"({expression})"
        return f"{scope_token(scope)} AND ({expression})"

    def doc_freqs(self, scope: str, words: Iterable[str]) -> dict[str, int]:
        """How many of the server's claims hold each word (as the index stems it); words none holds are left out.

        Counted within the server only, so one server's claims never change another's statistics; remembered
        until the ledger changes."""
        freqs: dict[str, int] = {}
        with self.lock:
            self._forget_if_changed()
            for word in sorted({w for w in words if w}):
                cached = self.df_cache.get((scope, word))
                if cached is None:
                    cached = self.conn.execute(
                        "SELECT count(*) FROM claims_fts WHERE claims_fts MATCH ?", [self._within(scope, _quoted(word))]
                    ).fetchone()[0]
                    self.df_cache[(scope, word)] = cached
                if cached:
                    freqs[word] = cached
        return freqs

    def match(
        self,
        scope: str,
        words: Sequence[str],
        *,
        mode: Literal["any", "all"] = "any",
        prefix: str | None = None,
        ranked: bool = True,
        limit: int = 100,
    ) -> list[tuple[int, float]]:
        """(claim id, BM25 score, higher is better) of the scope's live claims holding any (or all) of ``words``.

        Unranked: the index drives and stops after a few times ``limit`` postings, for words so common that
        scoring every posting would cost time in proportion to the ledger."""
        parts = [_quoted(w) for w in words if w]
        if prefix:
            parts.append(_quoted(prefix) + "*")
        if not parts:
            return []
        words_part = (" OR " if mode == "any" else " AND ").join(parts)
        with self.lock:
            self._forget_if_changed()
            expression = self._within(scope, words_part)  # the index itself keeps to the server
            if not self._any_removed(scope):
                # every row the index finds is a live claim of the server: no claim row to read for each posting
                rows = self.conn.execute(
                    f"SELECT rowid, bm25(claims_fts, {FTS_WEIGHTS}) AS rank FROM claims_fts WHERE claims_fts MATCH ?"
                    + (" ORDER BY rank, rowid" if ranked else "")
                    + " LIMIT ?",
                    [expression, limit],
                ).fetchall()
            elif ranked:
                rows = self.conn.execute(
                    f"SELECT f.rowid, bm25(claims_fts, {FTS_WEIGHTS}) AS rank"
                    " FROM claims_fts f JOIN claims c ON c.id = f.rowid WHERE claims_fts MATCH ? AND c.scope = ?"
                    " AND c.removed_reason IS NULL ORDER BY rank, f.rowid LIMIT ?",
                    [expression, scope, limit],
                ).fetchall()
            else:
                rows = self.conn.execute(
                    f"SELECT f.id, f.rank FROM (SELECT rowid AS id, bm25(claims_fts, {FTS_WEIGHTS}) AS rank"
                    " FROM claims_fts WHERE claims_fts MATCH ? LIMIT ?) f JOIN claims c ON c.id = f.id"
                    " WHERE c.scope = ? AND c.removed_reason IS NULL LIMIT ?",
                    [expression, limit * 4, scope, limit],
                ).fetchall()
        return [(row[0], -row[1]) for row in rows]

    def said_on(self, scope: str, year: int | None, month: int, day: int | None, *, limit: int = 100) -> list[int]:
        """Ids of the scope's live claims said on that day (or month), in any year when ``year`` is None."""
        pattern = ("____" if year is None else f"{year:04d}") + f"-{month:02d}" + (f"-{day:02d}" if day else "") + "%"
        with self.lock:
            rows = self.conn.execute(
                "SELECT id FROM claims WHERE scope = ? AND removed_reason IS NULL AND said_at LIKE ?"
                " ORDER BY id LIMIT ?",
                [scope, pattern, limit],
            ).fetchall()
        return [row[0] for row in rows]

    def said_by(self, scope: str, speaker_id: int, *, limit: int = 20) -> list[int]:
        """Ids of the scope's live claims by one speaker, oldest first."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT id FROM claims WHERE scope = ? AND removed_reason IS NULL AND speaker_id = ?"
                " ORDER BY id LIMIT ?",
                [scope, speaker_id, limit],
            ).fetchall()
        return [row[0] for row in rows]

    def tags(self, scope: str, *, limit: int = 2000) -> list[str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT DISTINCT j.value FROM claims c, json_each(c.tags) j WHERE c.scope = ? LIMIT ?", [scope, limit]
            ).fetchall()
        return [str(row[0]) for row in rows]

    def texts(self, scope: str) -> list[str]:
        """Claim text and quote of every live claim of the scope (for the fuzzy vocabulary of small ledgers)."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT text || ' ' || coalesce(quote, '') FROM claims WHERE scope = ? AND removed_reason IS NULL",
                [scope],
            ).fetchall()
        return [row[0] for row in rows]

    def total_claims(self, scope: str) -> int:
        """The server's live claims: the document count its statistics are over."""
        with self.lock:
            self._forget_if_changed()
            return self._live(scope)

    def _live(self, scope: str) -> int:
        live = self.live_cache.get(scope)
        if live is None:
            live = self.live_cache[scope] = self.conn.execute(
                "SELECT count(*) FROM claims WHERE scope = ? AND removed_reason IS NULL", [scope]
            ).fetchone()[0]
        return live
