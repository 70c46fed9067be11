"""Two servers share one database and never see or change each other's ledger."""

from __future__ import annotations

from pathlib import Path

from tests.emulator import MANAGE_GUILD, DiscordEmulator
from tests.harness import running_bot


async def test_ids_from_one_server_are_not_found_in_another(emu: DiscordEmulator, db_path: Path) -> None:
    a, b = emu.add_guild("Server A"), emu.add_guild("Server B")
    mod_a = emu.add_member(a.id, "mod-a", permissions=MANAGE_GUILD)
    mod_b = emu.add_member(b.id, "mod-b", permissions=MANAGE_GUILD)
    async with running_bot(emu, db_path, guilds=[a, b], summary_delay=0.05) as run:

        def make_a(ledger):
            ledger.create_incident(a.id, title="Quarry blast", slug="quarry-blast", actor="t")
            ledger.create_speaker(a.id, name="Xavier Quarryman", actor="t")
            return ledger.add_claim(
                a.id,
                text="Quarryman said the quarry blast was an accident.",
                speaker="Xavier Quarryman",
                incident="quarry-blast",
                ref="qa-1",
                actor="t",
            ).id

        claim_a = await run.service.write(make_a)
        attempts = [
            ("claim show", {"claim": str(claim_a)}),
            ("claim edit", {"claim": str(claim_a)}),
            ("claim remove", {"claim": str(claim_a), "reason": "x"}),
            ("claim restore", {"claim": str(claim_a)}),
            ("claim undo", {"claim": str(claim_a)}),
            ("claim history", {"claim": str(claim_a)}),
            ("claim show", {"claim": "qa-1"}),
            ("evidence set", {"claim": str(claim_a), "status": "presented", "details": "x"}),
            ("entry", {"claim": str(claim_a)}),
            ("incident show", {"incident": "quarry-blast"}),
            ("incident edit", {"incident": "quarry-blast", "title": "Hijacked"}),
            ("incident pin", {"incident": "quarry-blast"}),
            ("incident unpin", {"incident": "quarry-blast"}),
            ("speaker alias add", {"speaker": "Xavier Quarryman", "alias": "XQ"}),
            ("speaker merge", {"duplicate": "Xavier Quarryman", "into": "Vladimir Putin"}),
            ("claim edit", {"claim": "qa-1"}),
        ]
        for name, options in attempts:
            inter = await emu.slash(b.id, b.channel_id, mod_b.id, name, options)
            message = await inter.wait_message()
            assert "No " in message["content"] and "in this ledger" in message["content"], (name, message)
            assert message["flags"] & 64
        # Nothing in A changed, and B's answers never show A's claim.
        claim = await run.service.read(lambda ledger: ledger.get_claim(a.id, claim_a))
        assert not claim.removed and claim.evidence.status.value == "unknown"
        assert (
            await run.service.read(lambda ledger: ledger.get_incident(a.id, "quarry-blast"))
        ).title == "Quarry blast"
        assert len(await run.service.read(lambda ledger: ledger.history(a.id, "claim", claim_a))) == 1
        inter = await emu.slash(b.id, b.channel_id, mod_b.id, "ask", {"question": "quarry blast accident Quarryman"})
        answer = await inter.wait_message()
        assert "Quarryman" not in str(answer["embeds"][0].get("fields", []))
        assert "No claim in this server's ledger matches" in answer["embeds"][0]["description"]
        choices = await emu.autocomplete(b.id, b.channel_id, mod_b.id, "claim show", {"claim": "quarry"}, "claim")
        assert choices == []
        # A moderator role set in A grants nothing in B.
        role_a = emu.add_role(a.id, "Checkers A")
        inter = await emu.slash(a.id, a.channel_id, mod_a.id, "ledger settings moderator-role", {"role": role_a})
        await inter.wait_message()
        member_b = emu.add_member(b.id, "member-b", roles=[])
        inter = await emu.slash(b.id, b.channel_id, member_b.id, "claim show", {"claim": "1"})
        assert "Only moderators" in (await inter.wait_message())["content"]
