"""Discord's REST rate limits: per-route buckets per top-level resource, and the global limit.

What the docs say (``topics/rate-limits``; ``interactions/receiving-and-responding``):

- Limits are per bot, per route (the HTTP method may count) and per *top-level resource* in the path: a channel
  (``channel_id``), a guild (``guild_id``) or a webhook (``webhook_id`` or ``webhook_id + webhook_token``).
  ``/channels/1/messages`` and ``/channels/2/messages`` count separately but answer the same
  ``X-RateLimit-Bucket`` ("non-inclusive of top-level resources"); routes may share a bucket.
- Answers carry ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds), ``-Reset-After`` (seconds, with
  decimals) and ``-Bucket``. Over the limit: 429 with ``{"message": "You are being rate limited.", "retry_after":
  <float>, "global": false}``, ``Retry-After`` and ``X-RateLimit-Scope: user`` plus the bucket headers.
- Global limit: 50 requests per second per bot, whatever the route: 429 with ``"global": true``,
  ``X-RateLimit-Global: true`` and ``X-RateLimit-Scope: global`` (the docs' example has no bucket headers).
  Interaction endpoints (the callback, and the webhook routes with an interaction token) are not bound to it;
  interaction webhooks "share the same rate limit properties as normal webhooks".

The docs give no numbers per route ("should not be hard coded"): the defaults in :data:`DEFAULT_ROUTE_LIMITS` are
the emulator's own, small enough to matter for a bot that bursts in one channel; tests lower them with
:meth:`RateLimits.set`. Each bucket is a fixed window that opens with its first request and holds ``limit``
requests for ``per`` seconds, on the emulator's clock (``emu.now()``: ``emu.advance()`` moves it too).

Every 429 also carries ``Via: 1.1 google`` as Discord's do (behind Google's front end): discord.py takes a 429
without ``Via`` for a Cloudflare ban and gives up instead of waiting.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

RATE_LIMITED_MESSAGE = "You are being rate limited."


@dataclass
class RouteLimit:
    """``limit`` requests per ``per`` seconds for the routes a rule matches, per top-level resource."""

    methods: frozenset[str]
    template: re.Pattern[str]
    """Full-matched on the route template (:func:`route_template`), e.g. ``/channels/:id/messages``."""
    limit: int
    per: float

    def matches(self, method: str, template: str) -> bool:
        return method in self.methods and self.template.fullmatch(template) is not None


def rule(methods: Iterable[str], template: str, limit: int, per: float) -> RouteLimit:
    return RouteLimit(frozenset(m.upper() for m in methods), re.compile(template), limit, per)


DEFAULT_ROUTE_LIMITS: dict[str, RouteLimit] = {
    "message_create": rule(["POST"], r"/channels/:id/messages", 5, 5.0),
    "message_edit": rule(["PATCH"], r"/channels/:id/messages/:id", 5, 5.0),
    "message_delete": rule(["DELETE"], r"/channels/:id/messages/:id", 5, 1.0),
    "pin": rule(["PUT"], r"/channels/:id/(messages/)?pins/:id", 5, 5.0),
    "unpin": rule(["DELETE"], r"/channels/:id/(messages/)?pins/:id", 5, 5.0),
    "reaction_add": rule(["PUT"], r"/channels/:id/messages/:id/reactions/:emoji/@me", 1, 0.25),
    "reaction_remove": rule(["DELETE"], r"/channels/:id/messages/:id/reactions/:emoji/@me", 1, 0.25),
    "typing": rule(["POST"], r"/channels/:id/typing", 5, 5.0),
    # one bucket per webhook id + token for every webhook route (discord.py queues them that way too)
    "webhook": rule(["GET", "POST", "PATCH", "DELETE"], r"/webhooks/:id/:token(/.*)?", 5, 2.0),
    # per interaction (the emulator's choice: the docs name no bucket; 40060 already allows one response)
    "interaction_callback": rule(["POST"], r"/interactions/:id/:token/callback", 5, 5.0),
}
"""Named buckets (the name also makes the ``X-RateLimit-Bucket`` hash). Routes that match none get a bucket of
their own (method + template) with :attr:`RateLimits.default_limit` per :attr:`RateLimits.default_per`."""


def route_template(path: str) -> str:
    """The path with its ids, tokens and emoji replaced: ``/channels/1/messages/2`` → ``/channels/:id/messages/:id``,
    ``/webhooks/1/abc/messages/@original`` → ``/webhooks/:id/:token/messages/@original``."""
    parts = path.strip("/").split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index else ""
        if index == 2 and parts[0] in ("webhooks", "interactions"):
            out.append(":token")
        elif previous == "reactions":
            out.append(":emoji")
        elif part.isdigit():
            out.append(":id")
        else:
            out.append(part)
    return "/" + "/".join(out)


def major_parameter(path: str) -> str:
    """The top-level resource the limit is counted for: ``channel:1``, ``guild:1``, ``webhook:1+token`` (the
    emulator also counts interaction callbacks per ``interaction:ID``), or ``""`` for none."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or not parts[1].isdigit():
        return ""
    kind = {"channels": "channel", "guilds": "guild", "webhooks": "webhook", "interactions": "interaction"}
    if parts[0] not in kind:
        return ""
    if parts[0] == "webhooks" and len(parts) > 2:
        return f"webhook:{parts[1]}+{parts[2]}"
    return f"{kind[parts[0]]}:{parts[1]}"


def is_interaction_endpoint(path: str) -> bool:
    """Not bound to the global limit: the interaction callback, and the webhook routes of an interaction token
    (every webhook of the emulator is one: followups and original-response edits)."""
    parts = path.strip("/").split("/")
    return (parts[0] == "interactions" and parts[-1] == "callback") or (parts[0] == "webhooks" and len(parts) > 2)


def bucket_hash(name: str) -> str:
    return hashlib.sha256(f"emulated-bucket:{name}".encode()).hexdigest()[:32]


@dataclass
class Window:
    """A fixed window: opens with its first request, holds ``limit`` requests until ``opened + per``."""

    opened: float = -math.inf
    used: int = 0

    def ends(self, per: float) -> float:
        return self.opened + per

    def take(self, now: float, limit: int, per: float) -> bool:
        if now >= self.ends(per):
            self.opened, self.used = now, 0
        if self.used >= limit:
            return False
        self.used += 1
        return True


@dataclass
class RateLimitHit:
    """A request the emulator answered with a 429 of its own (not an injected ``rate_limit_next``)."""

    at: float
    method: str
    path: str
    bucket: str
    """The bucket's name (``message_create``, ``global``, or ``METHOD /template`` for an unnamed one)."""
    major: str
    retry_after: float

    @property
    def is_global(self) -> bool:
        return self.bucket == "global"


@dataclass
class Verdict:
    """What :meth:`RateLimits.check` decided: the headers every answer carries, and a 429 body when limited."""

    headers: dict[str, str]
    status: int = 0
    """429 when limited, else 0 (the route answers)."""
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        return self.status == 429


@dataclass
class RateLimits:
    """The emulator's rate limiter (``emu.rate_limits``). Change ``routes`` with :meth:`set`, ``global_limit`` /
    ``global_per`` directly; ``enabled = False`` turns it off (no headers, no 429s)."""

    routes: dict[str, RouteLimit] = field(default_factory=lambda: copy.deepcopy(DEFAULT_ROUTE_LIMITS))
    default_limit: int = 50
    default_per: float = 1.0
    global_limit: int = 50
    global_per: float = 1.0
    enabled: bool = True
    hits: list[RateLimitHit] = field(default_factory=list)
    """Every 429 the limiter answered, in order."""
    _windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    _global: Window = field(default_factory=Window)

    def set(self, name: str, *, limit: int | None = None, per: float | None = None) -> None:
        """Change a named bucket (``emu.rate_limits.set("message_create", limit=2, per=1.0)``); windows already open
        keep their start and count but use the new numbers from the next request."""
        if name not in self.routes:
            raise KeyError(f"no rate limit bucket named {name!r}: {sorted(self.routes)}")
        if limit is not None:
            if limit < 1:
                raise ValueError("a bucket holds at least one request")
            self.routes[name].limit = limit
        if per is not None:
            if per <= 0:
                raise ValueError("a window lasts some time")
            self.routes[name].per = per

    def bucket_for(self, method: str, path: str) -> tuple[str, int, float]:
        """The bucket name, limit and window length for a request."""
        template = route_template(path)
        for name, route in self.routes.items():
            if route.matches(method, template):
                return name, route.limit, route.per
        return f"{method} {template}", self.default_limit, self.default_per

    def hits_in(self, bucket: str, major: str | None = None) -> list[RateLimitHit]:
        return [h for h in self.hits if h.bucket == bucket and (major is None or h.major == major)]

    def reset(self) -> None:
        """Close every window (the counts start again); ``hits`` is kept."""
        self._windows.clear()
        self._global = Window()

    def check(self, method: str, path: str, now: float) -> Verdict:
        """Count one request at ``now`` (the emulator's clock) and say how to answer it."""
        if not self.enabled:
            return Verdict({})
        if not is_interaction_endpoint(path) and not self._global.take(now, self.global_limit, self.global_per):
            retry_after = self._global.ends(self.global_per) - now
            return self._limited(method, path, "global", "", now, retry_after, {})
        name, limit, per = self.bucket_for(method, path)
        major = major_parameter(path)
        window = self._windows.setdefault((name, major), Window())
        allowed = window.take(now, limit, per)
        reset_after = max(window.ends(per) - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - window.used, 0)),
            "X-RateLimit-Reset": f"{_ceil_ms(time.time() + reset_after):.3f}",
            "X-RateLimit-Reset-After": f"{_ceil_ms(reset_after):.3f}",
            "X-RateLimit-Bucket": bucket_hash(name),
        }
        if allowed:
            return Verdict(headers)
        return self._limited(method, path, name, major, now, reset_after, headers)

    def _limited(
        self, method: str, path: str, bucket: str, major: str, now: float, retry_after: float, headers: dict[str, str]
    ) -> Verdict:
        retry_after = _ceil_ms(max(retry_after, 0.001))
        is_global = bucket == "global"
        self.hits.append(RateLimitHit(now, method, path, bucket, major, retry_after))
        headers = {
            **headers,
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": RATE_LIMITED_MESSAGE, "retry_after": retry_after, "global": is_global}
        return Verdict(headers, 429, body)


def _ceil_ms(seconds: float) -> float:
    """Round up to the millisecond: a client that waits what the headers say is never early."""
    return math.ceil(seconds * 1000 - 1e-6) / 1000
