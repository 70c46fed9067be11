"""What the matcher asks of the store, in PostgreSQL: full text (``tsvector`` + GIN), statistics, data version.

The same contract as :class:`bot.store.search.SqliteSearch`. User text never reaches PostgreSQL as query syntax:
each word is a bound parameter turned into a query by ``plainto_tsquery`` (which parses no operators), and the
per-word queries are combined with ``||`` (any) or ``&&`` (all) in SQL; a prefix is reduced to letters and digits
before it becomes a ``:*`` lexeme. Ranking is BM25-like: each word's ``ts_rank`` (weights: claim > quote, speaker
> incident, sources > tags) times its inverse document frequency within the server. Document frequencies and
totals are per server (scope). :meth:`PostgresSearch.version` reads the database's ``data_version`` counter,
bumped by a trigger on every write, so caches keyed on it are invalidated by writes of any process.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from bot.errors import ConnectionLostError

T = TypeVar("T")
CONFIG = "claimledger"
_PREFIX_CHARS = re.compile(r"[^\w]+", re.UNICODE)
K1, B = 1.2, 0.75  # BM25's parameters, as FTS5's bm25()


def _idf(total: int, df: int) -> float:
    """FTS5's inverse document frequency (never below a small positive floor)."""
    value = math.log((total - df + 0.5) / (df + 0.5))
    return value if value > 0 else 1e-6


STEMS_CACHED = 100_000  # tokens whose stems are remembered (the text search configuration never changes)


class PostgresSearch:
    def __init__(self, ledger: Any) -> None:  # a bot.store.postgres.PostgresLedger
        self.ledger = ledger
        self.lock = threading.Lock()
        self.df_cache: dict[tuple[str, str], int] = {}
        self.df_version: tuple[int, int] | None = None
        self.stats_cache: dict[str, tuple[int, float]] = {}
        self.stem_cache: dict[str, str] = {}
        self._held = threading.local()  # the connection (and data version) of this thread's current search

    @contextmanager
    def _session(self) -> Iterator[None]:
        """One connection for every query of a search (one checkout from the pool, where each query took its
        own), and the data version read at most once in it."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self.ledger.connection() as conn:
            self._held.conn, self._held.version = conn, None
            try:
                yield
            finally:
                self._held.conn = self._held.version = None

    def _reading(self, work: Callable[[], T]) -> T:
        """``work`` (reads only) in one session; run again once on a fresh connection when the pooled one was dead
        (the server restarted since it was last used)."""
        if getattr(self._held, "conn", None) is not None:
            return work()
        try:
            with self._session():
                return work()
        except ConnectionLostError:
            if self.ledger.in_transaction:
                raise
            with self._session():
                return work()

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        held = getattr(self._held, "conn", None)
        if held is not None:
            return held.execute(query, params or None).fetchall()
        return self._reading(lambda: self._rows(query, params))

    def version(self) -> tuple[int, int]:
        """Changes whenever the ledger changes, whichever process or connection wrote (the database's counter)."""
        if getattr(self._held, "conn", None) is not None and self._held.version is not None:
            return self._held.version
        rows = self._rows("SELECT version FROM data_version")
        version = (int(rows[0][0]) if rows else 0, 0)
        if getattr(self._held, "conn", None) is not None:
            self._held.version = version
        return version

    def stems(self, tokens: Sequence[str]) -> list[str]:
        """The index's own lexeme for each token ("" for a token it drops), by the ledger's text configuration."""
        if not tokens:
            return []
        cleaned = [t.replace("\x00", "") for t in tokens]
        with self.lock:
            known = {t: self.stem_cache[t] for t in cleaned if t in self.stem_cache}
        missing = sorted({t for t in cleaned if t not in known})
        if missing:
            rows = self._rows(
                "SELECT t.token, (SELECT v.lexeme FROM unnest(to_tsvector(%s::regconfig, t.token)) AS v"
                " ORDER BY v.positions[1] LIMIT 1) FROM unnest(%s::text[]) AS t(token)",
                [CONFIG, missing],
            )
            found = {token: lexeme or "" for token, lexeme in rows}
            known.update(found)
            with self.lock:
                if len(self.stem_cache) + len(found) > STEMS_CACHED:
                    self.stem_cache.clear()
                self.stem_cache.update(found)
        return [known.get(t, "") for t in cleaned]

    def doc_freqs(self, scope: str, words: Iterable[str]) -> dict[str, int]:
        return self._reading(lambda: self._doc_freqs(scope, words))

    def _doc_freqs(self, scope: str, words: Iterable[str]) -> dict[str, int]:
        """How many of the server's claims hold each word (as the index stems it); words none holds are left out.

        Counted within the server only, so one server's claims never change another's statistics; read from the
        schema's per-server table of document frequencies, and remembered until the ledger changes."""
        version = self.version()
        freqs: dict[str, int] = {}
        with self.lock:
            if version != self.df_version:
                self.df_cache.clear()
                self.stats_cache.clear()
                self.df_version = version
            wanted = sorted({w.replace("\x00", "") for w in words if w})
            missing = [w for w in wanted if (scope, w) not in self.df_cache]
        if missing:
            # One query for every new word: the lexemes the index makes of it, then its frequency from the
            # server's document-frequency table (``claims_df``, kept by the schema's triggers) when the word is one
            # lexeme; a word of several lexemes ("f-16": 'f-16' & 'f' & '16') is counted among the server's
            # documents as before, and a word of none is in no document.
            rows = self._rows(
                "SELECT w.word, CASE cardinality(l.lexemes) WHEN 0 THEN 0"
                " WHEN 1 THEN coalesce((SELECT d.df FROM claims_df d WHERE d.scope = %s AND d.lexeme = l.lexemes[1]),"
                " 0)"
                " ELSE (SELECT count(*) FROM claims_fts f WHERE f.scope = %s"
                " AND f.document @@ plainto_tsquery(%s::regconfig, w.word)) END"
                " FROM unnest(%s::text[]) AS w(word),"
                " LATERAL (SELECT tsvector_to_array(to_tsvector(%s::regconfig, w.word)) AS lexemes) AS l",
                [scope, scope, CONFIG, missing, CONFIG],
            )
            with self.lock:
                for word, count in rows:
                    self.df_cache[(scope, word)] = int(count)
        with self.lock:
            for word in wanted:
                count = self.df_cache.get((scope, word), 0)
                if count:
                    freqs[word] = count
        return freqs

    def _stats(self, scope: str) -> tuple[int, float]:
        """(indexed claims, their average length in tokens) of a server: BM25's N and avgdl, per server."""
        version = self.version()
        with self.lock:
            if version != self.df_version:
                self.df_cache.clear()
                self.stats_cache.clear()
                self.df_version = version
            cached = self.stats_cache.get(scope)
        if cached is None:
            row = self._rows("SELECT count(*), coalesce(avg(doc_len), 0) FROM claims_fts WHERE scope = %s", [scope])[0]
            cached = (int(row[0]), float(row[1]))
            with self.lock:
                self.stats_cache[scope] = cached
        return cached

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

        Scored as FTS5's ``bm25`` scores (k1 1.2, b 0.75, the same column weights, statistics of the server).
        Unranked: the first ``limit`` claims holding the words (by id) are scored, not every claim holding them."""
        return self._reading(lambda: self._match(scope, words, mode=mode, prefix=prefix, ranked=ranked, limit=limit))

    def _match(
        self,
        scope: str,
        words: Sequence[str],
        *,
        mode: Literal["any", "all"] = "any",
        prefix: str | None = None,
        ranked: bool = True,
        limit: int = 100,
    ) -> list[tuple[int, float]]:
        terms = [w.replace("\x00", "") for w in dict.fromkeys(words) if w and w.replace("\x00", "")]
        prefix_lexeme = _PREFIX_CHARS.sub("", prefix or "").lower()
        parts: list[str] = []
        params: list[Any] = []
        for term in terms:
            parts.append("plainto_tsquery(%s::regconfig, %s)")
            params += [CONFIG, term]
        if prefix_lexeme:
            # the lexeme holds only letters, digits and "_": quoted, it is a literal in tsquery syntax
            parts.append("to_tsquery('simple', %s)")
            params.append(f"'{prefix_lexeme}':*")
        if not parts:
            return []
        joined = (" || " if mode == "any" else " && ").join(f"({p})" for p in parts)
        total, avgdl = self._stats(scope)
        freqs = self.doc_freqs(scope, terms) if terms else {}
        lexemes: list[str] = []
        idfs: list[float] = []
        for term, stem in zip(terms, self.stems(terms), strict=True):
            if stem:
                lexemes.append(stem)
                idfs.append(_idf(total, freqs.get(term, 0)))
        prefix_idf = 0.0
        if prefix_lexeme:
            df = self._rows(
                "SELECT count(*) FROM claims_fts WHERE scope = %s AND document @@ to_tsquery('simple', %s)",
                [scope, f"'{prefix_lexeme}':*"],
            )[0][0]
            prefix_idf = _idf(total, int(df))
        # Each hit is scored by an expression over its term frequencies (``claims_fts.tf``, one jsonb lookup per
        # query lexeme), not by unnesting its whole document; the prefix, when there is one, sums over the hit's
        # lexemes that start with it. Removed claims are left out through their own small index.
        bm25 = "%s * {tf} * (%s + 1) / ({tf} + %s * (1 - %s + %s * h.doc_len / greatest(%s, 1)))"
        scores: list[str] = []
        score_params: list[Any] = []
        for lexeme, idf in zip(lexemes, idfs, strict=True):
            tf = "(h.tf ->> %s)::float8"
            scores.append(f"coalesce({bm25.format(tf=tf)}, 0)")
            score_params += [idf, lexeme, K1, lexeme, K1, B, B, avgdl]
        if prefix_lexeme:
            scores.append(
                f"coalesce((SELECT sum({bm25.format(tf='t.value::float8')}) FROM jsonb_each(h.tf) AS t"
                " WHERE starts_with(t.key, %s)), 0)"
            )
            score_params += [prefix_idf, K1, K1, B, B, avgdl, prefix_lexeme]
        order = "rank DESC, h.claim_id" if ranked else "h.claim_id"
        hits_limit = "" if ranked else " ORDER BY f.claim_id LIMIT %s"
        rows = self._rows(
            "WITH hits AS MATERIALIZED (SELECT f.claim_id, f.doc_len, f.tf FROM claims_fts f"
            f"  WHERE f.scope = %s AND f.document @@ ({joined})"
            "  AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = f.claim_id AND c.removed_reason IS NOT NULL)"
            f"{hits_limit})"
            f" SELECT h.claim_id, ({' + '.join(scores) or '0'})::float8 AS rank FROM hits h ORDER BY {order} LIMIT %s",
            [scope, *params, *([] if ranked else [limit]), *score_params, limit],
        )
        return [(int(row[0]), float(row[1])) for row in rows]

    def said_on(self, scope: str, year: int | None, month: int, day: int | None, *, limit: int = 100) -> list[int]:
        """Ids of the scope's live claims said on that day (or month), in any year when ``year`` is None."""
        pattern = ("____" if year is None else f"{year:04d}") + f"-{month:02d}" + (f"-{day:02d}" if day else "") + "%"
        rows = self._rows(
            "SELECT id FROM claims WHERE scope = %s AND removed_reason IS NULL AND said_at LIKE %s"
            " ORDER BY id LIMIT %s",
            [scope, pattern, limit],
        )
        return [int(row[0]) for row in rows]

    def said_by(self, scope: str, speaker_id: int, *, limit: int = 20) -> list[int]:
        """Ids of the scope's live claims by one speaker, oldest first."""
        rows = self._rows(
            "SELECT id FROM claims WHERE scope = %s AND removed_reason IS NULL AND speaker_id = %s"
            " ORDER BY id LIMIT %s",
            [scope, speaker_id, limit],
        )
        return [int(row[0]) for row in rows]

    def tags(self, scope: str, *, limit: int = 2000) -> list[str]:
        rows = self._rows(
            "SELECT DISTINCT jsonb_array_elements_text(tags) FROM claims WHERE scope = %s LIMIT %s", [scope, limit]
        )
        return [str(row[0]) for row in rows]

    def texts(self, scope: str) -> list[str]:
        """Claim text and quote of every live claim of the scope (for the fuzzy vocabulary of small ledgers)."""
        rows = self._rows(
            "SELECT text || ' ' || coalesce(quote, '') FROM claims WHERE scope = %s AND removed_reason IS NULL"
            " ORDER BY id",
            [scope],
        )
        return [row[0] for row in rows]

    def total_claims(self, scope: str | None = None) -> int:
        """The server's live claims (every claim of every server when ``scope`` is None)."""
        if scope is None:
            return int(self._rows("SELECT count(*) FROM claims")[0][0])
        return int(self._rows("SELECT count(*) FROM claims WHERE scope = %s AND removed_reason IS NULL", [scope])[0][0])

    def similar_names(self, scope: str, text: str, *, limit: int = 5) -> list[tuple[str, str, float]]:
        """(kind, name, similarity) of the speakers and incidents whose name (or alias) is closest to ``text``:
        ``pg_trgm`` in the database when it is there, else rapidfuzz over the names."""
        text = text.replace("\x00", "").strip()
        if not text:
            return []
        if self.ledger.features.trgm:
            rows = self._rows(
                "SELECT kind, name, sim FROM ("
                " SELECT 'speaker' AS kind, s.name, max(similarity(lower(n), lower(%s))) AS sim FROM speakers s,"
                "  LATERAL (SELECT s.name AS n UNION ALL SELECT jsonb_array_elements_text(s.aliases)) AS names"
                "  WHERE s.scope = %s GROUP BY s.name"
                " UNION ALL"
                " SELECT 'incident', i.slug, max(similarity(lower(n), lower(%s))) FROM incidents i,"
                "  LATERAL (SELECT i.title AS n UNION ALL SELECT jsonb_array_elements_text(i.aliases)) AS names"
                "  WHERE i.scope = %s GROUP BY i.slug"
                ") AS found WHERE sim >= 0.3 ORDER BY sim DESC, name LIMIT %s",
                [text, scope, text, scope, limit],
            )
            return [(row[0], row[1], float(row[2])) for row in rows]
        from rapidfuzz import fuzz, process, utils

        choices = [("speaker", sp.name, n) for sp in self.ledger.list_speakers(scope) for n in (sp.name, *sp.aliases)]
        choices += [
            ("incident", inc.slug, n) for inc in self.ledger.list_incidents(scope) for n in (inc.title, *inc.aliases)
        ]
        scored = process.extract(
            text, [c[2] for c in choices], scorer=fuzz.ratio, processor=utils.default_process, limit=limit * 3
        )
        out: dict[tuple[str, str], float] = {}
        for _, score, index in scored:
            kind, key, _ = choices[index]
            if score >= 30 and (kind, key) not in out:
                out[(kind, key)] = score / 100
        return [(k, n, s) for (k, n), s in list(out.items())[:limit]]
