"""A fake Discord on 127.0.0.1: REST under ``/api/v10`` and a gateway websocket.

It is just enough Discord for the real discord.py client: log-in (``/users/@me``,
``/oauth2/applications/@me``), ``/gateway/bot``, channel messages (post, patch, delete),
typing, threads, interaction callbacks and webhook follow-ups, and command sync. Every
REST call is recorded (:attr:`FakeDiscord.calls`, with its arrival time). Messages are
checked against Discord's limits the way Discord does (a 400 with code 50035 "Invalid Form
Body"), so a test fails if the adapter ever sends something Discord would refuse. With
``edit_interval`` set, editing a message again sooner than that answers HTTP 429 the way
Discord does; :attr:`FakeDiscord.first_text_at` and :attr:`FakeDiscord.edit_times` note
when each channel first showed text and when each message was edited.

The gateway speaks v10 JSON without compression: HELLO, IDENTIFY → READY (with the shard
the client asked for) and a GUILD_CREATE per guild of that shard, heartbeat ACKs, and
:meth:`FakeDiscord.dispatch` to push events. ``close_on_identify`` (e.g. 4014) makes it
refuse the session the way Discord does for missing privileged intents.

Rate limits (discord-api-docs, topics/rate-limits): a global limit per bot (50 requests a
second; interaction endpoints are not bound to it) and per-route buckets keyed by the route's
top-level resource (the channel of ``/channels/{id}/...``, the webhook and token of
``/webhooks/{id}/{token}``), see :class:`DiscordLimits`. Every response carries the bucket's
``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After`` and ``-Bucket`` headers (what
discord.py's ``RateLimit.update`` reads), and ``Via`` as Discord's responses do (discord.py
takes a 429 without it for a Cloudflare ban). Over a limit: HTTP 429, ``Retry-After``,
``X-RateLimit-Scope`` (``user`` or ``global``, with ``X-RateLimit-Global`` for the latter) and
the body ``{"message", "retry_after", "global"}``. Limit decisions use the injectable
``clock``.

It lives in the development tools (``tools/devtools``, not under ``tests/``) because
``gloo-bots bench`` drives the real adapter against it; the recorded gateway payloads of the
tests stay in ``tests/``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Self
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from core.web import WebServer, start_web
from devtools.ratelimit import Limiter, Window

DISCORD_EPOCH_MS = 1_420_070_400_000
#: What Discord's responses carry (they come through Google's front end); discord.py's
#: ``HTTPClient.request`` treats a 429 without ``Via`` as a Cloudflare ban and gives up.
VIA: Final = "1.1 google"


@dataclass(frozen=True)
class RouteLimit:
    """A per-route bucket: ``limit`` requests per ``per`` seconds, from the first request
    of the window (Discord's buckets reset at a time: ``X-RateLimit-Reset``)."""

    limit: int
    per: float


#: Per-route limits Discord does not publish ("rate limits should not be hard coded",
#: topics/rate-limits), so these are the observed and commonly documented ones, per channel:
#: creating and editing messages 5 per 5 seconds (discord/discord-api-docs#20, "A 5/5 per
#: server rate limit ... applies to message creation and editing", now per channel as the
#: top-level resource; discord-relay-chat/drc#17, "five in five seconds from observation").
#: Discord answers the two with different buckets, so they are kept apart here.
MESSAGE_CREATE: Final = RouteLimit(limit=5, per=5.0)
MESSAGE_EDIT: Final = RouteLimit(limit=5, per=5.0)
#: Typing and starting threads: the same widely observed 5 per 5 s per channel (issue 23's
#: load test; Discord publishes no number for either route).
TYPING: Final = RouteLimit(limit=5, per=5.0)
THREAD_START: Final = RouteLimit(limit=5, per=5.0)
#: Adding a reaction: 1 per second per channel, as Discord's headers advertise (it admits
#: about 1 per 250 ms, discord/discord-api-docs#182: "It's better to just rate limit it to
#: 1/1 like the rate limit advertises").
REACTION: Final = RouteLimit(limit=1, per=1.0)
#: Every other route: no limit was found published or observed, so its bucket is as wide as
#: the global limit (it never binds first) but still answers the headers.
OTHER_ROUTES: Final = RouteLimit(limit=50, per=1.0)
#: topics/rate-limits, "Global Rate Limit": "All bots can make up to 50 requests per second
#: to our API", independent of per-route limits; "Interaction endpoints are not bound to the
#: bot's Global Rate Limit".
GLOBAL_PER_SECOND: Final = 50

ROUTE_MESSAGES: Final = ("POST", r"/channels/(\d+)/messages")
ROUTE_MESSAGE: Final = ("PATCH", r"/channels/(\d+)/messages/(\d+)")
ROUTE_TYPING: Final = ("POST", r"/channels/(\d+)/typing")
ROUTE_THREAD_FROM_MESSAGE: Final = ("POST", r"/channels/(\d+)/messages/(\d+)/threads")
ROUTE_REACTION: Final = ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me")


@dataclass(frozen=True)
class DiscordLimits:
    """The REST limits :class:`FakeDiscord` enforces (see the constants above)."""

    #: Requests a second per bot across routes (``None``: no global limit).
    global_per_second: int | None = GLOBAL_PER_SECOND
    #: (method, route pattern of :meth:`FakeDiscord._routes`) → its bucket.
    routes: Mapping[tuple[str, str], RouteLimit] = field(
        default_factory=lambda: {
            ROUTE_MESSAGES: MESSAGE_CREATE,
            ROUTE_MESSAGE: MESSAGE_EDIT,
            ROUTE_TYPING: TYPING,
            ROUTE_THREAD_FROM_MESSAGE: THREAD_START,
            ROUTE_REACTION: REACTION,
        }
    )
    #: The bucket of any other route (``None``: those answer no rate-limit headers).
    other_routes: RouteLimit | None = OTHER_ROUTES


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    at: float  # time.perf_counter() on arrival
    status: int = 0
    #: The rate-limit headers of its answer.
    headers: dict[str, str] = field(default_factory=dict)
    #: The bucket it was counted in (``X-RateLimit-Bucket``) and its top-level resource.
    bucket: str = ""


@dataclass
class Session:
    ws: web.WebSocketResponse
    shard: tuple[int, int] = (0, 1)
    sequence: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    intents: int = 0


class InvalidForm(Exception):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(json.dumps(errors))
        self.errors = errors


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "fake-bot-token",  # noqa: S107 - the fake's own test token
        bot_id: int = 900_000_000_000_000_001,
        application_id: int | None = None,
        recommended_shards: int = 1,
        close_on_identify: int | None = None,
        echo_own_messages: bool = True,
        refuse_threads: bool = False,
        application_flags: int = 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is on
        edit_interval: float | None = None,
        interaction_deadline: float = 3.0,
        limits: DiscordLimits | None = DiscordLimits(),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.application_id = application_id or bot_id
        self.recommended_shards = recommended_shards
        self.close_on_identify = close_on_identify
        self.echo_own_messages = echo_own_messages
        self.refuse_threads = refuse_threads
        self.application_flags = application_flags
        #: When set, editing a message again within this many seconds answers HTTP 429.
        self.edit_interval = edit_interval
        #: The REST rate limits enforced (``None``: none, and no rate-limit headers).
        self.limits = limits
        #: The clock of the rate-limit decisions (tests pass a fake one).
        self.clock = clock
        self._global = Limiter()
        self._windows: dict[tuple[str, str], _Window] = {}
        self.calls: list[Call] = []
        #: (method, path pattern) → the event its calls wait on to be answered (:meth:`hold`).
        self._held: dict[tuple[str, str], asyncio.Event] = {}
        #: channel id → ``time.perf_counter()`` of the first bot message with text there; for
        #: replies also the id of the question answered (see :meth:`_answered`).
        self.first_text_at: dict[int, float] = {}
        #: message id → the time of its one edit let through within ``edit_interval`` (the
        #: final change, which pacing does not hold back).
        self.final_edits: dict[int, float] = {}
        #: channel id (and question id, as :attr:`first_text_at`) → ``time.perf_counter()``
        #: when a bot message there first carried components (a finished answer's buttons).
        self.completed_at: dict[int, float] = {}
        #: message id → ``time.perf_counter()`` of every successful edit.
        self.edit_times: dict[int, list[float]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        #: message id → the emoji the bot added to it, and when it first added one.
        self.reactions: dict[int, list[str]] = {}
        self.reacted_at: dict[int, float] = {}
        #: A bot message's id → what it answers (see :meth:`_answered`).
        self._answers: dict[int, tuple[int, ...]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.sessions: list[Session] = []
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> interaction payload
        self.callbacks: dict[int, dict[str, Any]] = {}  # interaction id -> callback body
        #: Seconds an interaction may wait for its initial response (Discord: 3 s from the
        #: event; later, the callback answers 404 "Unknown interaction", code 10062, and the
        #: token is invalidated).
        self.interaction_deadline = interaction_deadline
        #: interaction token → ``time.perf_counter()`` when INTERACTION_CREATE was dispatched.
        self.dispatched_at: dict[str, float] = {}
        #: interaction ids whose initial response came too late (refused with 10062).
        self.expired: set[int] = set()
        #: Ids of users who accept no direct messages from server members: a bot message to
        #: their DM answers 403, code 50007 "Cannot send messages to this user".
        self.closed_dms: set[str] = set()
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._server: WebServer | None = None
        self.bot_user = {
            "id": str(bot_id),
            "username": "Gloo",
            "global_name": "Gloo",
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "flags": 0,
        }

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._server = await start_web(app, "127.0.0.1", 0, shutdown_timeout=0.5)
        return self

    async def close(self) -> None:
        for session in self.sessions:
            if not session.ws.closed:
                await session.ws.close()
        if self._server is not None:
            await self._server.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    # --- world -------------------------------------------------------------------------------

    def snowflake(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._ids) & 0x3FFFFF)

    def add_guild(self, guild_id: int, channel_ids: list[int], name: str = "Test Server") -> None:
        channels: list[dict[str, Any]] = [
            {
                "id": str(cid),
                "type": 0,
                "guild_id": str(guild_id),
                "name": f"general-{n}",
                "position": n,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
            for n, cid in enumerate(channel_ids)
        ]
        for channel in channels:
            self.channels[int(channel["id"])] = channel
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": "1",
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": "2248473465835073",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "channels": channels,
            "threads": [],
            "members": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def add_dm(self, channel_id: int, user: dict[str, Any]) -> None:
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "recipients": [user],
            "last_message_id": None,
        }

    def guild_threads(self, guild_id: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.channels.values()
            if c.get("guild_id") == str(guild_id) and c["type"] == 11
        ]

    # --- gateway -------------------------------------------------------------------------------

    async def wait_identified(self, count: int = 1, within: float = 10) -> None:
        async def identified() -> bool:
            return sum(s.identified.is_set() for s in self.sessions) >= count

        await self.wait_for(identified, within)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH to the sessions that own it (guild events go to their shard)."""
        guild_id = data.get("guild_id")
        for session in list(self.sessions):
            if not session.identified.is_set() or session.ws.closed:
                continue
            if guild_id is not None:
                shard_id, count = session.shard
                if (int(guild_id) >> 22) % count != shard_id:
                    continue
            session.sequence += 1
            await session.ws.send_str(
                json.dumps({"op": 0, "t": event, "s": session.sequence, "d": data})
            )

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = Session(ws)
        self.sessions.append(session)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            op = frame.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                await self._identify(session, frame["d"])
            elif op == 6:  # RESUME: this fake keeps no sessions; start a new one
                await ws.send_str(json.dumps({"op": 9, "d": False}))
        return ws

    async def _identify(self, session: Session, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.close_on_identify is not None:
            await session.ws.close(code=self.close_on_identify, message=b"Disallowed intent(s).")
            return
        shard = tuple(data.get("shard") or (0, 1))
        session.shard = (int(shard[0]), int(shard[1]))
        session.intents = int(data.get("intents", 0))
        guilds = [
            g
            for gid, g in self.guilds.items()
            if (gid >> 22) % session.shard[1] == session.shard[0]
        ]
        session.sequence += 1
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": f"session-{len(self.sessions)}",
            "resume_gateway_url": self.gateway_url,
            "shard": list(session.shard),
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await session.ws.send_str(
            json.dumps({"op": 0, "t": "READY", "s": session.sequence, "d": ready})
        )
        for guild in guilds:
            guild = {**guild, "threads": self.guild_threads(int(guild["id"]))}
            session.sequence += 1
            await session.ws.send_str(
                json.dumps({"op": 0, "t": "GUILD_CREATE", "s": session.sequence, "d": guild})
            )
        session.identified.set()
        await self._notify()

    # --- events the tests send -----------------------------------------------------------------

    def user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
        }

    async def interaction(self, data: dict[str, Any]) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE ``data`` (remembering its token for follow-ups)."""
        self.interactions[data["token"]] = data
        self.dispatched_at[data["token"]] = time.perf_counter()
        await self.dispatch("INTERACTION_CREATE", data)
        return data

    def acknowledged_after(self, interaction: dict[str, Any]) -> float:
        """Seconds from dispatching ``interaction`` to its accepted initial response."""
        iid = interaction["id"]
        [call] = [
            c
            for c in self.calls_to("POST", rf"/interactions/{iid}/[\w-]+/callback")
            if c.status == 200
        ]
        return call.at - self.dispatched_at[interaction["token"]]

    # --- REST ---------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                body = json.loads(raw) if request.content_type == "application/json" else raw
        call = Call(request.method, path, dict(request.query), body, time.perf_counter())
        self.calls.append(call)
        for (method, pattern), held in list(self._held.items()):
            if method == call.method and re.fullmatch(pattern, path) and not held.is_set():
                await self._notify()
                await held.wait()
        try:
            status, data = await self._route(request, call)
        except InvalidForm as exc:
            status, data = (
                400,
                {"code": 50035, "message": "Invalid Form Body", "errors": exc.errors},
            )
        call.status = status
        await self._notify()
        headers = {"Via": VIA, **call.headers}
        if status == 204:
            return web.Response(status=204, headers=headers)
        headers["Content-Type"] = "application/json"
        if status == 429 and "Retry-After" not in headers:  # the edit interval's refusal
            reset_after = str(data["retry_after"])
            headers.update(
                {
                    "Retry-After": str(math.ceil(data["retry_after"])),
                    "X-RateLimit-Limit": "1",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": reset_after,
                    "X-RateLimit-Bucket": "fake-message-edit",
                    "X-RateLimit-Scope": "user",
                }
            )
        return web.Response(status=status, body=json.dumps(data).encode(), headers=headers)

    # --- rate limits ------------------------------------------------------------------------

    def _rate_limit(
        self, call: Call, route: tuple[str, str], groups: tuple[str, ...]
    ) -> float | None:
        """Count ``call`` in its bucket and in the global limit: ``None`` when both admit
        it, else the seconds to wait (nothing is counted then). Sets ``call.headers``."""
        if self.limits is None:
            return None
        now = self.clock()
        limit = self.limits.routes.get(route, self.limits.other_routes)
        bucket = f"{zlib.crc32(' '.join(route).encode()):08x}"
        top = self._top_level(route[1], groups)
        call.bucket = f"{bucket}:{top}"
        window = None
        if limit is not None:
            window = self._windows.get((bucket, top))
            if window is None or now >= window.started + limit.per:
                window = self._windows[(bucket, top)] = _Window(started=now)
            reset_after = max(0.0, window.started + limit.per - now)
            if window.used >= limit.limit:
                call.headers = self._bucket_headers(limit, 0, reset_after, bucket)
                call.headers.update(
                    {"Retry-After": str(math.ceil(reset_after)), "X-RateLimit-Scope": "user"}
                )
                return reset_after
        interaction = route[1].startswith(("/interactions/", "/webhooks/"))
        if self.limits.global_per_second is not None and not interaction:
            rule = Window(calls=self.limits.global_per_second, seconds=1.0)
            wait = self._global.take("global", rule, now)
            if wait is not None:
                call.headers = {
                    "Retry-After": str(math.ceil(wait)),
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                }
                call.bucket = "global"
                return wait
        if limit is not None and window is not None:
            window.used += 1
            reset_after = max(0.0, window.started + limit.per - now)
            remaining = limit.limit - window.used
            call.headers = self._bucket_headers(limit, remaining, reset_after, bucket)
        return None

    @staticmethod
    def _top_level(pattern: str, groups: tuple[str, ...]) -> str:
        """The route's top-level resource: a channel or guild id, or a webhook id and token."""
        if pattern.startswith(("/channels/", "/guilds/")) and groups:
            return groups[0]
        if pattern.startswith("/webhooks/") and len(groups) >= 2:
            return f"{groups[0]}/{groups[1]}"
        return ""

    @staticmethod
    def _bucket_headers(
        limit: RouteLimit, remaining: int, reset_after: float, bucket: str
    ) -> dict[str, str]:
        """topics/rate-limits, "Header Format": the bucket's state after this request."""
        return {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    @staticmethod
    def _ratelimited(call: Call, retry_after: float) -> tuple[int, Any]:
        """topics/rate-limits, "Exceeding A Rate Limit": the 429's JSON body."""
        return 429, {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": call.headers.get("X-RateLimit-Global") == "true",
        }

    def count_429(self) -> int:
        """How many REST calls were answered 429 (any cause)."""
        return sum(1 for call in self.calls if call.status == 429)

    def _too_soon(self, message_id: int, at: float) -> tuple[int, Any] | None:
        """A 429 when ``message_id`` was edited less than ``edit_interval`` seconds ago,
        except once per message: its final change (the answer with its buttons)."""
        if self.edit_interval is None:
            return None
        edits = self.edit_times.get(message_id)
        wait = edits[-1] + self.edit_interval - at if edits else 0.0
        if wait <= 0:
            return None
        if message_id not in self.final_edits:
            self.final_edits[message_id] = at
            return None
        return 429, {
            "message": "You are being rate limited.",
            "retry_after": round(wait, 3),
            "global": False,
        }

    def _bot_authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _route(self, request: web.Request, call: Call) -> tuple[int, Any]:
        method, path, body = call.method, call.path, call.body
        for pattern, handler in self._routes():
            match = re.fullmatch(pattern[1], path)
            if match and pattern[0] == method:
                webhook = path.startswith(("/interactions/", "/webhooks/"))
                if not webhook and not self._bot_authorized(request):
                    return 401, {"message": "401: Unauthorized", "code": 0}
                wait = self._rate_limit(call, pattern, match.groups())
                if wait is not None:
                    return self._ratelimited(call, wait)
                if handler == self._list_messages:
                    return await self._list_messages(dict(request.query), *match.groups())
                return await handler(body, *match.groups())
        return 404, {"message": f"Unknown route {method} {path}", "code": 0}

    def _routes(
        self,
    ) -> list[tuple[tuple[str, str], Callable[..., Awaitable[tuple[int, Any]]]]]:
        return [
            (("GET", r"/users/@me"), self._me),
            (("POST", r"/users/@me/channels"), self._create_dm),
            (("GET", r"/oauth2/applications/@me"), self._application),
            (("GET", r"/gateway/bot"), self._gateway_bot),
            (("GET", r"/channels/(\d+)/messages"), self._list_messages),
            (("GET", r"/channels/(\d+)/messages/(\d+)"), self._get_message),
            (("POST", r"/channels/(\d+)/messages"), self._post_message),
            (("PATCH", r"/channels/(\d+)/messages/(\d+)"), self._patch_message),
            (("DELETE", r"/channels/(\d+)/messages/(\d+)"), self._delete_message),
            (ROUTE_TYPING, self._typing),
            (ROUTE_THREAD_FROM_MESSAGE, self._thread_from_message),
            (ROUTE_REACTION, self._react),
            (("GET", r"/channels/(\d+)"), self._get_channel),
            (("POST", r"/interactions/(\d+)/([\w-]+)/callback"), self._callback),
            (("POST", r"/webhooks/(\d+)/([\w-]+)"), self._followup),
            (("PATCH", r"/webhooks/(\d+)/([\w-]+)/messages/(@original|\d+)"), self._edit_followup),
            (("PUT", r"/applications/(\d+)/commands"), self._put_commands),
            (("PUT", r"/applications/(\d+)/guilds/(\d+)/commands"), self._put_guild_commands),
            (("GET", r"/applications/(\d+)/commands"), self._get_commands),
        ]

    async def _me(self, body: Any) -> tuple[int, Any]:
        return 200, self.bot_user

    async def _application(self, body: Any) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": "Gloo",
            "icon": None,
            "description": "Gloo AI in Discord",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "owner": self.user(1, "owner"),
            "team": None,
            "interactions_endpoint_url": None,
        }

    async def _gateway_bot(self, body: Any) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": 1,
            },
        }

    async def _typing(self, body: Any, channel_id: str) -> tuple[int, Any]:
        return 204, None

    async def _react(
        self, body: Any, channel_id: str, message_id: str, emoji: str
    ) -> tuple[int, Any]:
        """resources/message, Create Reaction: 204 (also for a reaction already there)."""
        self.reactions.setdefault(int(message_id), []).append(unquote(emoji))
        self.reacted_at.setdefault(int(message_id), time.perf_counter())
        return 204, None

    async def _get_channel(self, body: Any, channel_id: str) -> tuple[int, Any]:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return 404, {"message": "Unknown Channel", "code": 10003}
        return 200, channel

    def _new_message(
        self, channel_id: str, body: dict[str, Any], author: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        validate_message(body)
        channel = self.channels.get(int(channel_id), {})
        message_id = self.snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": 19 if body.get("message_reference") else 0,
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": body.get("flags", 0) or 0,
            **extra,
        }
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        if body.get("message_reference"):
            reference = {
                k: str(v) if k.endswith("_id") else v for k, v in body["message_reference"].items()
            }
            reference.pop("fail_if_not_exists", None)
            reference.setdefault("channel_id", channel_id)
            message["message_reference"] = {"type": 0, **reference}
            # A reply carries the message it answers (resources/message, referenced_message).
            replied = self.messages.get(int(reference.get("message_id") or 0))
            if replied is not None:  # (the people's messages the tests send are not kept)
                message["referenced_message"] = {
                    k: v for k, v in replied.items() if k != "referenced_message"
                }
        self.messages[message_id] = message
        if author is self.bot_user:
            self._answers[message_id] = self._answered(int(channel_id), message)
            for key in self._answers[message_id]:
                if message["content"]:
                    self.first_text_at.setdefault(key, time.perf_counter())
                if message["components"]:
                    self.completed_at.setdefault(key, time.perf_counter())
        return message

    def _answered(self, channel_id: int, message: dict[str, Any]) -> tuple[int, ...]:
        """What a bot message answers, as keys of :attr:`first_text_at`: its channel (a thread
        or DM), and for a reply the question it replies to, or the question of the answer it
        continues (a reply chain's later parts)."""
        reference = message.get("message_reference") or {}
        replied = int(reference.get("message_id") or 0)
        if not replied:
            return (channel_id,)
        earlier = self._answers.get(replied)
        return (channel_id, earlier[-1] if earlier else replied)

    async def _list_messages(self, query: dict[str, str], channel_id: str) -> tuple[int, Any]:
        """``GET /channels/{id}/messages?after=&limit=``: newest first, as Discord lists them."""
        after = int(query.get("after") or 0)
        limit = min(int(query.get("limit") or 50), 100)
        found = [
            m
            for m in self.messages.values()
            if m["channel_id"] == channel_id and int(m["id"]) > after
        ]
        found.sort(key=lambda m: int(m["id"]), reverse=True)
        return 200, found[:limit]

    async def _get_message(self, body: Any, channel_id: str, message_id: str) -> tuple[int, Any]:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 200, message

    async def _create_dm(self, body: Any) -> tuple[int, Any]:
        """POST /users/@me/channels ``{"recipient_id"}``: the DM channel object (type 1),
        the same one for the same person (discord-api-docs, Resources → User, Create DM)."""
        recipient = str((body or {}).get("recipient_id", ""))
        for channel in self.channels.values():
            if channel["type"] == 1 and any(u["id"] == recipient for u in channel["recipients"]):
                # A full user object per recipient, as Discord sends it.
                people = [
                    {**self.user(int(u["id"]), str(u.get("username", ""))), **u}
                    for u in channel["recipients"]
                ]
                return 200, {**channel, "recipients": people}
        channel_id = self.snowflake()
        self.add_dm(channel_id, self.user(int(recipient), f"user-{recipient[-4:]}"))
        return 200, self.channels[channel_id]

    async def _post_message(self, body: Any, channel_id: str) -> tuple[int, Any]:
        channel = self.channels.get(int(channel_id), {})
        if channel.get("type") == 1 and any(
            u["id"] in self.closed_dms for u in channel.get("recipients", [])
        ):
            return 403, {"message": "Cannot send messages to this user", "code": 50007}
        message = self._new_message(channel_id, body or {}, self.bot_user)
        if self.echo_own_messages:
            await self.dispatch("MESSAGE_CREATE", message)
        return 200, message

    def _edit(self, message_id: int, body: dict[str, Any]) -> tuple[int, Any]:
        message = self.messages.get(message_id)
        if message is None:
            return 404, {"message": "Unknown Message", "code": 10008}
        now = time.perf_counter()
        refused = self._too_soon(message_id, now)
        if refused is not None:
            return refused
        merged = {
            **message,
            **{k: v for k, v in body.items() if k in ("content", "embeds", "components")},
        }
        validate_message(merged)
        merged["edited_timestamp"] = datetime.now(UTC).isoformat()
        self.messages[message_id] = merged
        self.edit_times.setdefault(message_id, []).append(now)
        if merged.get("components") and merged["author"]["id"] == self.bot_user["id"]:
            for key in self._answers.get(message_id, (int(merged["channel_id"]),)):
                self.completed_at.setdefault(key, now)
        return 200, merged

    async def _patch_message(self, body: Any, channel_id: str, message_id: str) -> tuple[int, Any]:
        return self._edit(int(message_id), body or {})

    async def _delete_message(self, body: Any, channel_id: str, message_id: str) -> tuple[int, Any]:
        self.messages.pop(int(message_id), None)
        return 204, None

    async def _thread_from_message(
        self, body: Any, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        name = (body or {}).get("name") or ""
        if not 1 <= len(name) <= 100:
            raise InvalidForm({"name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}})
        if self.refuse_threads:
            return 403, {"message": "Missing Permissions", "code": 50013}
        if int(message_id) in self.channels:
            return 400, {
                "message": "A thread has already been created for this message",
                "code": 160004,
            }
        thread = self.add_thread(int(channel_id), name, thread_id=int(message_id))
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return 201, thread

    def add_thread(
        self, parent_id: int, name: str, *, thread_id: int | None = None
    ) -> dict[str, Any]:
        """A public thread in ``parent_id`` (as Discord describes it)."""
        parent = self.channels[parent_id]
        message_id = str(thread_id or self.snowflake())
        thread = {
            "id": message_id,
            "type": 11,
            "guild_id": parent["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(self.bot_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }
        self.channels[int(message_id)] = thread
        return thread

    async def _callback(self, body: Any, interaction_id: str, token: str) -> tuple[int, Any]:
        interaction = self.interactions.get(token)
        if interaction is None or interaction["id"] != interaction_id:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if int(interaction_id) in self.callbacks:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        # discord-api-docs, interactions/receiving-and-responding: "you must send an initial
        # response within 3 seconds of receiving the event. If the 3 second deadline is
        # exceeded, the token will be invalidated." (10062: topics/opcodes-and-status-codes)
        waited = time.perf_counter() - self.dispatched_at.get(token, time.perf_counter())
        if waited > self.interaction_deadline or int(interaction_id) in self.expired:
            self.expired.add(int(interaction_id))
            return 404, {"message": "Unknown interaction", "code": 10062}
        self.callbacks[int(interaction_id)] = body
        kind = body["type"]
        result: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": interaction["type"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64),
            }
        }
        if kind in (4, 5):  # a message (or a "thinking" placeholder) answers the interaction
            data = body.get("data") or {}
            message = self._new_message(
                interaction["channel_id"],
                data,
                self.bot_user,
                interaction_token=token,
                webhook_id=str(self.application_id),
            )
            interaction["original_message_id"] = message["id"]
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": kind, "message": message}
        return 200, result

    def _token_valid(self, token: str) -> dict[str, Any] | None:
        interaction = self.interactions.get(token)
        if interaction is None or int(interaction["id"]) in self.expired:
            return None
        return interaction

    async def _followup(self, body: Any, application_id: str, token: str) -> tuple[int, Any]:
        interaction = self._token_valid(token)
        if interaction is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        callback = self.callbacks.get(int(interaction["id"])) or {}
        if callback.get("type") == 5 and not interaction.get("followed_up"):
            # receiving-and-responding, Create Followup Message: directly after a
            # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE it edits the loading message instead
            # (deprecated), keeping the deferral's ephemeral flag.
            interaction["followed_up"] = True
            body = {k: v for k, v in (body or {}).items() if k != "flags"}
            return self._edit(int(interaction["original_message_id"]), body)
        interaction["followed_up"] = True
        message = self._new_message(
            interaction["channel_id"],
            body or {},
            self.bot_user,
            interaction_token=token,
            webhook_id=application_id,
        )
        return 200, message

    async def _edit_followup(
        self, body: Any, application_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        interaction = self._token_valid(token)
        if interaction is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        if message_id == "@original":
            message_id = interaction.get("original_message_id", "0")
            interaction["followed_up"] = True  # the loading message is filled in
        return self._edit(int(message_id), body or {})

    async def _put_commands(self, body: Any, application_id: str) -> tuple[int, Any]:
        self.commands = [
            {
                # application-commands, "Application Command Object": description is an
                # "Empty string for USER and MESSAGE commands" in what Discord answers.
                "description": "",
                **command,
                "id": str(self.snowflake()),
                "application_id": application_id,
                "version": "1",
            }
            for command in body
        ]
        return 200, self.commands

    async def _put_guild_commands(
        self, body: Any, application_id: str, guild_id: str
    ) -> tuple[int, Any]:
        return await self._put_commands(
            [{**command, "guild_id": guild_id} for command in body], application_id
        )

    async def _get_commands(self, body: Any, application_id: str) -> tuple[int, Any]:
        return 200, self.commands

    # --- assertions -------------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, condition: Callable[[], Awaitable[bool]], within: float = 10) -> None:
        """Wait (without sleeping) until ``condition()`` holds after some REST call or identify."""

        async def wait() -> None:
            async with self._changed:
                while not await condition():
                    await self._changed.wait()

        await asyncio.wait_for(wait(), within)

    def hold(self, method: str, pattern: str) -> asyncio.Event:
        """Calls of ``method`` on a path matching ``pattern`` are recorded, then wait to be
        answered until the returned event is set (a slow Discord, at a moment the test
        chooses)."""
        return self._held.setdefault((method, pattern), asyncio.Event())

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    def message_sends(self) -> list[Call]:
        """Every call that creates or edits a message (channel or interaction webhook)."""
        return [
            c
            for c in self.calls
            if (c.method == "POST" and re.fullmatch(r"/channels/\d+/messages", c.path))
            or (c.method == "PATCH" and re.fullmatch(r"/channels/\d+/messages/\d+", c.path))
            or (c.method == "POST" and re.fullmatch(r"/webhooks/\d+/[\w-]+", c.path))
            or (c.method == "PATCH" and c.path.startswith("/webhooks/"))
            or (c.method == "POST" and c.path.endswith("/callback") and c.body["type"] in (4, 7))
        ]

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]


def validate_message(body: dict[str, Any]) -> None:
    """Refuse what Discord refuses (400, code 50035), for the limits the adapter must keep."""
    errors: dict[str, Any] = {}
    content = body.get("content") or ""
    if len(content) > 2000:
        errors["content"] = {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]
        }
    for n, embed in enumerate(body.get("embeds") or []):
        if len(embed.get("description") or "") > 4096:
            errors[f"embeds.{n}.description"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
        if len(embed.get("title") or "") > 256:
            errors[f"embeds.{n}.title"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
    rows = body.get("components") or []
    if len(rows) > 5:
        errors["components"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
    total = 0
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        total += len(buttons)
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            errors[f"components.{r}"] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}
        for b, button in enumerate(buttons):
            where = f"components.{r}.components.{b}"
            if len(button.get("label") or "") > 80:
                errors[f"{where}.label"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
            if not button.get("label") and not button.get("emoji"):
                errors[f"{where}"] = {"_errors": [{"code": "COMPONENT_LABEL_OR_EMOJI_REQUIRED"}]}
            if button.get("style") == 5:
                url = button.get("url") or ""
                if (
                    not url.startswith(("http://", "https://"))
                    or len(url) > 512
                    or "custom_id" in button
                ):
                    errors[f"{where}.url"] = {"_errors": [{"code": "URL_TYPE_INVALID_URL"}]}
            elif not 1 <= len(button.get("custom_id") or "") <= 100:
                errors[f"{where}.custom_id"] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}
    if total > 25:
        errors["components"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
    custom_ids = [
        b.get("custom_id")
        for row in rows
        for b in row.get("components") or []
        if b.get("custom_id")
    ]
    if len(custom_ids) != len(set(custom_ids)):
        errors["components.custom_id"] = {"_errors": [{"code": "COMPONENT_CUSTOM_ID_DUPLICATED"}]}
    if errors:
        raise InvalidForm(errors)
