""" "Record as claim" end to end: the real discord.py client against the emulator. The speaker is chosen from a
select in a Label (those named in the message first, then by claims), or typed as a new one; a form that cannot
be read is answered with one sentence and reopens as typed. Also the emulator's rules for a select in a modal."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.emulator import DiscordEmulator, Guild, Member, StoredMessage, rules
from tests.harness import Running

MENU = "Record as claim"
TEXT = "Krendel said on TV the Zorbington bridge was blown up by saboteurs https://example.org/tv-clip."
NEW = "new"
NO_NAME = "You chose New speaker but left the new speaker's name empty: type it in the box under the list."


async def _krendel(running: Running, guild: Guild) -> int:
    def add(ledger: Any) -> int:
        return ledger.create_speaker(guild.id, name="Olga Krendel", aliases=["Krendel"], actor="test").id

    return await running.service.write(add)


async def _open(emu: DiscordEmulator, guild: Guild, mod: Member, posted: StoredMessage) -> Any:
    inter = await emu.context_menu(guild.id, guild.channel_id, mod.id, MENU, posted)
    await inter.wait_modal()
    return inter


def _inputs(inter: Any) -> dict[str, dict[str, Any]]:
    """The modal's inputs by custom_id suffix (``speaker``, ``new_speaker``, ``claim``, ...)."""
    return {box["custom_id"].split(":")[1]: box for box in inter.modal_inputs()}


def _answers(inter: Any, **changes: Any) -> dict[str, Any]:
    """Every text box as shown, with ``changes`` (keyed by custom_id suffix), ready for ``submit_modal``."""
    boxes = _inputs(inter)
    values: dict[str, Any] = {b["custom_id"]: b.get("value") or "" for b in boxes.values() if b["type"] == 4}
    for key, value in changes.items():
        values[boxes[key]["custom_id"]] = value
    return values


async def _save(emu: DiscordEmulator, mod: Member, submitted: Any, running: Running, guild: Guild) -> Any:
    picker = await submitted.wait_message()
    asked = picker["content"]  # the message is edited into "Saved claim #…" on choice
    assert "evidence status" in asked, asked
    saved = await (await emu.click(picker, "record:evidence", mod.id, values=["not_presented"])).wait_message()
    assert saved["content"].startswith("Saved claim #"), saved["content"]
    claim_id = int(saved["content"].split("#")[1].rstrip("."))
    return asked, await running.service.read(lambda ledger: ledger.get_claim(guild.id, claim_id))


async def test_the_speaker_named_in_the_message_is_listed_first_and_saves_the_claim(
    emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, running: Running
) -> None:
    krendel = await _krendel(running, guild)
    posted = await emu.post_message(emu.channels[guild.channel_id], member, TEXT)
    # Members are refused.
    refused = await emu.context_menu(guild.id, guild.channel_id, member.id, MENU, posted)
    assert "Only moderators" in (await refused.wait_message())["content"]
    inter = await _open(emu, guild, mod, posted)
    assert [row["type"] for row in inter.modal["components"]] == [18] * 5  # Labels only, Discord's maximum of 5
    boxes = _inputs(inter)
    assert list(boxes) == ["speaker", "new_speaker", "claim", "quote", "when_sources"]
    select = boxes["speaker"]
    assert select["type"] == 3 and select["label"] == "Speaker"
    options = select["options"]
    assert options[0]["value"] == str(krendel) and options[0]["label"] == "Olga Krendel"
    assert options[-1] == {"label": "New speaker (type the name below)", "value": NEW, "default": False}
    assert len(options) <= rules.MAX_SELECT_OPTIONS
    # The rest by number of claims (then name): the ledger's most-cited speakers.
    speakers, claims = await running.service.read(
        lambda ledger: (ledger.list_speakers(guild.id), ledger.list_claims(guild.id))
    )
    counts = Counter(c.speaker.id for c in claims if c.speaker is not None)
    others = sorted((s for s in speakers if s.id != krendel), key=lambda s: (-counts[s.id], s.name.casefold(), s.id))
    assert [o["value"] for o in options[1:-1]] == [str(s.id) for s in others][: rules.MAX_SELECT_OPTIONS - 2]
    assert counts[krendel] == 0 < counts[others[0].id], "named in the message beats more claims"
    # Prefilled from the message.
    link = f"https://discord.com/channels/{guild.id}/{guild.channel_id}/{posted.id}"
    assert boxes["quote"]["value"] == TEXT and boxes["claim"]["value"] == TEXT
    assert boxes["when_sources"]["value"].splitlines() == [
        posted["timestamp"][:10],
        link,
        "https://example.org/tv-clip",
    ]
    assert not boxes["new_speaker"].get("value")
    values = _answers(inter, speaker=[str(krendel)], claim="Krendel said saboteurs blew up the Zorbington bridge.")
    submitted = await emu.submit_modal(inter, mod.id, values)
    picker, claim = await _save(emu, mod, submitted, running, guild)
    assert "**Olga Krendel** (in the ledger)" in picker
    assert claim.speaker.id == krendel and claim.quote == TEXT
    assert claim.text == "Krendel said saboteurs blew up the Zorbington bridge."
    assert (claim.sources[0].url, claim.sources[0].title) == (link, "Discord message")
    assert [s.url for s in claim.sources] == [link, "https://example.org/tv-clip"]
    assert claim.said_at == posted["timestamp"][:10] and claim.said_where is None
    assert claim.evidence.status.value == "not_presented"
    after = await running.service.read(lambda ledger: ledger.list_speakers(guild.id))
    assert len(after) == len(speakers), "no speaker was created"


async def test_new_speaker_with_a_typed_name_is_created(
    emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, running: Running
) -> None:
    posted = await emu.post_message(emu.channels[guild.channel_id], member, "The mayor says the bridge was sabotaged")
    inter = await _open(emu, guild, mod, posted)
    assert await running.service.read(lambda ledger: ledger.find_speaker(guild.id, "Jane Zorbington")) is None
    when = _inputs(inter)["when_sources"]["value"].splitlines()
    values = _answers(
        inter,
        speaker=[NEW],
        new_speaker="  Jane   Zorbington ",
        when_sources="\n".join(["2024-03-23, TV address", *when[1:]]),
    )
    picker, claim = await _save(emu, mod, await emu.submit_modal(inter, mod.id, values), running, guild)
    assert "**Jane Zorbington** (new: will be created)" in picker
    assert claim.speaker.name == "Jane Zorbington"
    assert (claim.said_at, claim.said_where) == ("2024-03-23", "TV address")
    assert [s.url for s in claim.sources] == when[1:]
    found = await running.service.read(lambda ledger: ledger.find_speaker(guild.id, "Jane Zorbington"))
    assert found is not None and found.id == claim.speaker.id


async def test_new_speaker_without_a_name_gets_one_sentence_and_the_form_back_as_typed(
    emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, running: Running
) -> None:
    posted = await emu.post_message(emu.channels[guild.channel_id], member, TEXT)
    inter = await _open(emu, guild, mod, posted)
    before = await running.service.read(
        lambda ledger: (ledger.count_claims(guild.id), len(ledger.list_speakers(guild.id)))
    )
    typed = {"claim": "An edited claim.", "quote": "An edited quote.", "when_sources": "2024-03-23, TV address"}
    answer = await emu.submit_modal(inter, mod.id, _answers(inter, speaker=[NEW], new_speaker=" ", **typed))
    refused = await answer.wait_message()
    assert refused["content"] == NO_NAME
    assert refused["flags"] & rules.FLAG_EPHEMERAL
    after = await running.service.read(
        lambda ledger: (ledger.count_claims(guild.id), len(ledger.list_speakers(guild.id)))
    )
    assert after == before, "nothing saved"
    # The moderator gets the form back as typed.
    reopened = await emu.click(refused, "record:reopen", mod.id)
    await reopened.wait_modal()
    boxes = _inputs(reopened)
    assert {key: boxes[key]["value"] for key in typed} == typed
    chosen = [o["value"] for o in boxes["speaker"]["options"] if o.get("default")]
    assert chosen == [NEW]
    values = _answers(reopened, speaker=[NEW], new_speaker="Jane Zorbington")
    _, claim = await _save(emu, mod, await emu.submit_modal(reopened, mod.id, values), running, guild)
    assert (claim.text, claim.quote, claim.speaker.name) == ("An edited claim.", "An edited quote.", "Jane Zorbington")
    assert (claim.said_at, claim.said_where, claim.sources) == ("2024-03-23", "TV address", ())


async def test_a_listed_speaker_and_a_different_typed_name_are_refused(
    emu: DiscordEmulator, guild: Guild, mod: Member, member: Member, running: Running
) -> None:
    krendel = await _krendel(running, guild)
    posted = await emu.post_message(emu.channels[guild.channel_id], member, TEXT)
    inter = await _open(emu, guild, mod, posted)
    values = _answers(inter, speaker=[str(krendel)], new_speaker="Jane Zorbington")
    refused = await (await emu.submit_modal(inter, mod.id, values)).wait_message()
    assert refused["content"].startswith("You chose Olga Krendel and typed another name")
    assert refused.custom_ids() == ["record:reopen"]
    # The speaker's own alias typed in the box is no conflict.
    inter = await _open(emu, guild, mod, posted)
    values = _answers(inter, speaker=[str(krendel)], new_speaker="krendel")
    _, claim = await _save(emu, mod, await emu.submit_modal(inter, mod.id, values), running, guild)
    assert claim.speaker.id == krendel


def _select_modal(select: dict[str, Any], *, in_label: bool = True) -> dict[str, Any]:
    row = {"type": 18, "label": "Speaker", "component": select} if in_label else {"type": 1, "components": [select]}
    return {"title": "Record", "custom_id": "m", "components": [row]}


def test_the_emulator_checks_a_select_in_a_modal_label() -> None:
    option = {"label": "Simonyan", "value": "1"}
    select: dict[str, Any] = {"type": 3, "custom_id": "s", "options": [option]}
    assert not rules.validate_modal(_select_modal(select))
    assert not rules.validate_modal(_select_modal(dict(select, required=False, min_values=0, disabled=False)))
    path = "components.0.component"
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"options": []}, {f"{path}.options"}),
        ({"options": [dict(option, value=str(n)) for n in range(26)]}, {f"{path}.options"}),
        (
            {"options": [{"label": "l" * 101, "value": "v" * 101}]},
            {f"{path}.options.0.label", f"{path}.options.0.value"},
        ),
        (
            {"options": [{"label": "", "value": "1", "description": "d" * 101}]},
            {f"{path}.options.0.label", f"{path}.options.0.description"},
        ),
        ({"min_values": 0}, {f"{path}.min_values"}),  # required (the default) needs at least one value
        ({"required": True, "min_values": 0}, {f"{path}.min_values"}),
        ({"max_values": 2}, {f"{path}.max_values"}),  # more than the options
        ({"max_values": 26, "min_values": 26}, {f"{path}.max_values", f"{path}.min_values"}),
        ({"disabled": True}, {f"{path}.disabled"}),
        ({"placeholder": "p" * 151, "custom_id": ""}, {f"{path}.placeholder", f"{path}.custom_id"}),
    ]
    for change, expected in cases:
        assert set(rules.validate_modal(_select_modal(dict(select, **change))).flat()) == expected, change
    label = {"type": 18, "label": "l" * 46, "description": "d" * 101, "component": select}
    assert set(rules.validate_modal({"title": "t", "custom_id": "m", "components": [label]}).flat()) == {
        "components.0.label",
        "components.0.description",
    }
    # In a modal a select belongs in a Label, not an action row.
    assert set(rules.validate_modal(_select_modal(select, in_label=False)).flat()) == {"components.0.components.0.type"}
