"""The emulator's rate limiter on its own (``tests/emulator/ratelimits.py``): no server, no client, a hand-moved
clock."""

from __future__ import annotations

import pytest

from tests.emulator.ratelimits import (
    RATE_LIMITED_MESSAGE,
    RateLimits,
    bucket_hash,
    is_interaction_endpoint,
    major_parameter,
    route_template,
)

MESSAGES_1 = "/channels/111/messages"
MESSAGES_2 = "/channels/222/messages"


def test_route_templates_replace_ids_tokens_and_emoji() -> None:
    assert route_template("/channels/1/messages/2") == "/channels/:id/messages/:id"
    assert route_template("/channels/1/messages/2/reactions/%E2%9C%85/@me") == (
        "/channels/:id/messages/:id/reactions/:emoji/@me"
    )
    assert route_template("/webhooks/1/aW50ZXJhY3Rpb24/messages/@original") == (
        "/webhooks/:id/:token/messages/@original"
    )
    assert route_template("/interactions/5/tok/callback") == "/interactions/:id/:token/callback"
    assert route_template("/users/@me") == "/users/@me"


def test_major_parameters_are_the_top_level_resources() -> None:
    assert major_parameter("/channels/1/messages/2") == "channel:1"
    assert major_parameter("/guilds/9/members/3") == "guild:9"
    assert major_parameter("/webhooks/4/tok/messages/@original") == "webhook:4+tok"
    assert major_parameter("/applications/4/commands") == ""
    assert major_parameter("/users/@me") == ""


def test_interaction_endpoints() -> None:
    assert is_interaction_endpoint("/interactions/5/tok/callback")
    assert is_interaction_endpoint("/webhooks/4/tok")
    assert not is_interaction_endpoint(MESSAGES_1)


def test_window_counts_down_then_limits_with_the_bucket_headers() -> None:
    limits = RateLimits()
    limits.set("message_create", limit=2, per=4.0)
    first = limits.check("POST", MESSAGES_1, 100.0)
    second = limits.check("POST", MESSAGES_1, 101.0)
    third = limits.check("POST", MESSAGES_1, 101.5)
    assert not first.limited and not second.limited and third.limited
    assert [v.headers["X-RateLimit-Remaining"] for v in (first, second, third)] == ["1", "0", "0"]
    assert {v.headers["X-RateLimit-Limit"] for v in (first, second, third)} == {"2"}
    assert {v.headers["X-RateLimit-Bucket"] for v in (first, second, third)} == {bucket_hash("message_create")}
    assert [v.headers["X-RateLimit-Reset-After"] for v in (first, second, third)] == ["4.000", "3.000", "2.500"]
    assert third.status == 429
    assert third.body == {"message": RATE_LIMITED_MESSAGE, "retry_after": 2.5, "global": False}
    assert third.headers["Retry-After"] == "3" and third.headers["X-RateLimit-Scope"] == "user"
    assert third.headers["Via"] and "X-RateLimit-Global" not in third.headers
    assert "X-RateLimit-Scope" not in first.headers and "Retry-After" not in first.headers
    [hit] = limits.hits
    assert (hit.bucket, hit.major, hit.retry_after, hit.is_global) == ("message_create", "channel:111", 2.5, False)
    # the window closes 4 s after its first request, not after the last one
    again = limits.check("POST", MESSAGES_1, 104.0)
    assert not again.limited and again.headers["X-RateLimit-Remaining"] == "1"


def test_a_refused_request_does_not_use_the_window() -> None:
    limits = RateLimits()
    limits.set("message_create", limit=1, per=1.0)
    assert not limits.check("POST", MESSAGES_1, 0.0).limited
    assert all(limits.check("POST", MESSAGES_1, 0.1 * i).limited for i in range(1, 10))
    assert not limits.check("POST", MESSAGES_1, 1.0).limited


def test_channels_count_apart_under_one_bucket_hash() -> None:
    limits = RateLimits()
    limits.set("message_create", limit=1, per=10.0)
    one = limits.check("POST", MESSAGES_1, 0.0)
    two = limits.check("POST", MESSAGES_2, 0.0)
    assert not one.limited and not two.limited
    assert one.headers["X-RateLimit-Bucket"] == two.headers["X-RateLimit-Bucket"]
    assert limits.check("POST", MESSAGES_1, 1.0).limited and limits.check("POST", MESSAGES_2, 1.0).limited


def test_routes_count_apart_and_message_ids_are_minor() -> None:
    limits = RateLimits()
    limits.set("message_edit", limit=2, per=10.0)
    create = limits.check("POST", MESSAGES_1, 0.0)
    edits = [limits.check("PATCH", f"{MESSAGES_1}/{i}", 0.0) for i in (7, 8, 9)]
    assert not create.limited and create.headers["X-RateLimit-Remaining"] == "4"
    assert [e.limited for e in edits] == [False, False, True], "edits of different messages share the channel's bucket"
    assert edits[0].headers["X-RateLimit-Bucket"] != create.headers["X-RateLimit-Bucket"]


def test_pins_share_a_bucket_across_the_legacy_and_new_paths() -> None:
    limits = RateLimits()
    limits.set("pin", limit=1, per=10.0)
    assert not limits.check("PUT", "/channels/1/messages/pins/5", 0.0).limited
    assert limits.check("PUT", "/channels/1/pins/6", 0.0).limited
    assert not limits.check("DELETE", "/channels/1/pins/5", 0.0).limited, "unpin is a bucket of its own"


def test_unnamed_routes_get_a_bucket_of_their_own() -> None:
    limits = RateLimits(default_limit=1, default_per=10.0)
    channel = limits.check("GET", "/channels/1", 0.0)
    guild = limits.check("GET", "/guilds/1", 0.0)
    assert not channel.limited and not guild.limited
    assert channel.headers["X-RateLimit-Bucket"] == bucket_hash("GET /channels/:id")
    assert limits.check("GET", "/channels/1", 1.0).limited
    assert limits.bucket_for("GET", "/channels/1") == ("GET /channels/:id", 1, 10.0)


def test_global_limit_spans_routes_and_spares_interaction_endpoints() -> None:
    limits = RateLimits(global_limit=3, global_per=1.0)
    paths = [MESSAGES_1, MESSAGES_2, "/users/@me"]
    assert not any(limits.check("GET", path, 0.0).limited for path in paths)
    over = limits.check("POST", MESSAGES_2, 0.25)
    assert over.limited and over.body == {"message": RATE_LIMITED_MESSAGE, "retry_after": 0.75, "global": True}
    assert over.headers["X-RateLimit-Global"] == "true" and over.headers["X-RateLimit-Scope"] == "global"
    assert over.headers["Retry-After"] == "1" and "X-RateLimit-Bucket" not in over.headers
    assert limits.hits[-1].is_global
    assert not limits.check("POST", "/interactions/5/tok/callback", 0.5).limited
    assert not limits.check("PATCH", "/webhooks/4/tok/messages/@original", 0.5).limited
    assert not limits.check("POST", MESSAGES_2, 1.0).limited, "a new second"


def test_changing_and_disabling() -> None:
    limits = RateLimits()
    with pytest.raises(KeyError):
        limits.set("no_such_bucket", limit=1)
    with pytest.raises(ValueError):
        limits.set("message_create", limit=0)
    limits.set("message_create", limit=1, per=60.0)
    assert not limits.check("POST", MESSAGES_1, 0.0).limited
    assert limits.check("POST", MESSAGES_1, 1.0).limited
    limits.reset()
    assert not limits.check("POST", MESSAGES_1, 2.0).limited
    limits.enabled = False
    verdict = limits.check("POST", MESSAGES_1, 3.0)
    assert not verdict.limited and verdict.headers == {}


def test_defaults_are_per_instance() -> None:
    lowered = RateLimits()
    lowered.set("message_create", limit=1)
    assert RateLimits().bucket_for("POST", MESSAGES_1)[1] == 5
