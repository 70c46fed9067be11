"""What the emulator raises: errors for the test (:class:`EmulatorError` and its kinds) and :class:`ApiError`, which a
route handler raises to answer with Discord's JSON error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import rules

# ------------------------------------------------------------------ errors


class EmulatorError(Exception):
    """The test asked for something Discord's client would not do (unknown command, disabled button...)."""


class CommandHiddenError(EmulatorError):
    """Discord would not show this command to this member (``default_member_permissions`` or context)."""


class UnknownCommandError(EmulatorError):
    """No synced command has that name."""


class EmulatorTimeout(EmulatorError, TimeoutError):
    """A ``wait_*`` helper ran out of time; the message says what was seen instead."""


class ApiError(Exception):
    """Raised inside route handlers: becomes a JSON error answer."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: rules.FormErrors | dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors.to_dict() if isinstance(errors, rules.FormErrors) else errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid_form(errors: rules.FormErrors) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def too_many_commands(limit: int) -> ApiError:
    """One command too many of a type in a scope (``topics/opcodes-and-status-codes``: 30032; the limit in the
    message as Discord words it, e.g. NousResearch/hermes-agent pull request #46078)."""
    return ApiError(400, 30032, f"Maximum number of application commands reached ({limit})")


def cannot_reply_to_system_message() -> ApiError:
    errors = rules.FormErrors()
    errors.add(("message_reference",), "REPLIES_CANNOT_REPLY_TO_SYSTEM_MESSAGE", "Cannot reply to a system message")
    return invalid_form(errors)
