"""The store interface: what both ledgers (SQLite ``Ledger``, PostgreSQL ``PostgresLedger``) offer.

Derived from the public methods of :class:`bot.store.sqlite.Ledger` and its ``search`` / ``vectors`` attributes.
Code that should run on either backend types its ledger as :class:`Store`. Every method takes the ``scope``
first and never reads or writes a row of another scope; records and errors are the same on both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from bot.models import Claim, EvidenceStatus, Incident, Revision, Speaker, SpeakerKind
from bot.store.vectors import VectorRows


@dataclass(frozen=True)
class Change:
    """A committed write to the ledger, as a change listener (:meth:`Store.listen`) is told of it.

    ``scope`` is the server written to; None when unknown (the listener lost its connection and may have missed
    changes, or a whole table was emptied): anything may have changed. ``incidents`` are the ids of the incidents
    whose summaries the write may change (their own row, their claims, the speakers and sources of their claims);
    ``()`` for a write that touched no incident's content (a setting, a new speaker), None when unknown (too many to
    name). ``own`` is True when this process wrote it (it has told itself already)."""

    scope: str | None
    incidents: tuple[int, ...] | None
    own: bool


ChangeCallback = Callable[[Change], None]


@runtime_checkable
class ChangeFeed(Protocol):
    """What :meth:`Store.listen` returns: close it to stop listening (the callback is not called after)."""

    def close(self) -> None: ...


class NoChanges:
    """The feed of a ledger that only this process writes (SQLite): its writes are told in-process by their
    writers, so the feed has nothing to tell."""

    def close(self) -> None:
        return None


_origin: list[tuple[int, str]] = []


def process_origin() -> str:
    """A token naming this process among every process writing to a shared ledger (new after a fork)."""
    pid = os.getpid()
    if not _origin or _origin[0][0] != pid:
        _origin[:] = [(pid, f"{pid}-{uuid.uuid4().hex[:12]}")]
    return _origin[0][1]


@runtime_checkable
class SearchBackend(Protocol):
    """``ledger.search``: the full-text index, its statistics and the data version (for caches)."""

    def version(self) -> tuple[int, int]: ...
    def stems(self, tokens: Sequence[str]) -> list[str]: ...
    def doc_freqs(self, scope: str, words: Iterable[str]) -> dict[str, int]: ...
    def match(
        self,
        scope: str,
        words: Sequence[str],
        *,
        mode: Literal["any", "all"] = "any",
        prefix: str | None = None,
        ranked: bool = True,
        limit: int = 100,
    ) -> list[tuple[int, float]]: ...
    def said_on(self, scope: str, year: int | None, month: int, day: int | None, *, limit: int = 100) -> list[int]: ...
    def said_by(self, scope: str, speaker_id: int, *, limit: int = 20) -> list[int]: ...
    def tags(self, scope: str, *, limit: int = 2000) -> list[str]: ...
    def texts(self, scope: str) -> list[str]: ...
    def total_claims(self, scope: str) -> int: ...


@runtime_checkable
class VectorBackend(Protocol):
    """``ledger.vectors``: claim vectors of the semantic matcher (float16 bytes tagged with a model id).

    ``searches_itself``: the store searches them (:class:`VectorSearch`; PostgreSQL with pgvector), so the
    matcher asks it instead of loading a server's vectors into memory."""

    @property
    def searches_itself(self) -> bool: ...
    def missing(self, scope: str, model: str, *, limit: int = 1_000_000) -> list[tuple[int, str]]: ...
    def count_missing(self, scope: str | None, model: str) -> int: ...
    def scopes_missing(self, model: str) -> list[str]: ...
    def put(self, scope: str, model: str, items: Iterable[tuple[int, np.ndarray]]) -> int: ...
    def state(self, scope: str, model: str) -> tuple[int, int]: ...
    def load(self, scope: str, model: str, dim: int, *, after: int = 0) -> VectorRows: ...


@runtime_checkable
class VectorSearch(Protocol):
    """``ledger.vectors`` when ``searches_itself``: nearest claims and cosines, exact (the store re-scores)."""

    def nearest(self, scope: str, model: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]: ...
    def vectors_of(self, scope: str, model: str, claim_ids: list[int]) -> dict[int, np.ndarray]: ...


@runtime_checkable
class Store(Protocol):
    """The public ledger API shared by both backends."""

    search: SearchBackend
    vectors: VectorBackend

    # lifetime and transactions
    def close(self) -> None: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> None: ...
    def transaction(self) -> AbstractContextManager[Any]: ...

    # changes written by other processes
    def listen(self, callback: ChangeCallback) -> ChangeFeed: ...

    # incidents
    def list_incidents(self, scope: str) -> list[Incident]: ...
    def get_incident(self, scope: str, key: str | int) -> Incident: ...
    def create_incident(
        self,
        scope: str,
        *,
        title: str,
        slug: str | None = None,
        date: str | None = None,
        place: str | None = None,
        summary: str | None = None,
        aliases: Iterable[str] = (),
        actor: str,
    ) -> Incident: ...
    def update_incident(self, scope: str, key: str | int, *, actor: str, **fields: Any) -> Incident: ...

    # speakers
    def list_speakers(self, scope: str) -> list[Speaker]: ...
    def find_speaker(self, scope: str, name: str) -> Speaker | None: ...
    def get_speaker(self, scope: str, key: str | int) -> Speaker: ...
    def create_speaker(
        self,
        scope: str,
        *,
        name: str,
        role: str | None = None,
        kind: str | SpeakerKind | None = None,
        aliases: Iterable[str] = (),
        actor: str,
    ) -> Speaker: ...
    def update_speaker(self, scope: str, key: str | int, *, actor: str, **fields: Any) -> Speaker: ...
    def add_speaker_alias(self, scope: str, key: str | int, alias: str, *, actor: str) -> Speaker: ...
    def remove_speaker_alias(self, scope: str, key: str | int, alias: str, *, actor: str) -> Speaker: ...
    def merge_speakers(self, scope: str, source: str | int, target: str | int, *, actor: str) -> Speaker: ...

    # claims
    def get_claims(self, scope: str, ids: Sequence[int], *, include_removed: bool = False) -> list[Claim]: ...
    def get_claim(self, scope: str, claim_id: int | str) -> Claim: ...
    def list_claims(
        self,
        scope: str,
        *,
        incident: str | int | None = None,
        speaker: str | int | None = None,
        tag: str | None = None,
        include_removed: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Claim]: ...
    def count_claims(self, scope: str, *, include_removed: bool = False) -> int: ...
    def claims_by_speaker(self, scope: str) -> dict[int, int]: ...
    def claims_by_incident(self, scope: str) -> dict[int, int]: ...
    def add_claim(
        self,
        scope: str,
        *,
        text: str,
        actor: str,
        quote: str | None = None,
        speaker: str | None = None,
        incident: str | None = None,
        said_at: str | None = None,
        said_where: str | None = None,
        tags: Iterable[str] | str | None = None,
        evidence_status: str | EvidenceStatus | None = None,
        evidence_details: str | None = None,
        evidence_links: Iterable[str] | str | None = None,
        sources: Iterable[dict[str, Any]] | None = None,
        ref: str | None = None,
    ) -> Claim: ...
    def update_claim(self, scope: str, claim_id: int | str, *, actor: str, **changes: Any) -> Claim: ...
    def set_evidence(
        self,
        scope: str,
        claim_id: int | str,
        *,
        status: str | EvidenceStatus,
        details: str | None,
        links: Iterable[str] | str | None = None,
        actor: str,
    ) -> Claim: ...
    def remove_claim(self, scope: str, claim_id: int | str, *, reason: str, actor: str) -> Claim: ...
    def restore_claim(self, scope: str, claim_id: int | str, *, actor: str) -> Claim: ...
    def undo_claim(self, scope: str, claim_id: int | str, *, actor: str) -> Claim: ...
    def find_claim(
        self, scope: str, *, ref: str | None = None, text: str | None = None, speaker: str = ""
    ) -> Claim | None: ...

    # history
    def history(self, scope: str, entity: str, entity_id: int) -> list[Revision]: ...
    def revisions_after(self, scope: str, after_id: int, *, limit: int = 50) -> list[Revision]: ...
    def last_revision_id(self, scope: str) -> int: ...
    def recent_revisions(self, scope: str, *, limit: int = 10) -> list[Revision]: ...
    def evidence_change_dates(self, scope: str) -> dict[int, str]: ...

    # settings and bookkeeping
    def get_setting(self, scope: str, key: str, default: str | None = None) -> str | None: ...
    def set_setting(self, scope: str, key: str, value: str | None, *, actor: str) -> None: ...
    def set_marker(self, scope: str, key: str, value: str) -> None: ...

    # pinned summaries
    def add_pinned_summary(self, scope: str, incident: str | int, channel_id: int, message_id: int) -> None: ...
    def pinned_summaries(self, scope: str, incident: str | int | None = None) -> list[tuple[int, int, int]]: ...
    def all_pinned_summaries(self) -> list[tuple[str, int]]: ...
    def forget_pinned_summary(self, scope: str, message_id: int) -> int: ...

    # scopes
    def scopes(self) -> list[str]: ...
    def is_empty(self, scope: str) -> bool: ...


def public_methods(cls: type) -> set[str]:
    """The public callables of a ledger class (what :class:`Store` must list)."""
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))} - {"open", "memory"}


__all__ = [
    "Change",
    "ChangeCallback",
    "ChangeFeed",
    "NoChanges",
    "SearchBackend",
    "Store",
    "VectorBackend",
    "process_origin",
    "public_methods",
]


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL ledger (a ``postgresql://`` URL; anything else is SQLite)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))
