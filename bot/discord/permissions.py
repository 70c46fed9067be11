"""Who may change the ledger, and what the bot itself needs in a channel. Pure: Discord permission bits and role
ids in, a yes/no or the names of what is missing out."""

from __future__ import annotations

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
SEND_MESSAGES_IN_THREADS = 1 << 38
PIN_MESSAGES = 1 << 51
MODERATOR_ROLE_SETTING = "moderator_role"

PERMISSION_NAMES: dict[int, str] = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    EMBED_LINKS: "Embed Links",
    READ_MESSAGE_HISTORY: "Read Message History",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    PIN_MESSAGES: "Pin Messages",
}
"""The channel permissions the bot checks, by the names Discord's server settings show."""

POST_EMBEDS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
"""To post a message whose point is its embed (a summary, an audit note): without Embed Links Discord drops the
embed silently, and a message left empty is refused."""
POST_SUMMARY = POST_EMBEDS | PIN_MESSAGES
REPLY_WITH_EMBEDS = POST_EMBEDS | READ_MESSAGE_HISTORY
"""To reply to a member's message with an embed: a reply needs Read Message History (else 403, code 160002)."""


def in_thread(needed: int) -> int:
    """What ``needed`` means in a thread: Send Messages has no effect there, Send Messages in Threads takes its place
    (the rest comes from the parent channel)."""
    if needed & SEND_MESSAGES:
        return (needed & ~SEND_MESSAGES) | SEND_MESSAGES_IN_THREADS
    return needed


def is_moderator(permissions: int, role_ids: set[int], moderator_role: int | None) -> bool:
    """Manage Server (or Administrator), or the server's configured moderator role."""
    if permissions & (ADMINISTRATOR | MANAGE_GUILD):
        return True
    return moderator_role is not None and moderator_role in role_ids


def refusal(moderator_role: int | None) -> str:
    extra = f" or the <@&{moderator_role}> role" if moderator_role else ""
    return f"Only moderators can change the ledger: you need the Manage Server permission{extra}."


def missing_permissions(granted: int, needed: int) -> list[str]:
    """The names of the ``needed`` permissions that ``granted`` lacks (none with Administrator), in Discord's order."""
    if granted & ADMINISTRATOR:
        return []
    return [name for bit, name in sorted(PERMISSION_NAMES.items()) if needed & bit and not granted & bit]


def name_permissions(names: list[str]) -> str:
    """``**Embed Links**``, ``**Embed Links** and **Pin Messages**``, ``**A**, **B** and **C**``."""
    bold = [f"**{name}**" for name in names]
    if len(bold) <= 1:
        return "".join(bold)
    return ", ".join(bold[:-1]) + " and " + bold[-1]


def permissions_problem(missing: list[str], channel: str, doing: str) -> str:
    """One sentence for a moderator: what the bot cannot do where, and which permissions would fix it."""
    noun = "permission" if len(missing) == 1 else "permissions"
    return (
        f"I can't {doing} in {channel}: I need the {name_permissions(missing)} {noun} there."
        " Ask an admin to grant it to my role or in that channel's settings."
    )
