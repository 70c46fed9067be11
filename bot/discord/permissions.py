"""Who may change the ledger. Pure: Discord permission bits and role ids in, a yes/no out."""

from __future__ import annotations

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MODERATOR_ROLE_SETTING = "moderator_role"


def is_moderator(permissions: int, role_ids: set[int], moderator_role: int | None) -> bool:
    """Manage Server (or Administrator), or the server's configured moderator role."""
    if permissions & (ADMINISTRATOR | MANAGE_GUILD):
        return True
    return moderator_role is not None and moderator_role in role_ids


def refusal(moderator_role: int | None) -> str:
    extra = f" or the <@&{moderator_role}> role" if moderator_role else ""
    return f"Only moderators can change the ledger: you need the Manage Server permission{extra}."
