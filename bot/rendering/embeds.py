"""Discord embeds for answers and claims, always within Discord's limits.

Text is cut at a word boundary with an ellipsis and a pointer to the full entry. Embeds never carry
mentions that could ping: the bot sends them with ``AllowedMentions.none()``, and mention syntax in
stored text is shown inert (a zero-width joiner after ``@``) so it doesn't even render as a mention.

Stored text never renders as a link: masked-link syntax (``[text](url)``) in it is escaped. Links come only
from the source and evidence URL fields, http(s) only, with the characters that could end the link
(parentheses, brackets, angle brackets, quotes, spaces) percent-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

import discord

from bot.models import Answer, Claim, EvidenceStatus, Match, Revision
from bot.rendering.summary import IncidentSummary
from bot.rendering.text import match_label, speaker_only_note, who
from bot.validation import format_partial_date

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
MAX_FIELDS = 25

PER_PAGE = 3

STATUS_ICONS = {
    EvidenceStatus.PRESENTED: "🟢",
    EvidenceStatus.NOT_PRESENTED: "🔴",
    EvidenceStatus.PARTIAL: "🟡",
    EvidenceStatus.DISPUTED: "🟠",
    EvidenceStatus.UNKNOWN: "⚪",
}
_MENTION_RE = re.compile(r"@(?:everyone|here)|<@[!&]?\d+>|<#\d+>")
COLOUR = discord.Colour.from_rgb(88, 101, 242)
EMPTY_COLOUR = discord.Colour.light_grey()


def inert(text: str) -> str:
    """Stored text as plain text: mention syntax (@everyone, @here, <@id>, <@&id>) broken, and masked links
    (``[text](url)``) escaped so Discord shows the brackets instead of a link."""
    text = _MENTION_RE.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], text)
    if "](" in text:
        text = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return text


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that cannot break out of ``[title](url)`` (those characters percent-encoded), or None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe="/:?#&=%+,;@!$'*~-._")


def link_text(text: str) -> str:
    """Text for inside ``[…]``: no brackets or backslashes that could end it early, mentions inert."""
    return inert(text.replace("\\", "/").replace("[", "(").replace("]", ")"))


def cut(text: str, limit: int, *, more: str = "…") -> str:
    """``text`` within ``limit`` characters, cut at a word boundary, ending with ``more`` when cut."""
    if len(text) <= limit:
        return text
    room = max(limit - len(more), 0)
    head = text[:room]
    space = head.rfind(" ")
    if space > room * 0.6:
        head = head[:space]
    return head.rstrip(" ,.;:") + more


def evidence_at_a_glance(claim: Claim) -> str:
    return f"{STATUS_ICONS[claim.evidence.status]} {claim.evidence.status.label}"


def claim_field_value(match: Match | None, claim: Claim, *, limit: int = FIELD_VALUE_LIMIT) -> str:
    """The body of one claim: what, quote, when/where, evidence, source, id and confidence.

    When it does not fit, the evidence details, then the quote, then the claim text are cut (in that
    order, each keeping at least a readable start), and the cut claim points to its full entry.
    """
    tail = f"`#{claim.id}`" + (f" · {match_label(match)} ({match.score:.2f})" if match else "")
    when = format_partial_date(claim.said_at) + (f" · {inert(claim.said_where)}" if claim.said_where else "")
    parts = {
        "text": inert(claim.text),
        "quote": inert(claim.quote) if claim.quote else "",
        "details": inert(claim.evidence.details) if claim.evidence.details else "",
    }

    def render() -> str:
        lines = [f"**Claim:** {parts['text']}"]
        if parts["quote"]:
            lines.append(f"> “{parts['quote']}”")
        lines.append(f"**When/where:** {cut(when, 200)}")
        details = f": {parts['details']}" if parts["details"] else ""
        lines.append(f"**Evidence:** {evidence_at_a_glance(claim)}{details}")
        lines.append(f"**Source:** {_source_text(claim)}")
        lines.append(tail)
        return "\n".join(lines)

    pointer = f"… (full entry: `/entry {claim.id}`)"
    for key, keep in (("details", 80), ("quote", 120), ("text", 160)):
        over = len(render()) - limit
        if over <= 0:
            break
        value = parts[key]
        if len(value) > keep:
            more = pointer if key == "text" else "…"
            parts[key] = cut(value, max(len(value) - over, keep), more=more)
    return cut(render(), limit)


def _source_text(claim: Claim) -> str:
    if not claim.sources:
        return "none recorded"
    parts = []
    for source in claim.sources[:3]:
        url = safe_url(source.url)
        if url is None:
            parts.append(cut(inert(source.title or source.url or "untitled"), 200))
            continue
        named = source.title and source.title.strip() != (source.url or "").strip()
        title = cut(link_text(source.title if named else urlsplit(url).netloc), 120)
        parts.append(f"[{title}]({url})")
    return "; ".join(parts)


def _evidence_links(links: Iterable[str]) -> str:
    """Evidence links as bare http(s) URLs (Discord links them); anything else as plain text."""
    return "\n".join(safe_url(link) or inert(link) for link in links)


def field_name(number: int | None, claim: Claim) -> str:
    prefix = f"{number}. " if number is not None else ""
    return cut(prefix + inert(who(claim)), FIELD_NAME_LIMIT)


def answer_embed(answer: Answer, *, page: int = 0, per_page: int = PER_PAGE) -> discord.Embed:
    """One page of an answer; ``page`` is 0-based."""
    if not answer.matches:
        return nothing_matched_embed(answer)
    pages = page_count(answer, per_page)
    page = min(max(page, 0), pages - 1)
    shown = answer.matches[page * per_page : (page + 1) * per_page]
    incidents = []
    for match in answer.matches:
        if match.claim.incident and match.claim.incident.title not in incidents:
            incidents.append(match.claim.incident.title)
    description = ""
    if incidents:
        description = "**Incident:** " + inert(", ".join(incidents)) + "\n"
    note = speaker_only_note(answer)
    if note:
        description += note + "\n"
    description += "Claims are attributed to who made them; the ledger does not rule on truth."
    embed = discord.Embed(
        title=cut("Claims: " + inert(answer.question.replace("\n", " ")), TITLE_LIMIT),
        description=cut(description, DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    for offset, match in enumerate(shown):
        number = page * per_page + offset + 1
        embed.add_field(name=field_name(number, match.claim), value=claim_field_value(match, match.claim), inline=False)
    footer = f"{len(answer.matches)} matching claim(s) · page {page + 1}/{pages} · {answer.took_ms:.0f} ms"
    embed.set_footer(text=cut(footer, FOOTER_LIMIT))
    return fit(embed)


def page_count(answer: Answer, per_page: int = PER_PAGE) -> int:
    return max(1, -(-len(answer.matches) // per_page))


def nothing_matched_embed(answer: Answer) -> discord.Embed:
    description = "No claim in this server's ledger matches that question."
    if answer.suggestions:
        description += "\n**Did you mean:** " + inert(", ".join(answer.suggestions)) + "?"
    description += "\nModerators can add claims with `/claim add`."
    return discord.Embed(
        title=cut("Claims: " + inert(answer.question.replace("\n", " ")), TITLE_LIMIT),
        description=cut(description, DESCRIPTION_LIMIT),
        colour=EMPTY_COLOUR,
    )


def claim_embed(claim: Claim) -> discord.Embed:
    """A single claim in full (as far as the limits allow), for /claim show and /entry.

    The status is never lost: a removed claim says so in its title and keeps its Removed field, and the tags
    stay; when the whole is over Discord's 6,000 characters the long text fields are cut instead."""
    removed = " · Removed" if claim.removed else ""
    embed = discord.Embed(
        title=cut(f"Claim #{claim.id}" + (f" [{inert(claim.ref)}]" if claim.ref else ""), TITLE_LIMIT - 10) + removed,
        description=cut(inert(claim.text), DESCRIPTION_LIMIT),
        colour=EMPTY_COLOUR if claim.removed else COLOUR,
    )
    embed.add_field(name="Who", value=cut(inert(who(claim)), FIELD_VALUE_LIMIT), inline=False)
    if claim.quote:
        embed.add_field(name="Quote", value=cut(f"“{inert(claim.quote)}”", FIELD_VALUE_LIMIT), inline=False)
    when = format_partial_date(claim.said_at) + (f" · {claim.said_where}" if claim.said_where else "")
    embed.add_field(name="When/where", value=cut(inert(when), FIELD_VALUE_LIMIT), inline=False)
    evidence = evidence_at_a_glance(claim)
    if claim.evidence.details:
        evidence += f": {inert(claim.evidence.details)}"
    if claim.evidence.links:
        evidence += "\n" + _evidence_links(claim.evidence.links)
    embed.add_field(name="Evidence", value=cut(evidence, FIELD_VALUE_LIMIT), inline=False)
    embed.add_field(name="Source", value=cut(_source_text(claim), FIELD_VALUE_LIMIT), inline=False)
    if claim.incident:
        embed.add_field(name="Incident", value=cut(inert(claim.incident.title), FIELD_VALUE_LIMIT), inline=True)
    if claim.tags:
        embed.add_field(name="Tags", value=cut(inert(", ".join(claim.tags)), FIELD_VALUE_LIMIT), inline=True)
    if claim.removed:
        reason = inert(claim.removed_reason or "") or "no reason given"
        embed.add_field(name="Removed", value=cut(reason, FIELD_VALUE_LIMIT), inline=False)
    return shrink_to_fit(embed, ("description", "Quote", "Evidence", "Source", "Who", "When/where", "Incident"))


def shrink_to_fit(embed: discord.Embed, order: tuple[str, ...], *, keep: int = 120) -> discord.Embed:
    """Cut the description and the named fields, in ``order``, until the embed is within Discord's total; fields
    not named (status, tags) are never cut or dropped. :func:`fit` stays the last guard."""
    for key in order:
        over = len(embed) - TOTAL_LIMIT
        if over <= 0:
            break
        if key == "description":
            if embed.description and len(embed.description) > keep:
                embed.description = cut(embed.description, max(len(embed.description) - over, keep))
            continue
        for index, field in enumerate(embed.fields):
            if field.name == key and field.value and len(field.value) > keep:
                value = cut(field.value, max(len(field.value) - over, keep))
                embed.set_field_at(index, name=field.name, value=value, inline=bool(field.inline))
                break
    return fit(embed)


def fit(embed: discord.Embed) -> discord.Embed:
    """Last guard: drop trailing fields until the whole embed is within Discord's total limit."""
    while len(embed) > TOTAL_LIMIT and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > TOTAL_LIMIT and embed.description:
        embed.description = cut(embed.description, max(len(embed.description) - (len(embed) - TOTAL_LIMIT), 0))
    return embed


def embed_problems(embed: discord.Embed) -> list[str]:
    """Every Discord limit the embed breaks (empty when it is valid). Used by tests and as a debug check."""
    problems = []
    data = embed.to_dict()
    if len(data.get("title", "")) > TITLE_LIMIT:
        problems.append("title")
    if len(data.get("description", "")) > DESCRIPTION_LIMIT:
        problems.append("description")
    fields = data.get("fields", [])
    if len(fields) > MAX_FIELDS:
        problems.append("field count")
    for field in fields:
        if not 0 < len(field["name"]) <= FIELD_NAME_LIMIT:
            problems.append("field name")
        if not 0 < len(field["value"]) <= FIELD_VALUE_LIMIT:
            problems.append("field value")
    if len(data.get("footer", {}).get("text", "")) > FOOTER_LIMIT:
        problems.append("footer")
    if len(embed) > TOTAL_LIMIT:
        problems.append("total")
    return problems


def summary_embed(summary: IncidentSummary, *, updated_at: str) -> discord.Embed:
    """The pinned incident summary: what happened, the positions and who holds them, newest changes."""
    incident = summary.incident
    facts = " · ".join(x for x in (format_partial_date(incident.date), incident.place) if x)
    description = f"**{inert(facts)}**\n" if facts else ""
    if incident.summary:
        description += inert(incident.summary) + "\n"
    description += f"{summary.claim_count} claim(s) in the ledger. Positions are attributed, not verified."
    embed = discord.Embed(
        title=cut(f"📌 {inert(incident.title)}", TITLE_LIMIT),
        description=cut(description, DESCRIPTION_LIMIT),
        colour=COLOUR,
    )
    for position in summary.positions:
        speakers = ", ".join(position.speakers) or "unattributed"
        value = f"{inert(speakers)} — {STATUS_ICONS[position.status]} {position.status.label}"
        embed.add_field(
            name=cut(f"{inert(position.label)} ({position.claims})", FIELD_NAME_LIMIT),
            value=cut(value, FIELD_VALUE_LIMIT),
            inline=False,
        )
    if summary.changes:
        embed.add_field(
            name="Newest changes", value=cut(inert("\n".join(summary.changes)), FIELD_VALUE_LIMIT), inline=False
        )
    embed.set_footer(text=f"Last updated {updated_at} · /ask to see every claim with its source")
    return fit(embed)


def history_lines(revisions: list[Revision]) -> list[str]:
    lines = []
    for revision in revisions:
        changed = ""
        if revision.old and revision.new:
            keys = [k for k in revision.new if revision.new.get(k) != revision.old.get(k)]
            changed = ": " + ", ".join(keys) if keys else ""
        lines.append(
            f"`{revision.at[:16].replace('T', ' ')}` **{revision.action}** by {inert(revision.actor)}{changed}"
        )
    return lines
