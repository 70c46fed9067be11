"""REST routes: interaction callbacks and the interaction webhooks (followups, the original response)."""

from __future__ import annotations

from typing import Any

from . import rules
from .errors import ApiError, invalid_form, unknown_message
from .payloads import Channel, StoredMessage
from .records import CallbackType, EmulatedInteraction, RequestContext, ResponseRecord
from .rest import RestApi

APP_COMMAND_MESSAGE_TYPES = {1: 20, 2: 23, 3: 23}


class InteractionRoutes(RestApi):
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}...``."""

    async def _interaction_callback(self, ctx: RequestContext, interaction_id: str, token: str) -> tuple[int, Any]:
        inter = self.interactions.get(int(interaction_id))
        if inter is None or inter.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        now = self.now()
        record = ResponseRecord(ctx.body)
        record.at = now
        record.latency = now - inter.dispatched_at
        record.accepted = False
        record.error = None
        try:
            if inter.response is not None:
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            if inter.expired or record.latency > self.interaction_deadline:
                inter.expired = True
                raise ApiError(404, 10062, "Unknown interaction")
            result = self._accept_callback(inter, ctx, record)
        except ApiError as error:
            record.status = error.status
            record.error = error.body()
            inter.responses.append(record)
            raise
        record.status = 200 if ctx.query.get("with_response") in ("1", "true", "True") else 204
        record.accepted = True
        inter.responses.append(record)
        inter.response = record
        self._notify()
        return (200, result) if record.status == 200 else (204, None)

    def _accept_callback(
        self, inter: EmulatedInteraction, ctx: RequestContext, record: ResponseRecord
    ) -> dict[str, Any]:
        rtype = record.type
        data = record.data
        cb = CallbackType
        valid_types = {  # by interaction type: application command, component, autocomplete, modal submit
            2: {cb.CHANNEL_MESSAGE_WITH_SOURCE, cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, cb.MODAL},
            3: {
                cb.CHANNEL_MESSAGE_WITH_SOURCE,
                cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                cb.DEFERRED_UPDATE_MESSAGE,
                cb.UPDATE_MESSAGE,
                cb.MODAL,
            },
            4: {cb.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT},
            5: {
                cb.CHANNEL_MESSAGE_WITH_SOURCE,
                cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                cb.DEFERRED_UPDATE_MESSAGE,
                cb.UPDATE_MESSAGE,
            },
        }[inter.type]
        if inter.type == 5 and inter.source_message is None:
            valid_types = {cb.CHANNEL_MESSAGE_WITH_SOURCE, cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE}
        if rtype not in valid_types:
            raise invalid_form(
                self._one_error(
                    ("type",),
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    f"Response type {rtype} is not valid for interaction type {inter.type}",
                )
            )
        channel = self.channels[inter.channel_id]
        if rtype in (cb.CHANNEL_MESSAGE_WITH_SOURCE, cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, cb.UPDATE_MESSAGE):
            self._check_interaction_thread(channel)
        callback: dict[str, Any] = {
            "interaction": {"id": str(inter.id), "type": inter.type},
            "resource": {"type": rtype},
        }
        if rtype == cb.CHANNEL_MESSAGE_WITH_SOURCE:
            self._validate_message_body(data, ctx.files, prefix="data")
            flags = int(data.get("flags") or 0) & rules.INTERACTION_SENDABLE_FLAGS
            msg_type = (
                APP_COMMAND_MESSAGE_TYPES.get(int((inter.command or {}).get("type", 0)), 0) if inter.type == 2 else 0
            )
            message = self._new_message(
                channel, self.bot_user, data, files=ctx.files, msg_type=msg_type, flags=flags, interaction=inter
            )
            self._check_not_empty(message)
            self._apply_mentions(message, channel, data.get("allowed_mentions"))
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
            inter.original = message
            inter.visible.append(message)
            callback["resource"]["message"] = message.wire()
        elif rtype == cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            flags = (int(data.get("flags") or 0) & rules.FLAG_EPHEMERAL) | rules.FLAG_LOADING
            msg_type = (
                APP_COMMAND_MESSAGE_TYPES.get(int((inter.command or {}).get("type", 0)), 0) if inter.type == 2 else 0
            )
            message = self._new_message(channel, self.bot_user, {}, msg_type=msg_type, flags=flags, interaction=inter)
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
            inter.original = message
            callback["interaction"]["response_message_loading"] = True
            callback["resource"]["message"] = message.wire()
        elif rtype in (cb.DEFERRED_UPDATE_MESSAGE, cb.UPDATE_MESSAGE):
            source = inter.source_message
            assert source is not None
            inter.original = self.find_message(source.id) or source
            if rtype == cb.UPDATE_MESSAGE:
                self._validate_message_body(data, ctx.files, prefix="data")
                self._edit(inter.original, data, ctx.files, channel)
                inter.visible.append(inter.original)
                callback["resource"]["message"] = inter.original.wire()
        elif rtype == cb.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            errors = rules.validate_choices(data.get("choices"))
            if errors:
                raise invalid_form(self._prefix(errors, "data"))
            inter.choices = list(data.get("choices") or [])
        elif rtype == cb.MODAL:
            errors = rules.validate_modal(data)
            if errors:
                raise invalid_form(self._prefix(errors, "data"))
            inter.modal = dict(data)
        if inter.original is not None and rtype in (
            cb.CHANNEL_MESSAGE_WITH_SOURCE,
            cb.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            cb.DEFERRED_UPDATE_MESSAGE,
            cb.UPDATE_MESSAGE,
        ):
            callback["interaction"]["response_message_id"] = str(inter.original.id)
            callback["interaction"]["response_message_ephemeral"] = inter.original.ephemeral
        return callback

    @staticmethod
    def _check_interaction_thread(channel: Channel) -> None:
        """A thread archived (or archived and locked) after the interaction was created takes no message from it:
        responses (ephemeral too), followups and original-response edits are refused; unlike a channel message,
        they do not reopen it (discord-api-docs issues #6884, #7707, #5517). Modals and autocomplete answers make
        no message and still go through; deleting a message is the one change an archived thread allows."""
        if channel.is_thread and channel.archived:
            raise ApiError(400, 50083, "Thread is archived")

    def _webhook_interaction(self, app_id: str, token: str) -> EmulatedInteraction:
        inter = self._by_token.get(token)
        if inter is None or int(app_id) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        if self.now() - inter.dispatched_at > self.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if inter.response is None or inter.response.type in (
            CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
            CallbackType.MODAL,
        ):
            raise ApiError(404, 10015, "Unknown Webhook")
        return inter

    def _webhook_target(self, inter: EmulatedInteraction, message_id: str) -> StoredMessage:
        if message_id == "@original":
            target = inter.original
        else:
            wanted = int(message_id)
            candidates = [inter.original, *inter.followups]
            target = next((m for m in candidates if m is not None and m.id == wanted), None)
        if target is None or target.get("deleted"):
            raise unknown_message()
        return target

    async def _webhook_execute(self, ctx: RequestContext, app_id: str, token: str) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        body = ctx.body
        self._validate_message_body(body, ctx.files)
        channel = self.channels[inter.channel_id]
        self._check_interaction_thread(channel)
        original = inter.original
        deferred = inter.response_type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        if deferred and original is not None and int(original.get("flags") or 0) & rules.FLAG_LOADING:
            if not self.legacy_followup_edits_original:
                raise ApiError(
                    400,
                    0,
                    "Deprecated: a followup while the deferred response is still loading. Edit the original response"
                    " (PATCH /webhooks/{app}/{token}/messages/@original); emu.legacy_followup_edits_original = True"
                    " allows the old behaviour.",
                )
            # After a deferred response the first followup replaces the "thinking" message (its flags stay).
            edit = {k: v for k, v in body.items() if k != "flags"}
            self._edit(original, edit, ctx.files, channel, check_empty=True)
            message = original
        else:
            flags = int(body.get("flags") or 0) & rules.INTERACTION_SENDABLE_FLAGS
            message = self._new_message(channel, self.bot_user, body, files=ctx.files, flags=flags, interaction=inter)
            self._check_not_empty(message)
            self._apply_mentions(message, channel, body.get("allowed_mentions"))
            self._store(message, channel)
            self._dispatch_message("MESSAGE_CREATE", message, channel)
        inter.followups.append(message)
        if message not in inter.visible:
            inter.visible.append(message)
        if ctx.query.get("wait") in ("1", "true", "True"):
            return 200, message.wire()
        return 204, None

    async def _webhook_get_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        return 200, self._webhook_target(inter, message_id).wire()

    async def _webhook_edit_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        target = self._webhook_target(inter, message_id)
        self._validate_message_body(ctx.body, ctx.files)
        self._check_interaction_thread(self.channels[target.channel_id])
        self._edit(target, ctx.body, ctx.files, self.channels[target.channel_id], check_empty=True)
        if target not in inter.visible:
            inter.visible.append(target)
        return 200, target.wire()

    async def _webhook_delete_message(
        self, ctx: RequestContext, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        inter = self._webhook_interaction(app_id, token)
        target = self._webhook_target(inter, message_id)
        self._delete(target, self.channels[target.channel_id])
        return 204, None
