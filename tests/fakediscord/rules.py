"""Discord's limits, checked the way Discord checks them (400 Invalid Form Body, code 50035)."""

from __future__ import annotations

import re
from typing import Any

SLASH_NAME = re.compile(r"^[-_\w]{1,32}$")
PIN_MESSAGES = 1 << 51
ADMINISTRATOR = 1 << 3
SEND_MESSAGES = 1 << 11
ALL_PERMISSIONS = (1 << 53) - 1


def embed_errors(embeds: list[dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    if len(embeds) > 10:
        errors.append("embeds: at most 10")
    total = 0
    for i, embed in enumerate(embeds):
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        fields = embed.get("fields") or []
        if len(title) > 256:
            errors.append(f"embeds.{i}.title: at most 256")
        if len(description) > 4096:
            errors.append(f"embeds.{i}.description: at most 4096")
        if len(footer) > 2048:
            errors.append(f"embeds.{i}.footer.text: at most 2048")
        if len(author) > 256:
            errors.append(f"embeds.{i}.author.name: at most 256")
        if len(fields) > 25:
            errors.append(f"embeds.{i}.fields: at most 25")
        for j, field in enumerate(fields):
            name, value = field.get("name") or "", field.get("value") or ""
            if not 1 <= len(name) <= 256:
                errors.append(f"embeds.{i}.fields.{j}.name: 1 to 256")
            if not 1 <= len(value) <= 1024:
                errors.append(f"embeds.{i}.fields.{j}.value: 1 to 1024")
            total += len(name) + len(value)
        total += len(title) + len(description) + len(footer) + len(author)
    if total > 6000:
        errors.append("embeds: all embeds together at most 6000 characters")
    return errors


def component_errors(components: list[dict[str, Any]]) -> list[str]:
    errors = []
    if len(components) > 5:
        errors.append("components: at most 5 action rows")
    for i, row in enumerate(components):
        children = row.get("components") or []
        if len(children) > 5:
            errors.append(f"components.{i}: at most 5 components in a row")
        for child in children:
            if child.get("type") == 2 and len(child.get("label") or "") > 80:
                errors.append(f"components.{i}: button label at most 80")
            if child.get("type") == 3 and len(child.get("options") or []) > 25:
                errors.append(f"components.{i}: at most 25 select options")
    return errors


def message_errors(payload: dict[str, Any]) -> list[str]:
    errors = []
    content = payload.get("content") or ""
    if len(content) > 2000:
        errors.append("content: at most 2000 characters")
    errors += embed_errors(payload.get("embeds") or [])
    errors += component_errors(payload.get("components") or [])
    return errors


def modal_errors(payload: dict[str, Any]) -> list[str]:
    errors = []
    if not 1 <= len(payload.get("title") or "") <= 45:
        errors.append("title: 1 to 45 characters")
    components = payload.get("components") or []
    if len(components) > 5:
        errors.append("components: at most 5")
    for row in components:
        children = row.get("components") or ([row.get("component")] if row.get("component") else [])
        for child in children:
            if len(child.get("label") or "") > 45:
                errors.append("text input label: at most 45")
            if (child.get("max_length") or 0) > 4000:
                errors.append("text input max_length: at most 4000")
    return errors


def choice_errors(choices: list[dict[str, Any]]) -> list[str]:
    errors = []
    if len(choices) > 25:
        errors.append("choices: at most 25")
    for choice in choices:
        if not 1 <= len(choice.get("name") or "") <= 100:
            errors.append("choices.name: 1 to 100")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            errors.append("choices.value: at most 100")
    return errors


def _option_errors(options: list[dict[str, Any]], where: str) -> list[str]:
    errors = []
    if len(options) > 25:
        errors.append(f"{where}.options: at most 25")
    for option in options:
        name = option.get("name", "")
        if not SLASH_NAME.match(name) or name != name.lower():
            errors.append(f"{where}.options.{name!r}: invalid name")
        if not 1 <= len(option.get("description") or "") <= 100:
            errors.append(f"{where}.options.{name!r}: description 1 to 100")
        errors += _option_errors(option.get("options") or [], f"{where}.{name}")
    return errors


def command_errors(commands: list[dict[str, Any]]) -> list[str]:
    errors = []
    if len(commands) > 100:
        errors.append("at most 100 commands")
    seen = set()
    for cmd in commands:
        name = cmd.get("name", "")
        kind = cmd.get("type", 1)
        if (name, kind) in seen:
            errors.append(f"{name}: duplicate")
        seen.add((name, kind))
        if kind == 1:
            if not SLASH_NAME.match(name) or name != name.lower():
                errors.append(f"{name!r}: invalid slash command name")
            if not 1 <= len(cmd.get("description") or "") <= 100:
                errors.append(f"{name}: description 1 to 100")
            errors += _option_errors(cmd.get("options") or [], name)
        elif not 1 <= len(name) <= 32:
            errors.append(f"{name!r}: context menu name 1 to 32")
    return errors
