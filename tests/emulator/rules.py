"""Discord's limits and validation rules, as the emulator enforces them.

Every validator returns a :class:`FormErrors`; an empty one means the payload is valid. A non-empty one renders
as the ``errors`` object of Discord's ``400 {"code": 50035, "message": "Invalid Form Body"}`` answer, nested by
field path with ``_errors`` leaves, which discord.py flattens into ``In embeds.0.title: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import discord

# ------------------------------------------------------------------ permissions (bit values)

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
MODERATE_MEMBERS = 1 << 40
PIN_MESSAGES = 1 << 51

ALL_PERMISSIONS = discord.Permissions.all().value | PIN_MESSAGES

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
"""What a new server's @everyone role gets (no pinning, no moderation)."""

MODERATOR_PERMISSIONS = MANAGE_GUILD | MANAGE_MESSAGES | PIN_MESSAGES | MODERATE_MEMBERS | KICK_MEMBERS
"""The default 'Moderators' role of :meth:`DiscordEmulator.add_guild`."""

DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
    | PIN_MESSAGES
)  # fmt: skip
"""The bot's role: exactly the README's invite link (``permissions=2252074691709952``), nothing more."""

# ------------------------------------------------------------------ channel types

ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
THREAD_PARENT_TYPES = frozenset({0, 5})
"""Text and announcement channels hold threads (forum and media channels are not modelled)."""
AUTO_ARCHIVE_DURATIONS = frozenset({60, 1440, 4320, 10080})
"""Minutes a thread may stay idle before it archives itself (``resources/channel``: Thread Metadata Object)."""

# ------------------------------------------------------------------ intents

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# ------------------------------------------------------------------ message types

REPLYABLE_MESSAGE_TYPES = frozenset({0, 19, 20, 23})
"""DEFAULT, REPLY, CHAT_INPUT_COMMAND, CONTEXT_MENU_COMMAND: the messages that are not system messages. A reply to
any other type is 400 50035 ``REPLIES_CANNOT_REPLY_TO_SYSTEM_MESSAGE`` on ``message_reference`` (``resources/message``,
Create Message, Limitations: "cannot be a system message"; the same four types are the docs' "basic messages" that
can be forwarded; the error as Discord answers it: discordjs/discord.js issue #6487, a THREAD_CREATED message)."""

# ------------------------------------------------------------------ message flags and limits

FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2
INTERACTION_SENDABLE_FLAGS = SENDABLE_FLAGS | FLAG_EPHEMERAL

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_V2_COMPONENTS = 40
MAX_BUTTON_LABEL = 80
MAX_CUSTOM_ID = 100
MAX_SELECT_OPTIONS = 25
MAX_PLACEHOLDER = 150
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT_LABEL = 45
MAX_TEXT_INPUT_VALUE = 4000
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_VALUE = 100
MAX_COMMANDS = 130
"""A bulk overwrite takes at most 130 commands (100 + 15 + 15), else 50035 ``BASE_TYPE_MAX_LENGTH`` on the list
itself, as Discord answers (chenhg5/cc-connect issue #504: 134 commands); the docs give only the per-type limits."""
MAX_COMMANDS_BY_TYPE = {1: 100, 2: 15, 3: 15}
"""CHAT_INPUT, USER and MESSAGE commands per application, globally and per guild (``interactions/application-commands``,
Registering a Command); one more is 400 ``30032`` "Maximum number of application commands reached (N)"."""
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_COMMAND_TOTAL = 8000  # name, description and choices of a command with its options (application-commands)
MAX_PINS = 250

COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
SNOWFLAKE_TYPES = {6, 7, 8, 9, 11}
SELECT_TYPES = {3, 5, 6, 7, 8}


class FormErrors:
    """Errors keyed by field path, rendered in Discord's nested ``_errors`` shape."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str, ...], str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def __repr__(self) -> str:
        return f"FormErrors({self.flat()!r})"

    def add(self, path: Sequence[object], code: str, message: str) -> None:
        self.items.append((tuple(str(p) for p in path), code, message))

    def too_long(self, path: Sequence[object], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: Sequence[object], low: int, high: int) -> None:
        self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def required(self, path: Sequence[object]) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def extend(self, other: FormErrors, prefix: Sequence[object] = ()) -> None:
        for path, code, message in other.items:
            self.items.append((tuple(str(p) for p in prefix) + path, code, message))

    def flat(self) -> dict[str, str]:
        """``{"embeds.0.title": "Must be 256 or fewer in length."}``: handy in assertions."""
        return {".".join(path) or "_": message for path, _, message in self.items}

    def to_dict(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for path, code, message in self.items:
            node = tree
            for part in path:
                node = node.setdefault(part, {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return tree


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _check_len(errors: FormErrors, path: Sequence[object], value: object, limit: int, *, required: bool = False) -> int:
    text = _text(value)
    if required and not text.strip():
        errors.required(path)
    elif len(text) > limit:
        errors.too_long(path, limit)
    return len(text)


def _check_url(errors: FormErrors, path: Sequence[object], url: object, *, allow_attachment: bool = False) -> None:
    if url is None:
        return
    text = str(url)
    schemes = ("http://", "https://") + (("attachment://",) if allow_attachment else ())
    if not text.startswith(schemes) or len(text) > 2048:
        scheme = text.split(":", 1)[0] if ":" in text else text
        allowed = "('http', 'https', 'attachment')" if allow_attachment else "('http', 'https')"
        errors.add(
            path, "URL_TYPE_INVALID_SCHEME", f'Scheme "{scheme}" is not supported. Scheme must be one of {allowed}.'
        )


# ------------------------------------------------------------------ messages


def embed_size(embed: Mapping[str, Any]) -> int:
    """Characters that count towards the 6,000 limit: title, description, field names/values, footer, author."""
    total = len(_text(embed.get("title"))) + len(_text(embed.get("description")))
    for field in embed.get("fields") or []:
        total += len(_text(field.get("name"))) + len(_text(field.get("value")))
    total += len(_text((embed.get("footer") or {}).get("text")))
    total += len(_text((embed.get("author") or {}).get("name")))
    return total


def validate_embed(embed: Mapping[str, Any]) -> FormErrors:
    errors = FormErrors()
    if not isinstance(embed, Mapping):
        errors.add((), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return errors
    _check_len(errors, ("title",), embed.get("title"), MAX_EMBED_TITLE)
    _check_len(errors, ("description",), embed.get("description"), MAX_EMBED_DESCRIPTION)
    _check_url(errors, ("url",), embed.get("url"))
    color = embed.get("color")
    if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
        errors.add(("color",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
    fields = embed.get("fields") or []
    if len(fields) > MAX_EMBED_FIELDS:
        errors.too_long(("fields",), MAX_EMBED_FIELDS)
    for index, field in enumerate(fields):
        _check_len(errors, ("fields", index, "name"), field.get("name"), MAX_FIELD_NAME, required=True)
        _check_len(errors, ("fields", index, "value"), field.get("value"), MAX_FIELD_VALUE, required=True)
    footer = embed.get("footer")
    if footer is not None:
        _check_len(errors, ("footer", "text"), footer.get("text"), MAX_FOOTER, required=True)
        _check_url(errors, ("footer", "icon_url"), footer.get("icon_url"), allow_attachment=True)
    author = embed.get("author")
    if author is not None:
        _check_len(errors, ("author", "name"), author.get("name"), MAX_AUTHOR_NAME, required=True)
        _check_url(errors, ("author", "url"), author.get("url"))
        _check_url(errors, ("author", "icon_url"), author.get("icon_url"), allow_attachment=True)
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        if media is not None:
            _check_url(errors, (key, "url"), media.get("url"), allow_attachment=True)
    return errors


def _walk_components(components: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for component in components:
        yield component
        yield from _walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, Mapping):
                yield from _walk_components([child])


def _validate_select(errors: FormErrors, path: tuple[object, ...], select: Mapping[str, Any]) -> None:
    _check_len(errors, (*path, "custom_id"), select.get("custom_id"), MAX_CUSTOM_ID, required=True)
    _check_len(errors, (*path, "placeholder"), select.get("placeholder"), MAX_PLACEHOLDER)
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    if not 0 <= low <= MAX_SELECT_OPTIONS:
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 25.")
    if not 1 <= high <= MAX_SELECT_OPTIONS:
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 25.")
    if select.get("type") == 3:
        options = select.get("options") or []
        if not 1 <= len(options) <= MAX_SELECT_OPTIONS:
            errors.bad_length((*path, "options"), 1, MAX_SELECT_OPTIONS)
        for index, option in enumerate(options):
            _check_len(errors, (*path, "options", index, "label"), option.get("label"), 100, required=True)
            _check_len(errors, (*path, "options", index, "value"), option.get("value"), 100, required=True)
            _check_len(errors, (*path, "options", index, "description"), option.get("description"), 100)
        if options and high > len(options):
            errors.add((*path, "max_values"), "SELECT_COMPONENT_MAX_VALUES_EXCEEDED", "Max values exceeds options.")


def _validate_button(errors: FormErrors, path: tuple[object, ...], button: Mapping[str, Any]) -> None:
    style = button.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", f"Value must be one of {{1, 2, 3, 4, 5, 6}}; got {style!r}.")
    _check_len(errors, (*path, "label"), button.get("label"), MAX_BUTTON_LABEL)
    if style == 5:
        if not button.get("url"):
            errors.add((*path, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
        _check_url(errors, (*path, "url"), button.get("url"))
    elif style != 6:
        _check_len(errors, (*path, "custom_id"), button.get("custom_id"), MAX_CUSTOM_ID, required=True)
    if style in (1, 2, 3, 4, 5) and not button.get("label") and not button.get("emoji"):
        errors.add((*path,), "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or emoji is required")


def validate_components(components: Sequence[Mapping[str, Any]], *, v2: bool = False) -> FormErrors:
    """Message components: action rows of buttons/selects, or a Components V2 layout (flag 1 << 15)."""
    errors = FormErrors()
    if v2:
        count = sum(1 for _ in _walk_components(components))
        if count > MAX_V2_COMPONENTS:
            errors.add((), "COMPONENT_LAYOUT_TOO_MANY", f"Must be {MAX_V2_COMPONENTS} or fewer components in total.")
    elif len(components) > MAX_ACTION_ROWS:
        errors.too_long((), MAX_ACTION_ROWS)
    for index, component in enumerate(components):
        ctype = component.get("type")
        if not v2 and ctype != 1:
            errors.add((index, "type"), "UNION_TYPE_CHOICES", "Value of field 'type' must be one of (1,).")
            continue
        if ctype == 1:
            children = component.get("components") or []
            selects = [c for c in children if c.get("type") in SELECT_TYPES]
            if not children or len(children) > MAX_ROW_BUTTONS:
                errors.bad_length((index, "components"), 1, MAX_ROW_BUTTONS)
            if selects and len(children) > 1:
                errors.add(
                    (index, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            for child_index, child in enumerate(children):
                path = (index, "components", child_index)
                if child.get("type") == 2:
                    _validate_button(errors, path, child)
                elif child.get("type") in SELECT_TYPES:
                    _validate_select(errors, path, child)
    seen: set[str] = set()
    for component in _walk_components(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if custom_id in seen:
            errors.add((), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
        seen.add(custom_id)
    return errors


def validate_allowed_mentions(allowed: Mapping[str, Any]) -> FormErrors:
    errors = FormErrors()
    parse = allowed.get("parse") or []
    for index, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(("parse", index), "BASE_TYPE_CHOICES", "Value must be one of ('users', 'roles', 'everyone').")
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors.add(
                (kind,),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(allowed.get(kind) or []) > 100:
            errors.too_long((kind,), 100)
    return errors


def validate_message(body: Mapping[str, Any]) -> FormErrors:
    """A message create or edit body (channel message, interaction response data, webhook message)."""
    errors = FormErrors()
    if "content" in body:
        _check_len(errors, ("content",), body.get("content"), MAX_CONTENT)
    embeds = body.get("embeds")
    if embeds:
        if len(embeds) > MAX_EMBEDS:
            errors.too_long(("embeds",), MAX_EMBEDS)
        for index, embed in enumerate(embeds):
            errors.extend(validate_embed(embed), ("embeds", index))
        if sum(embed_size(e) for e in embeds if isinstance(e, Mapping)) > MAX_EMBED_TOTAL:
            errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")
    flags = int(body.get("flags") or 0)
    v2 = bool(flags & FLAG_IS_COMPONENTS_V2)
    components = body.get("components")
    if components:
        errors.extend(validate_components(components, v2=v2), ("components",))
    if v2:
        if body.get("content"):
            errors.add(("content",), "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Cannot use content")
        if body.get("embeds"):
            errors.add(("embeds",), "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Cannot use embeds")
    allowed = body.get("allowed_mentions")
    if allowed:
        errors.extend(validate_allowed_mentions(allowed), ("allowed_mentions",))
    return errors


# ------------------------------------------------------------------ modals and autocomplete


def _validate_text_input(
    errors: FormErrors, path: tuple[object, ...], item: Mapping[str, Any], *, labelled: bool
) -> None:
    _check_len(errors, (*path, "custom_id"), item.get("custom_id"), MAX_CUSTOM_ID, required=True)
    if item.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if not labelled:
        _check_len(errors, (*path, "label"), item.get("label"), MAX_TEXT_INPUT_LABEL, required=True)
    _check_len(errors, (*path, "value"), item.get("value"), MAX_TEXT_INPUT_VALUE)
    _check_len(errors, (*path, "placeholder"), item.get("placeholder"), 100)
    low, high = item.get("min_length"), item.get("max_length")
    if low is not None and not 0 <= low <= MAX_TEXT_INPUT_VALUE:
        errors.add((*path, "min_length"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 4000.")
    if high is not None and not 1 <= high <= MAX_TEXT_INPUT_VALUE:
        errors.add((*path, "max_length"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 4000.")
    elif high is not None and low is not None and low > high:
        errors.add((*path, "min_length"), "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")
    value = _text(item.get("value"))
    if high is not None and 1 <= high < len(value) <= MAX_TEXT_INPUT_VALUE:
        errors.too_long((*path, "value"), high)  # a prefill the member could not have typed


def _validate_modal_select(errors: FormErrors, path: tuple[object, ...], select: Mapping[str, Any]) -> None:
    """A select in a modal's Label: the message select's rules, plus no ``disabled`` (modals cannot have disabled
    components), and ``min_values`` omitted or at least 1 while ``required`` is omitted or true."""
    _validate_select(errors, path, select)
    if select.get("disabled"):
        errors.add((*path, "disabled"), "COMPONENT_DISABLED_IN_MODAL", "Modals can not have disabled components.")
    if select.get("required", True) and select.get("min_values", 1) < 1:
        errors.add(
            (*path, "min_values"), "NUMBER_TYPE_MIN", "min_values must be at least 1 when the select is required."
        )


def validate_modal(data: Mapping[str, Any]) -> FormErrors:
    """A modal (interaction response type 9): title ≤ 45, 1–5 components, text input labels ≤ 45."""
    errors = FormErrors()
    title = _text(data.get("title"))
    if not 1 <= len(title) <= MAX_MODAL_TITLE:
        errors.bad_length(("title",), 1, MAX_MODAL_TITLE)
    _check_len(errors, ("custom_id",), data.get("custom_id"), MAX_CUSTOM_ID, required=True)
    components = data.get("components") or []
    if not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
        errors.bad_length(("components",), 1, MAX_MODAL_COMPONENTS)
    for index, component in enumerate(components):
        ctype = component.get("type")
        path: tuple[object, ...] = ("components", index)
        if ctype == 1:
            children = component.get("components") or []
            if len(children) != 1:
                errors.bad_length((*path, "components"), 1, 1)
            for child_index, child in enumerate(children):
                child_path = (*path, "components", child_index)
                if child.get("type") == 4:
                    _validate_text_input(errors, child_path, child, labelled=False)
                elif child.get("type") in SELECT_TYPES:  # in a modal, a select must be in a Label
                    errors.add(
                        (*child_path, "type"), "UNION_TYPE_CHOICES", "A select in a modal must be inside a Label."
                    )
        elif ctype == 18:
            _check_len(errors, (*path, "label"), component.get("label"), MAX_TEXT_INPUT_LABEL, required=True)
            _check_len(errors, (*path, "description"), component.get("description"), 100)
            child = component.get("component") or {}
            if child.get("type") == 4:
                _validate_text_input(errors, (*path, "component"), child, labelled=True)
            elif child.get("type") in SELECT_TYPES:
                _validate_modal_select(errors, (*path, "component"), child)
        elif ctype == 10:
            _check_len(errors, (*path, "content"), component.get("content"), 4000, required=True)
        else:
            errors.add((*path, "type"), "UNION_TYPE_CHOICES", f"Component type {ctype!r} is not allowed in a modal.")
    seen: set[str] = set()
    for component in _walk_components(components):
        custom_id = component.get("custom_id")
        if custom_id is not None:
            if custom_id in seen:
                errors.add(
                    ("components",), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)
    return errors


def validate_choices(choices: object) -> FormErrors:
    """Autocomplete results (interaction response type 8)."""
    errors = FormErrors()
    if not isinstance(choices, list):
        errors.required(("choices",))
        return errors
    if len(choices) > MAX_CHOICES:
        errors.too_long(("choices",), MAX_CHOICES)
    for index, choice in enumerate(choices):
        name = _text(choice.get("name"))
        if not 1 <= len(name) <= MAX_CHOICE_NAME:
            errors.bad_length(("choices", index, "name"), 1, MAX_CHOICE_NAME)
        value = choice.get("value")
        if isinstance(value, str) and len(value) > MAX_CHOICE_VALUE:
            errors.too_long(("choices", index, "value"), MAX_CHOICE_VALUE)
        elif value is None:
            errors.required(("choices", index, "value"))
    return errors


# ------------------------------------------------------------------ command sync


def _longest(node: Mapping[str, Any], field: str) -> int:
    """A field's length as the size limit counts it: the longest of the default and its localizations."""
    localized = node.get(f"{field}_localizations") or {}
    return max([len(_text(node.get(field))), *(len(_text(v)) for v in localized.values())])


def _command_text_size(node: Mapping[str, Any]) -> int:
    total = _longest(node, "name") + _longest(node, "description")
    for choice in node.get("choices") or []:
        total += _longest(choice, "name") + len(_text(choice.get("value")))
    return total + sum(_command_text_size(option) for option in node.get("options") or [])


def _validate_name(errors: FormErrors, path: tuple[object, ...], name: object, *, chat_input: bool) -> None:
    text = _text(name)
    if chat_input:
        if not COMMAND_NAME_RE.fullmatch(text) or text != text.lower():
            errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    elif not 1 <= len(text) <= MAX_COMMAND_NAME:
        errors.bad_length((*path, "name"), 1, MAX_COMMAND_NAME)


def _validate_description(errors: FormErrors, path: tuple[object, ...], description: object) -> None:
    text = _text(description)
    if not 1 <= len(text) <= MAX_COMMAND_DESCRIPTION:
        errors.bad_length((*path, "description"), 1, MAX_COMMAND_DESCRIPTION)


def _validate_options(
    errors: FormErrors, path: tuple[object, ...], options: Sequence[Mapping[str, Any]], depth: int
) -> None:
    if len(options) > MAX_OPTIONS:
        errors.too_long((*path, "options"), MAX_OPTIONS)
    names: set[str] = set()
    seen_optional = False
    kinds = {1 if o.get("type") in (1, 2) else 0 for o in options}
    if len(kinds) > 1:
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    for index, option in enumerate(options):
        opath = (*path, "options", index)
        otype = option.get("type")
        _validate_name(errors, opath, option.get("name"), chat_input=True)
        _validate_description(errors, opath, option.get("description"))
        name = _text(option.get("name"))
        if name in names:
            errors.add(
                (*path, "options"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
            )
        names.add(name)
        if otype in (1, 2):
            if (otype == 2 and depth >= 1) or (otype == 1 and depth >= 2):
                errors.add(opath, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands nest too deeply")
            _validate_options(errors, opath, option.get("options") or [], depth + 1)
            continue
        if otype not in (3, 4, 5, 6, 7, 8, 9, 10, 11):
            errors.add((*opath, "type"), "BASE_TYPE_CHOICES", f"Value must be a valid option type; got {otype!r}.")
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*path, "options"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            errors.too_long((*opath, "choices"), MAX_CHOICES)
        if choices and option.get("autocomplete"):
            errors.add(
                (*opath, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be set with choices",
            )
        for choice_index, choice in enumerate(choices):
            cname = _text(choice.get("name"))
            if not 1 <= len(cname) <= MAX_CHOICE_NAME:
                errors.bad_length((*opath, "choices", choice_index, "name"), 1, MAX_CHOICE_NAME)
            value = choice.get("value")
            if isinstance(value, str) and len(value) > MAX_CHOICE_VALUE:
                errors.too_long((*opath, "choices", choice_index, "value"), MAX_CHOICE_VALUE)


def validate_commands(commands: object) -> FormErrors:
    """A bulk overwrite (``PUT .../commands``): names, descriptions, options, counts."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    if len(commands) > MAX_COMMANDS:
        errors.too_long((), MAX_COMMANDS)
    seen: set[tuple[str, int]] = set()
    for index, command in enumerate(commands):
        path: tuple[object, ...] = (index,)
        ctype = int(command.get("type", 1) or 1)
        chat_input = ctype == 1
        _validate_name(errors, path, command.get("name"), chat_input=chat_input)
        key = (_text(command.get("name")), ctype)
        if key in seen:
            errors.add(
                path, "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {key[0]}"
            )
        seen.add(key)
        if chat_input:
            _validate_description(errors, path, command.get("description"))
            _validate_options(errors, path, command.get("options") or [], 0)
            if _command_text_size(command) > MAX_COMMAND_TOTAL:
                errors.add(path, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({MAX_COMMAND_TOTAL})")
        else:
            if command.get("description"):
                errors.add(
                    (*path, "description"),
                    "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED",
                    "Context menu commands cannot have a description",
                )
            if command.get("options"):
                errors.add(
                    (*path, "options"),
                    "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                    "Context menu commands cannot have options",
                )
        permissions = command.get("default_member_permissions")
        if permissions is not None:
            try:
                int(permissions)
            except (TypeError, ValueError):
                errors.add((*path, "default_member_permissions"), "NUMBER_TYPE_COERCE", "Value is not int.")
    return errors


def command_limit_reached(commands: Iterable[Mapping[str, Any]]) -> int | None:
    """The per-type limit (:data:`MAX_COMMANDS_BY_TYPE`) that ``commands`` (one scope's list) go over, or None."""
    counts: dict[int, int] = {}
    for command in commands:
        ctype = int(command.get("type", 1) or 1)
        counts[ctype] = counts.get(ctype, 0) + 1
    for ctype, count in counts.items():
        limit = MAX_COMMANDS_BY_TYPE.get(ctype)
        if limit is not None and count > limit:
            return limit
    return None


def command_permitted(default_member_permissions: int, member_permissions: int) -> bool:
    """Whether Discord shows (and delivers) a command with these ``default_member_permissions`` to a member.

    Every bit must be held; ``0`` means administrators only; administrators (and the owner) always pass.
    Server admins can override this per role/member (not modelled: ``force=True`` stands for an override)."""
    if member_permissions & ADMINISTRATOR:
        return True
    if default_member_permissions == 0:
        return False
    return member_permissions & default_member_permissions == default_member_permissions


# Discord's markdown (simple-markdown): a masked link is ``[text](href)``; ``\X`` escapes a punctuation character.
_LINK_AT = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]"
    r"\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)


def masked_links(text: str) -> list[tuple[str, str]]:
    """The masked links ``(label, url)`` a Discord client would render in ``text`` (message content, embed
    description or field value), skipping escaped brackets. An approximation of Discord's parser, for tests:
    stored text must yield none, a source link exactly one."""
    links: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and not text[i + 1].isalnum() and not text[i + 1].isspace():
            i += 2
            continue
        if ch == "[":
            match = _LINK_AT.match(text, i)
            if match:
                links.append((match.group(1), match.group(2)))
                i = match.end()
                continue
        i += 1
    return links
