"""Watched channels, the pure part: which match is worth an automatic reply, the cooling period per claim per
channel, the per-channel rate limit, and the key under which a "not relevant" mark is kept. No Discord, no SQL.

The bot replies to a message in a watched channel only when the ledger's best claim for it reaches
:data:`WATCH_THRESHOLD` (higher than ``/ask``'s: an unasked reply must be right), the claim was not marked "not
relevant" for that text in that server, the claim was not answered in that channel within the cooling period, and
the channel is under its rate limit.

Messages wait in a :class:`Backlog` and are checked in batches (their texts embedded together); when messages come
faster than they can be checked, the oldest are dropped instead of piling up.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.models import Match

WATCH_THRESHOLD = 0.93
"""Confidence the best claim must reach for an automatic reply with semantic matching (the default); tuned on
CheckThat train by benchmarks/watch.py (the lowest with precision ≥ 0.95 and no off-topic reply there)."""
WATCH_THRESHOLD_LEXICAL = 0.8
"""The same for lexical matching alone (``CLAIMLEDGER_SEMANTIC=0``), whose scores run on another scale."""


def watch_threshold(semantic: bool) -> float:
    return WATCH_THRESHOLD if semantic else WATCH_THRESHOLD_LEXICAL


COOLING_SECONDS = 30 * 60.0
"""At most one reply per claim per channel within this period."""
RATE_LIMIT, RATE_PER = 3, 60.0
"""At most RATE_LIMIT automatic replies per channel within RATE_PER seconds."""
MIN_WORDS = 4
"""Shorter messages ("lol", "same", "crocus?") never trigger a reply."""
MAX_WATCHED_CHANNELS = 10
BACKLOG_MAX = 200
"""Messages waiting to be checked; when a new one arrives beyond this, the oldest waiting one is dropped."""
BATCH_MAX = 32
"""Messages taken from the backlog together: their texts are embedded in a few calls to the model instead of one
call each (on the 2-core machine, 16 texts at once cost a fifth of the time per text that one at a time does)."""
EMBED_CHUNK = 16
"""Texts per call to the model; between calls a member's /ask can have the model."""
MAX_AGE = 4.0
"""A message that waited longer than this is dropped unchecked: a reply that late would land far up a busy chat,
and dropping keeps the backlog (and the time to a reply) from growing when messages arrive faster than they can be
checked. Keeping more waiting would not check more of them, only later."""

T = TypeVar("T")

WATCH_CHANNELS_SETTING = "watch_channels"
NOT_RELEVANT_PREFIX = "watch_nr:"

_WORD = re.compile(r"\w+", re.UNICODE)
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_MENTION = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>")
_TRAILING_PUNCT = ".,;:!?)]}'\">"


def normalise(text: str) -> str:
    """The text a "not relevant" mark is about: Unicode-normalised, case-folded, mentions and links removed,
    words only. "Ukraine did it!!" and "ukraine  did it" are the same text."""
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(" ", _MENTION.sub(" ", text))
    return " ".join(_WORD.findall(text.casefold()))


def text_hash(text: str) -> str:
    """32 hex digits identifying the normalised text (fits a setting key and a button's custom_id)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:32]


def not_relevant_key(digest: str) -> str:
    """The per-server setting that lists the claims marked "not relevant" for one text."""
    if not re.fullmatch(r"[0-9a-f]{32}", digest):
        raise ValueError(f"not a text hash: {digest!r}")
    return NOT_RELEVANT_PREFIX + digest


def parse_ids(raw: str | None) -> list[int]:
    """'12 34 56' (a stored id list) → [12, 34, 56]; anything that is not a number is skipped."""
    return [int(part) for part in (raw or "").replace(",", " ").split() if part.isdigit()]


def format_ids(ids: Iterable[int]) -> str | None:
    """The stored form of an id list, or None (the setting removed) when empty. Order kept, no duplicates."""
    unique = list(dict.fromkeys(int(i) for i in ids))
    return " ".join(map(str, unique)) if unique else None


def first_link(text: str) -> str | None:
    """The first http(s) link in a message, without trailing punctuation."""
    found = _URL.search(text)
    if not found:
        return None
    url = found.group(0).rstrip(_TRAILING_PUNCT)
    return url or None


def worth_checking(text: str) -> bool:
    """Enough words to make a claim at all (links and mentions don't count)."""
    return len(normalise(text).split()) >= MIN_WORDS


def pick(matches: Sequence[Match], *, threshold: float = WATCH_THRESHOLD,
         suppressed: Iterable[int] = ()) -> Match | None:  # fmt: skip
    """The claim to reply with: the best match (not one brought in as the other side) when it reaches the
    threshold. A claim marked "not relevant" for this text is skipped, and the next one must reach the threshold
    on its own."""
    skip = set(suppressed)
    for match in matches:
        if match.other_side or match.claim.id in skip:
            continue
        return match if match.score >= threshold else None
    return None


def other_sides(matches: Sequence[Match], chosen: Match) -> list[Match]:
    """The claims shown as the other side of a dispute beside the chosen one."""
    return [m for m in matches if m.other_side and m.claim.id != chosen.claim.id]


@dataclass
class Throttle:
    """Cooling period per (channel, claim) and a sliding-window rate limit per channel, on an injectable clock.

    :meth:`decide` checks both and, when the reply may go, records it at once (no await between check and record,
    so concurrent messages cannot both pass)."""

    cooling: float = COOLING_SECONDS
    rate: int = RATE_LIMIT
    per: float = RATE_PER
    clock: Callable[[], float] = time.monotonic
    _last: dict[tuple[int, int], float] = field(default_factory=dict)
    _recent: dict[int, deque[float]] = field(default_factory=dict)

    def cooling_left(self, channel_id: int, claim_id: int) -> float:
        last = self._last.get((channel_id, claim_id))
        return 0.0 if last is None else max(0.0, last + self.cooling - self.clock())

    def rate_left(self, channel_id: int) -> float:
        """Seconds until the channel may have another reply (0 when it may now)."""
        window = self._window(channel_id)
        return 0.0 if len(window) < self.rate else max(0.0, window[0] + self.per - self.clock())

    def _window(self, channel_id: int) -> deque[float]:
        window = self._recent.setdefault(channel_id, deque())
        now = self.clock()
        while window and window[0] + self.per <= now:
            window.popleft()
        return window

    def decide(self, channel_id: int, claim_id: int) -> str | None:
        """None when the reply may go (and it is recorded), else why not: "cooling" or "rate limit"."""
        if self.cooling_left(channel_id, claim_id) > 0:
            return "cooling"
        if self.rate_left(channel_id) > 0:
            return "rate limit"
        now = self.clock()
        self._last[(channel_id, claim_id)] = now
        self._window(channel_id).append(now)
        self._prune(now)
        return None

    def forget_channel(self, channel_id: int) -> None:
        self._recent.pop(channel_id, None)
        for key in [k for k in self._last if k[0] == channel_id]:
            del self._last[key]

    def _prune(self, now: float) -> None:
        if len(self._last) > 10_000:  # long-running bots: drop entries whose cooling ended
            for key in [k for k, at in self._last.items() if at + self.cooling <= now]:
                del self._last[key]


@dataclass
class Backlog(Generic[T]):
    """Messages waiting to be checked, oldest first, with the time each arrived (on an injectable clock).

    When the bot falls behind it drops rather than piles up: :meth:`add` beyond ``limit`` drops the oldest waiting
    message (the newest are the ones still worth a reply), and :meth:`take` drops every message that waited longer
    than ``max_age`` before handing out the next batch. Dropped messages are returned, so the caller can report them.
    """

    limit: int = BACKLOG_MAX
    max_age: float = MAX_AGE
    clock: Callable[[], float] = time.monotonic
    _waiting: deque[tuple[float, T]] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, item: T) -> T | None:
        """Queue ``item``; returns the message dropped to make room, if any."""
        dropped = self._waiting.popleft()[1] if len(self._waiting) >= self.limit else None
        self._waiting.append((self.clock(), item))
        return dropped

    def take(self, most: int = BATCH_MAX) -> tuple[list[T], list[T]]:
        """(the next batch of at most ``most`` messages, oldest first; the stale messages dropped before it)."""
        stale: list[T] = []
        oldest_fresh = self.clock() - self.max_age
        while self._waiting and self._waiting[0][0] < oldest_fresh:
            stale.append(self._waiting.popleft()[1])
        batch = [self._waiting.popleft()[1] for _ in range(min(most, len(self._waiting)))]
        return batch, stale
