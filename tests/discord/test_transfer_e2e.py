"""/ledger import and /ledger export through the emulator."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.emulator import MANAGE_GUILD, DiscordEmulator, EmulatorError, Guild, Member
from tests.harness import Running

CSV = (
    "ref,incident,speaker,speaker_role,claim,said_at,evidence_status,evidence,source_url,source_title\n"
    "dam-1,Dam failure,Jane Mayor,Mayor,The mayor said the dam failed because of sabotage.,2024-05-02,"
    "not presented,No evidence shown,https://news.example/dam,Dam report\n"
    "dam-2,Dam failure,River Authority,,The river authority said the dam failed under record rainfall.,2024-05-03,"
    "partial,Rainfall data published,https://news.example/rain,Rain report\n"
)


async def start_import(emu: DiscordEmulator, guild: Guild, mod: Member, name: str, data: bytes) -> dict:
    inter = await emu.slash(guild.id, guild.channel_id, mod.id, "ledger import", {"file": (name, data, "text/csv")})
    return await inter.wait_message(timeout=5)


async def test_import_preview_confirm_and_ask(
    emu: DiscordEmulator, guild: Guild, mod: Member, running: Running
) -> None:
    preview = await start_import(emu, guild, mod, "dam.csv", CSV.encode())
    fields = {f["name"]: f["value"] for f in preview["embeds"][0]["fields"]}
    assert (fields["New"], fields["Updated"], fields["Invalid"]) == ("2", "0", "0")
    assert await running.service.read(lambda ledger: ledger.find_speaker(guild.id, "Jane Mayor")) is None
    other = emu.add_member(guild.id, "other-mod", permissions=MANAGE_GUILD)
    with pytest.raises(EmulatorError, match="ephemeral"):
        await emu.click(preview, "import:confirm", other.id)  # nobody else sees an ephemeral preview
    confirmed = await emu.click(preview, "import:confirm", mod.id)
    await confirmed.wait_response()
    await emu.wait_until(lambda: preview["content"].startswith("Imported 2 claims"), timeout=5, what="the summary")
    member = emu.add_member(guild.id, "reader")
    inter = await emu.slash(guild.id, guild.channel_id, member.id, "ask", {"question": "why did the dam fail"})
    answer = await inter.wait_message()
    names = " ".join(f["name"] for f in answer["embeds"][0]["fields"])
    assert "Jane Mayor" in names and "River Authority" in names


async def test_a_long_import_reports_after_the_slash_token_expired(
    emu: DiscordEmulator, guild: Guild, mod: Member, running: Running
) -> None:
    """The preview waits 14 minutes for Import, the import 2 more: the summary still arrives (the click's token)."""
    preview = await start_import(emu, guild, mod, "dam.csv", CSV.encode())
    emu.advance(14 * 60)
    hold = asyncio.create_task(running.service.write(lambda ledger: time.sleep(0.3)))
    await asyncio.sleep(0.05)
    confirmed = await emu.click(preview, "import:confirm", mod.id)
    await confirmed.wait_response()
    emu.advance(2 * 60)
    await hold
    await emu.wait_until(lambda: preview["content"].startswith("Imported 2 claims"), timeout=5, what="the summary")
    assert not [r for r in emu.requests if r.code == 50027]


async def test_confirm_rechecks_the_moderator(
    emu: DiscordEmulator, guild: Guild, mod: Member, running: Running
) -> None:
    role = emu.add_role(guild.id, "Importers")
    checker = emu.add_member(guild.id, "checker", roles=[role])
    inter = await emu.slash(guild.id, guild.channel_id, mod.id, "ledger settings moderator-role", {"role": role})
    await inter.wait_message()
    preview = await start_import(emu, guild, checker, "dam.csv", CSV.encode())
    emu.take_role(guild.id, checker.id, role)
    refused = await emu.click(preview, "import:confirm", checker.id)
    assert "Only moderators can change the ledger" in (await refused.wait_message())["content"]
    assert preview["embeds"] and "Importing" not in preview["content"]
    assert await running.service.read(lambda ledger: ledger.find_speaker(guild.id, "Jane Mayor")) is None


async def test_invalid_rows_block_the_import(emu: DiscordEmulator, guild: Guild, mod: Member, running: Running) -> None:
    bad = CSV + "dam-3,Dam failure,X,,Bad date,someday,unknown,,,\n"
    preview = await start_import(emu, guild, mod, "dam.csv", bad.encode())
    fields = {f["name"]: f["value"] for f in preview["embeds"][0]["fields"]}
    assert fields["Invalid"] == "1"
    assert any("line 4" in v for v in fields.values())
    confirm = next(c for row in preview["components"] for c in row["components"] if c["custom_id"] == "import:confirm")
    assert confirm["disabled"]
    cancelled = await emu.click(preview, "import:cancel", mod.id)
    await cancelled.wait_response()
    assert await running.service.read(lambda ledger: ledger.find_speaker(guild.id, "Jane Mayor")) is None


async def test_export_attaches_the_ledger(emu: DiscordEmulator, guild: Guild, mod: Member, running: Running) -> None:
    inter = await emu.slash(guild.id, guild.channel_id, mod.id, "ledger export", {"format": "claimreview"})
    message = await inter.wait_message(timeout=5)
    (attached,) = message["files"]
    assert attached["filename"] == "claim-ledger.jsonld"
    document = json.loads(attached["data"])
    assert document["@graph"] and document["@graph"][0]["@type"] in ("Claim", "ClaimReview")
    reviews = [n for n in document["@graph"] if n["@type"] == "ClaimReview"]
    assert reviews[0]["author"]["name"] == guild.name


async def test_export_over_the_attachment_limit_is_refused_with_its_size(
    emu: DiscordEmulator, guild: Guild, mod: Member, running: Running
) -> None:
    """The limit comes with the interaction (``attachment_size_limit``, the server's boost tier): over it, the bot
    says so instead of uploading a file Discord would refuse (413)."""
    emu.attachment_size_limit = 2048
    inter = await emu.slash(guild.id, guild.channel_id, mod.id, "ledger export", {})
    message = await inter.wait_message(timeout=5)
    await emu.wait_until(lambda: "over Discord" in message["content"], timeout=5, what="the refusal")
    assert message["content"].endswith(
        "over Discord's 2 KB attachment limit here. Export one incident at a time, or use `claimledger export` on the"
        " server."
    )
    assert message["files"] == [] and not [r for r in emu.requests if r.status == 413]


async def test_non_moderator_cannot_export(emu: DiscordEmulator, guild: Guild, running: Running) -> None:
    member = emu.add_member(guild.id, "member")
    inter = await emu.slash(guild.id, guild.channel_id, member.id, "ledger export", {})
    assert "Only moderators" in (await inter.wait_message())["content"]
