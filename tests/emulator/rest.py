"""REST v10 plumbing (the aiohttp server, request records, faults, authentication, JSON answers), the helpers the
message-bearing routes share, and the small route groups: session and application, DMs, guilds."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Self

from aiohttp import BodyPartReader, web

from . import rules
from .errors import ApiError, invalid_form
from .payloads import Channel, Guild, StoredMessage, iso
from .ratelimits import RateLimits
from .records import EmulatedInteraction, Fault, RecordedRequest, RequestContext
from .state import EmulatorState

log = logging.getLogger("tests.emulator")

JSON_HEADERS = {"Content-Type": "application/json"}


class RestApi(EmulatorState):
    """The HTTP server and what every route group shares."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.rate_limits = RateLimits()
        """Per-route buckets and the global limit (``ratelimits.py``): headers on every answer, 429s past them."""

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle_api)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._handle_cdn)
        app.router.add_route("*", "/{tail:.*}", self._handle_stray)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.debug("Discord emulator listening on %s", self.root_url)

    async def close(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for owner, name, value in reversed(self._restore):
            setattr(owner, name, value)
        self._restore.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            body: Any = None
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename:
                    data = await part.read(decode=False)
                    files.append(
                        {
                            "field": part.name,
                            "filename": part.filename,
                            "content_type": part.headers.get("Content-Type"),
                            "data": bytes(data),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _json_response(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        extra = dict(headers or {})
        if status == 204 or body is None:
            return web.Response(status=204 if body is None else status, headers=extra)
        return web.Response(status=status, body=json.dumps(body).encode(), headers={**JSON_HEADERS, **extra})

    async def _handle_stray(self, request: web.Request) -> web.Response:
        log.warning("emulator: request outside /api/v10: %s %s", request.method, request.path)
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                None,
                [],
                404,
                None,
                self.now(),
                unknown=True,
            )
        )
        self._notify()
        return self._json_response(404, {"message": "404: Not Found", "code": 0})

    async def _handle_cdn(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload["data"], headers={"Content-Type": upload["content_type"]})

    async def _handle_api(self, request: web.Request) -> web.Response:
        at = self.now()
        path = "/" + request.match_info["tail"]
        method = request.method
        query = dict(request.query)
        record = RecordedRequest(method, path, query, None, [], 0, None, at, headers=dict(request.headers))
        response_headers: dict[str, str] = {}
        try:
            record.json, record.files = await self._read_body(request)
            fault = self._take_fault(method, path)
            if fault is not None:
                record.fault = fault.kind
                status, body, response_headers = fault.status, dict(fault.body), dict(fault.headers)
            elif (verdict := self.rate_limits.check(method, path, self.now())).limited:
                status, body, response_headers = verdict.status, verdict.body, verdict.headers
            else:
                response_headers = verdict.headers
                status, body = await self._route(record, request.headers)
        except ApiError as error:
            status, body, response_headers = error.status, error.body(), {**response_headers, **error.headers}
        except Exception as exc:  # an emulator bug: fail fast (a 5xx would make discord.py retry for 16 s)
            log.exception("emulator: internal error on %s %s", method, path)
            self.internal_errors.append(exc)
            status, body = 400, {"message": f"Emulator internal error: {exc!r}", "code": 0}
        record.status = status
        record.response = body
        self.requests.append(record)
        if status >= 400 and record.fault != "rate_limit":
            self._attach_error(record)
            if record.fault is None:
                log.info("emulator: %s %s → %s %s", method, path, status, body)
        self._notify()
        return self._json_response(status, body, response_headers)

    async def _route(self, record: RecordedRequest, headers: Mapping[str, str]) -> tuple[int, Any]:
        path, method = record.path, record.method
        allowed_methods = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                allowed_methods.append(route_method)
                continue
            if not path.startswith(("/interactions/", "/webhooks/", "/gateway")):
                self._check_auth(headers)
            context = RequestContext(method, path, record.query, record.json, record.files, headers)
            return await handler(context, *match.groups())
        if allowed_methods:
            raise ApiError(405, 0, "405: Method Not Allowed")
        record.unknown = True
        log.warning("emulator: unknown route %s %s", method, path)
        raise ApiError(404, 0, "404: Not Found")

    def _check_auth(self, headers: Mapping[str, str]) -> None:
        authorization = headers.get("Authorization", "")
        if not authorization.startswith("Bot ") or (self.token is not None and authorization != f"Bot {self.token}"):
            raise ApiError(401, 0, "401: Unauthorized")

    def _attach_error(self, record: RecordedRequest) -> None:
        parts = record.path.split("/")
        inter: EmulatedInteraction | None = None
        if record.path.startswith("/interactions/") and len(parts) > 3:
            inter = self._by_token.get(parts[3]) or self.interactions.get(int(parts[2]) if parts[2].isdigit() else 0)
        elif record.path.startswith("/webhooks/") and len(parts) > 3:
            inter = self._by_token.get(parts[3])
        if inter is not None:
            inter.errors.append(record)

    # ------------------------------------------------------------------ routes: session and application

    async def _get_gateway(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.gateway.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": self.gateway.max_concurrency,
            },
        }

    async def _get_me(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, self.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0, "email": None}

    async def _get_user(self, ctx: RequestContext, user_id: str) -> tuple[int, Any]:
        user = self.users.get(int(user_id))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user.payload()

    async def _get_application(self, ctx: RequestContext) -> tuple[int, Any]:
        return 200, {
            "id": str(self.app_id),
            "name": self.bot_user.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "bot": self.bot_user.payload(),
            "summary": "",
            "tags": [],
        }

    async def _create_dm(self, ctx: RequestContext) -> tuple[int, Any]:
        recipient = self.users.get(int(ctx.body.get("recipient_id") or 0))
        if recipient is None:
            raise invalid_form(self._one_error(("recipient_id",), "BASE_TYPE_REQUIRED", "Unknown user"))
        channel = self.dm_channel(recipient.id)
        return 200, channel.payload(recipient=recipient)

    @staticmethod
    def _one_error(path: Sequence[object], code: str, message: str) -> rules.FormErrors:
        errors = rules.FormErrors()
        errors.add(path, code, message)
        return errors

    # ------------------------------------------------------------------ routes: interactions

    def _validate_message_body(
        self, body: Mapping[str, Any], files: Sequence[Mapping[str, Any]], *, prefix: str | None = None
    ) -> None:
        errors = rules.validate_message(body)
        if errors:
            raise invalid_form(self._prefix(errors, prefix) if prefix else errors)
        if any(len(f["data"]) > self.attachment_size_limit for f in files):  # the limit is per file (reference)
            raise ApiError(413, 40005, "Request entity too large")

    @staticmethod
    def _check_not_empty(message: Mapping[str, Any]) -> None:
        if not (
            message.get("content")
            or message.get("embeds")
            or message.get("attachments")
            or message.get("components")
            or message.get("sticker_ids")
            or message.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")

    @staticmethod
    def _prefix(errors: rules.FormErrors, prefix: str) -> rules.FormErrors:
        wrapped = rules.FormErrors()
        wrapped.extend(errors, (prefix,))
        return wrapped

    def _edit(
        self,
        message: StoredMessage,
        body: Mapping[str, Any],
        files: Sequence[Mapping[str, Any]],
        channel: Channel,
        *,
        check_empty: bool = True,
    ) -> None:
        updated = StoredMessage(message)
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                updated[key] = body[key] if body[key] is not None else empty
        if "embeds" in body:
            updated["embeds"] = self._normalize_embeds(updated["embeds"])
        if "allowed_mentions" in body:
            updated["allowed_mentions"] = body["allowed_mentions"]
        if "flags" in body and body["flags"] is not None:
            kept = int(message.get("flags") or 0) & (rules.FLAG_EPHEMERAL | rules.FLAG_LOADING)
            updated["flags"] = kept | (int(body["flags"]) & rules.SENDABLE_FLAGS)
        new_attachments = self._attachments_from_upload(body, files)
        if "attachments" in body:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            updated["attachments"] = [a for a in message.get("attachments") or [] if a["id"] in keep]
        updated["attachments"] = list(updated.get("attachments") or []) + new_attachments
        updated["files"] = [self.uploads[int(a["id"])] for a in updated["attachments"] if int(a["id"]) in self.uploads]
        updated["flags"] = int(updated.get("flags") or 0) & ~rules.FLAG_LOADING
        if check_empty:
            self._check_not_empty(updated)
        updated["edited_timestamp"] = iso()
        message.clear()
        message.update(updated)
        self._apply_mentions(message, channel, message.get("allowed_mentions"))
        self._dispatch_message("MESSAGE_UPDATE", message, channel)
        self._notify()

    # ------------------------------------------------------------------ routes: guilds

    def _rest_guild(self, guild_id: str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        data = guild.base_payload()
        if ctx.query.get("with_counts") in ("1", "true", "True"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return 200, data

    async def _get_guild_channels(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        return 200, [c.payload() for c in guild.channels.values() if not c.is_thread]  # threads are listed elsewhere

    async def _get_guild_roles(self, ctx: RequestContext, guild_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        return 200, [r.payload() for r in guild.roles.values()]

    async def _get_member(self, ctx: RequestContext, guild_id: str, user_id: str) -> tuple[int, Any]:
        guild = self._rest_guild(guild_id)
        member = guild.members.get(int(user_id))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.payload()
