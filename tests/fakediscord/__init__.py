"""A Discord API emulator for end-to-end tests of the real discord.py client (see server.py).

async with DiscordEmulator() as emu:
    emu.patch(monkeypatch)                   # discord.py now talks to 127.0.0.1
    guild = emu.add_guild("OSINT Club")      # guild.id, guild.channel_id
    mod = emu.add_member(guild.id, "mod", permissions=MANAGE_GUILD)
    ... start the bot, wait for ready, sync ...
    inter = await emu.slash(guild.id, guild.channel_id, mod.id, "ask", {"question": "..."})
    message = await inter.wait_message()     # the embed/content the member sees
    choices = await emu.autocomplete(guild.id, channel, user, "ask", {"question": "zel"}, focused="question")
    inter = await emu.context_menu(guild.id, channel, user, "Find claims", message_dict)
    inter = await emu.click(message_dict, "pager:next", user)      # buttons; values=[...] for selects
    inter = await emu.submit_modal(opened_by, user, {"custom_id or label": "value"})
    await emu.post_message(channel, user, "<@bot> question", mention_bot=True)
    emu.requests / emu.requests_to("PATCH", r"/channels/.*/messages/") / await emu.wait_for(pred)
    emu.fail_next("PUT", r"/pins/", status=403, code=50013); emu.rate_limit_next("POST", r"/callback")
    await emu.disconnect_gateway()           # op 7: the client reconnects and RESUMEs
"""

from .rules import ADMINISTRATOR, ALL_PERMISSIONS, PIN_MESSAGES, SEND_MESSAGES
from .server import CommandHiddenError, DiscordEmulator, EmulatorTimeout, Guild, Interaction, Member, Request

MANAGE_GUILD = 1 << 5

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "MANAGE_GUILD",
    "PIN_MESSAGES",
    "SEND_MESSAGES",
    "CommandHiddenError",
    "DiscordEmulator",
    "EmulatorTimeout",
    "Guild",
    "Interaction",
    "Member",
    "Request",
]
