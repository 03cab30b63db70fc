"""A fake Slack Web API (and socket-mode server) on 127.0.0.1, for tests and ``gloo-bots bench``.

It records every call (with its arrival time), keeps the messages it was asked to post,
edit and stream (with the time of every edit and of the first text shown in each thread),
validates blocks the way Slack does (``slack_sdk.models.blocks`` plus the message limits),
answers ``ok: false`` errors and HTTP 429 with ``Retry-After`` on demand — or on its own
for a message edited again sooner than ``edit_interval`` seconds, when one is given (except
its final change: ``chat.stopStream``, or one ``chat.update`` per message) — serves
``response_url`` posts, ``apps.connections.open`` with a local websocket, and
``oauth.v2.access``. It lives in the development tools (``tools/devtools``, not under
``tests/``) because the benchmark drives the real adapter against it.

Published limits it enforces (docs.slack.dev):

* The Web API's rate limits per workspace (team) and method, per minute
  (docs.slack.dev/apis/web-api/rate-limits: limits apply "per API method per workspace/team
  per app"; each method's tier from its page, docs.slack.dev/reference/methods/NAME, "Rate
  Limits"): see :class:`SlackLimits`. Over a limit the fake answers as Slack does: HTTP 429,
  ``Retry-After`` in whole seconds, body ``{"ok": false, "error": "ratelimited"}``. Calls
  and 429s are counted per (team, method) in :attr:`FakeSlack.usage`.
* ``conversations.replies`` / ``conversations.history``: for apps outside the Marketplace one
  call a minute per method and workspace (HTTP 429 with ``Retry-After`` after that), and at
  most 15 messages per call (changelog 2025-05-29, "Rate limit changes for non-Marketplace
  apps"); ``history_per_minute=None`` lifts that to their Tier 3 (a Marketplace app).
* ``context_actions`` blocks hold at most 5 elements; a ``feedback_buttons`` element needs
  both buttons, each with plain text of at most 75 characters and a ``value`` of at most
  2,000 (reference/block-kit/block-elements/feedback-buttons-element).
* ``views.publish`` (``type: home``), ``views.open`` (``type: modal``, a ``trigger_id`` used
  once) and ``views.update``: at most 100 blocks, a modal title of at most 24 characters
  (slack_sdk's ``View`` validation, reference/views). A trigger handed out by
  :meth:`FakeSlack.trigger_id` expires :data:`TRIGGER_TTL_S` (3) seconds after it was issued
  (surfaces/modals: "trigger_id … expires in 3 seconds"), answering ``expired_trigger_id``;
  ``private_metadata`` holds at most 3,000 characters (reference/surfaces/views).
* ``assistant.threads.setSuggestedPrompts``: ``channel_id`` and at most 4 prompts of
  ``title`` and ``message``; ``thread_ts`` is optional (reference/methods).
* Streamed ``chunks`` (docs.slack.dev/reference/methods/chat.startStream, "Using the chunks
  parameter"): ``markdown_text`` (``text``), ``task_update`` (``id``, ``title``, ``status``
  one of ``pending``/``in_progress``/``complete``/``error``, optional ``details``,
  ``output``, ``sources`` of URL source elements ``{type: url, url, text}``:
  reference/block-kit/block-elements/url-source-element), ``plan_update`` (``title``) and
  ``blocks``; anything else is ``invalid_chunks``. Slack publishes no lengths for task
  cards: the fake holds them to the renderer's (title 150, source text 75, url 3,000, 25
  sources). A :class:`Team` with ``refuses_tasks`` answers that error to any call carrying
  a ``task_update`` or ``plan_update`` (a workspace without task cards).
* ``users.info`` answers the user objects of :attr:`FakeSlack.users` (any other ``U…`` id
  as a plain member); ``chat.getPermalink`` a link for a message it knows (or a person's
  thread root).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from core.web import WebServer, start_web
from devtools.ratelimit import Bucket, Limiter, Window, retry_after_seconds

T = TypeVar("T")

TEAM_ID = "T0TEAM001"
BOT_USER_ID = "U0GLOOBOT"
BOT_ID = "B0GLOOBOT"
BOT_TOKEN = "xoxb-test-token"  # noqa: S105 - the fake's own token
APP_TOKEN = "xapp-test-token"  # noqa: S105 - the fake's own token
FAKE_APP_ID = "A0FAKEAPP1"
#: Seconds a trigger_id can open a modal (docs.slack.dev/surfaces/modals).
TRIGGER_TTL_S: Final = 3.0
#: Characters a view's private_metadata may hold (docs.slack.dev/reference/surfaces/views).
PRIVATE_METADATA_LIMIT: Final = 3_000

#: Calls that change a message already posted.
EDIT_METHODS = frozenset({"chat.update", "chat.appendStream", "chat.stopStream"})
#: Calls that can put answer text in front of a reader.
TEXT_METHODS = frozenset({"chat.postMessage", "chat.startStream", *EDIT_METHODS})
#: Tier 1 for apps outside the Slack Marketplace: 1 call a minute, at most 15 results.
HISTORY_METHODS = frozenset({"conversations.replies", "conversations.history"})
HISTORY_LIMIT = 15
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100

# Slack's Web API tiers, calls a minute per workspace and method
# (docs.slack.dev/apis/web-api/rate-limits, "Overview": Tier 1 1+, Tier 2 20+, Tier 3 50+,
# Tier 4 100+ per minute). The fake enforces the floor of each tier: what Slack promises.
TIER_2: Final = 20
TIER_3: Final = 50
TIER_4: Final = 100

#: method → calls a minute per workspace, from each method's reference page
#: (docs.slack.dev/reference/methods/NAME, "Rate Limits"): chat.startStream and
#: chat.stopStream Tier 2; chat.update, reactions.add and conversations.* Tier 3
#: (conversations.history/replies of non-Marketplace apps: see ``history_per_minute``);
#: chat.appendStream Tier 4.
PUBLISHED_TIERS: Final[Mapping[str, int]] = {
    "chat.startStream": TIER_2,
    "chat.stopStream": TIER_2,
    "chat.update": TIER_3,
    "reactions.add": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.info": TIER_3,
    "conversations.open": TIER_3,
    "conversations.join": TIER_3,
    "chat.appendStream": TIER_4,
    # docs.slack.dev/reference/methods/assistant.threads.setTitle: Tier 4.
    "assistant.threads.setTitle": TIER_4,
}

#: chat.postMessage, per workspace and channel: "generally allows posting one message per
#: second per channel" (docs.slack.dev/apis/web-api/rate-limits, "Special Tier"), and for
#: "Posting messages": "1 per second; short bursts >1 allowed. If you attempt bursts, there
#: is no guarantee..." (same page). Slack names no burst size, so the fake takes the
#: smallest burst that wording promises: 2 at once, then 1 a second.
POST_MESSAGE: Final = Bucket(rate=1.0, burst=2)

#: assistant.threads.setStatus, per workspace and channel: its reference page says "Special
#: rate limits apply" and names no number; Slack's own Java SDK keys its limit per workspace
#: and channel (com.slack.api.methods.MethodsCustomRateLimitResolver,
#: getCustomAllowedRequestsForAssistantThreadsSetStatusPerMinute(teamId, channel)), and
#: slack-morphism allows 1 a second (src/api/assistant.rs). 60 a minute per channel.
SET_STATUS: Final = Window(calls=60, seconds=60.0)


@dataclass(frozen=True)
class SlackLimits:
    """The Web API limits :class:`FakeSlack` enforces (the published ones by default)."""

    #: method → calls allowed in any 60 s per workspace.
    per_minute: Mapping[str, int] = field(default_factory=lambda: dict(PUBLISHED_TIERS))
    #: chat.postMessage per workspace and channel (``None``: unlimited).
    post_message: Bucket | None = POST_MESSAGE
    #: assistant.threads.setStatus per workspace and channel (``None``: unlimited).
    set_status: Window | None = SET_STATUS

    def rule(self, method: str, args: dict[str, Any]) -> tuple[Window | Bucket, str] | None:
        """The rule that limits ``method`` and the key under the workspace (a channel or ``""``)."""
        if method == "chat.postMessage" and self.post_message is not None:
            return self.post_message, str(args.get("channel") or "")
        if method == "assistant.threads.setStatus" and self.set_status is not None:
            return self.set_status, str(args.get("channel_id") or "")
        calls = self.per_minute.get(method)
        if calls is None:
            return None
        return Window(calls=calls, seconds=60.0), ""


@dataclass
class Usage:
    """One workspace's use of one method: calls that arrived, and those answered 429."""

    calls: int = 0
    rate_limited: int = 0


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 200
    error: str | None = None
    #: ``time.perf_counter()`` (or the fake's clock) when the call arrived.
    at: float = field(default_factory=time.perf_counter)
    #: Let through within the edit interval as its message's final change.
    final: bool = False


@dataclass(frozen=True)
class Status:
    """A thread's status as ``assistant.threads.setStatus`` set it."""

    text: str
    loading_messages: tuple[str, ...]
    at: float


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):  # form-encoded: a JSON array in a string
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return value if isinstance(value, list) else []


def _is_ts(value: Any) -> bool:
    text = str(value or "")
    head, _, tail = text.partition(".")
    return head.isascii() and head.isdigit() and tail.isascii() and tail.isdigit()


@dataclass
class Message:
    channel: str
    ts: str
    thread_ts: str | None
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streamed: str = ""
    streaming: bool = False
    edits: int = 0
    #: ``time.perf_counter()`` of every successful edit (update, append, stop).
    edit_times: list[float] = field(default_factory=list)
    #: The times of the edits let through within ``edit_interval`` as the message's final
    #: change (a ``chat.stopStream``, or its one ``chat.update`` allowed so).
    final_times: list[float] = field(default_factory=list)
    #: Whether its one ``chat.update`` within the interval (the final change) was used.
    final_update: bool = False
    #: When the message first showed the finished answer (its 👍/👎 buttons).
    completed_at: float | None = None
    #: Task cards by id, as their last ``task_update`` left them; and every update in order.
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def paced_edit_times(self) -> list[float]:
        """The edit times less the final change, which pacing does not hold back."""
        rest = list(self.edit_times)
        for at in self.final_times:
            rest.remove(at)
        return rest

    @property
    def markdown(self) -> str:
        """All text a reader sees: streamed markdown, or the markdown/section blocks."""
        parts = [self.streamed] if self.streamed else []
        for block in self.blocks:
            if block.get("type") == "markdown":
                parts.append(block["text"])
            elif block.get("type") == "section":
                parts.append(block["text"]["text"])
        return "\n".join(parts) if parts else self.text

    def buttons(self, prefix: str = "") -> list[dict[str, Any]]:
        return [
            element
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block["elements"]
            if str(element.get("action_id", "")).startswith(prefix)
        ]

    def feedback_buttons(self) -> list[dict[str, Any]]:
        """The ``feedback_buttons`` elements of the message's ``context_actions`` blocks."""
        return [
            element
            for block in self.blocks
            if block.get("type") == "context_actions"
            for element in block["elements"]
            if element.get("type") == "feedback_buttons"
        ]


@dataclass
class Team:
    team_id: str
    bot_user_id: str = BOT_USER_ID
    bot_id: str = BOT_ID
    enterprise_id: str | None = None
    #: The bot token's scopes; ``None`` grants every scope a method needs.
    scopes: frozenset[str] | None = None
    #: The error answered to a streaming call carrying a task card (None: cards allowed).
    refuses_tasks: str | None = None


def user_object(
    user_id: str,
    team_id: str = TEAM_ID,
    *,
    name: str = "",
    is_admin: bool = False,
    is_owner: bool = False,
    is_primary_owner: bool = False,
    deleted: bool = False,
) -> dict[str, Any]:
    """A user object as ``users.info`` answers it: the fields of the published example
    response at docs.slack.dev/reference/methods/users.info ("Common successful response")."""
    name = name or user_id.lower()
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "deleted": deleted,
        "color": "9f69e7",
        "real_name": name.title(),
        "tz": "America/Los_Angeles",
        "tz_label": "Pacific Daylight Time",
        "tz_offset": -25200,
        "profile": {
            "avatar_hash": "ge3b51ca72de",
            "status_text": "",
            "status_emoji": "",
            "real_name": name.title(),
            "display_name": name,
            "real_name_normalized": name.title(),
            "display_name_normalized": name,
            "team": team_id,
        },
        "is_admin": is_admin,
        "is_owner": is_owner,
        "is_primary_owner": is_primary_owner,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": False,
        "updated": 1502138686,
        "is_app_user": False,
        "has_2fa": False,
    }


def _feedback_element_error(element: dict[str, Any]) -> bool:
    """True when a ``feedback_buttons`` element breaks its published limits."""
    if len(str(element.get("action_id", ""))) > 255:
        return True
    for side in ("positive_button", "negative_button"):
        button = element.get(side)
        if not isinstance(button, dict):
            return True
        text = button.get("text") or {}
        if text.get("type") != "plain_text" or not 1 <= len(str(text.get("text", ""))) <= 75:
            return True
        value = button.get("value")
        if not isinstance(value, str) or not value or len(value) > 2000:
            return True
        if len(str(button.get("accessibility_label", ""))) > 75:
            return True
    return False


TASK_STATUSES: Final = frozenset({"pending", "in_progress", "complete", "error"})
TASK_TITLE_LIMIT: Final = 150
TASK_SOURCE_TEXT_LIMIT: Final = 75
TASK_SOURCE_URL_LIMIT: Final = 3_000
TASK_SOURCES_LIMIT: Final = 25


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= limit


def _task_error(chunk: dict[str, Any]) -> bool:
    """True when a ``task_update`` chunk breaks its schema or the renderer's limits."""
    if not _text(chunk.get("id"), 255) or not _text(chunk.get("title"), TASK_TITLE_LIMIT):
        return True
    if chunk.get("status") not in TASK_STATUSES:
        return True
    for name in ("details", "output"):
        if name in chunk and not isinstance(chunk[name], str):
            return True
    sources = chunk.get("sources", [])
    if not isinstance(sources, list) or len(sources) > TASK_SOURCES_LIMIT:
        return True
    return any(
        not isinstance(source, dict)
        or source.get("type") != "url"
        or not _text(source.get("url"), TASK_SOURCE_URL_LIMIT)
        or not _text(source.get("text"), TASK_SOURCE_TEXT_LIMIT)
        for source in sources
    )


def validate_chunks(chunks: Any) -> str | None:
    """The error for streamed ``chunks`` that break the published schema, or None."""
    if chunks is None:
        return None
    if not isinstance(chunks, list):
        return "invalid_chunks"
    for chunk in chunks:
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind == "markdown_text":
            bad = not isinstance(chunk.get("text"), str)
        elif kind == "task_update":
            bad = _task_error(chunk)
        elif kind == "plan_update":
            bad = not _text(chunk.get("title"), TASK_TITLE_LIMIT)
        elif kind == "blocks":
            blocks = chunk.get("blocks")
            bad = not isinstance(blocks, list) or validate_blocks(blocks) is not None
        else:
            bad = True
        if bad:
            return "invalid_chunks"
    return None


def validate_blocks(
    blocks: list[dict[str, Any]], max_blocks: int = MESSAGE_MAX_BLOCKS
) -> str | None:
    """The error Slack would answer for these blocks, or None."""
    if len(blocks) > max_blocks:
        return "invalid_blocks"
    markdown = 0
    for raw in blocks:
        try:
            block = Block.parse(raw)
            if block is None:
                return "invalid_blocks"
            block.validate_json()
        except (SlackObjectFormationError, TypeError, KeyError):
            return "invalid_blocks"
        if raw.get("type") == "markdown":
            markdown += len(raw.get("text", ""))
        for element in raw.get("elements", []) if raw.get("type") == "actions" else []:
            if len(element.get("action_id", "")) > 255 or len(element.get("value", "")) > 2000:
                return "invalid_blocks"
        if raw.get("type") == "context_actions":
            elements = raw.get("elements") or []
            if not 1 <= len(elements) <= 5:
                return "invalid_blocks"
            for element in elements:
                if element.get("type") == "feedback_buttons" and _feedback_element_error(element):
                    return "invalid_blocks"
    if markdown > 12_000:
        return "msg_blocks_too_long"
    return None


class FakeSlack:
    def __init__(
        self,
        teams: dict[str, Team] | None = None,
        app_token: str = APP_TOKEN,
        *,
        edit_interval: float | None = None,
        history_per_minute: int | None = 1,
        limits: SlackLimits | None = SlackLimits(),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        # bot token → team
        self.teams = teams or {BOT_TOKEN: Team(TEAM_ID)}
        self.app_token = app_token
        #: When set, editing a message again within this many seconds answers HTTP 429,
        #: except for its final change (see :meth:`_too_soon`).
        self.edit_interval = edit_interval
        #: The clock of call times and of the edit interval (tests pass a fake one).
        self.clock = clock
        #: conversations.replies/history calls allowed a minute per method and workspace
        #: (None: unlimited, as for a Marketplace app).
        self.history_per_minute = history_per_minute
        #: The Web API limits enforced per workspace (``None``: none but the history rate).
        self.limits = limits
        self._limiter = Limiter()
        #: (team id, method) → calls and 429s (every cause: limits, faults, edit interval).
        self.usage: defaultdict[tuple[str, str], Usage] = defaultdict(Usage)
        #: user id → the published Home tab view (``views.publish``).
        self.home_views: dict[str, dict[str, Any]] = {}
        #: view id → the modal as last opened or updated.
        self.modals: dict[str, dict[str, Any]] = {}
        self._used_triggers: set[str] = set()
        #: trigger id → when :meth:`trigger_id` issued it (on :attr:`clock`).
        self.issued_triggers: dict[str, float] = {}
        self.calls: list[Call] = []
        #: (channel, thread_ts) → ``time.perf_counter()`` of the first call that showed text.
        self.first_text_at: dict[tuple[str, str | None], float] = {}
        #: (channel, thread or message ts) → when a sign of work first showed there: a
        #: status set in the thread, or a reaction on the message.
        self.sign_of_work_at: dict[tuple[str, str], float] = {}
        #: (channel, thread_ts) → the status shown now (cleared by the bot's next message in
        #: the thread or an empty status), with its loading messages.
        self.statuses: dict[tuple[str, str], Status] = {}
        #: Every status set, in order: (channel, thread_ts, status, loading messages).
        self.status_history: list[tuple[str, str, str, tuple[str, ...]]] = []
        #: (channel, thread_ts) → the title ``assistant.threads.setTitle`` gave the thread.
        self.titles: dict[tuple[str, str], str] = {}
        self.messages: dict[str, Message] = {}
        #: Messages in the order they first showed a finished answer (their 👍/👎 buttons).
        self.completed: list[Message] = []
        self.responses: list[dict[str, Any]] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        #: user id → the ``locale`` ``users.info`` answers with ``include_locale`` (else en-US).
        self.user_locales: dict[str, str] = {}
        #: user id → the user object ``users.info`` answers (see :func:`user_object`).
        self.users: dict[str, dict[str, Any]] = {}
        #: The arguments of every ``chat.postEphemeral`` that Slack accepted.
        self.ephemerals: list[dict[str, Any]] = []
        self._faults: dict[str, deque[tuple[str, Any]]] = defaultdict(deque)
        self._held: dict[str, asyncio.Event] = {}
        self._last_ts = 0.0
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        #: The ``ticket`` of every socket-mode URL handed out (apps.connections.open).
        self.socket_tickets: list[str] = []
        self._server: WebServer | None = None
        self.url = ""

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # read methods (conversations.*)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._server = await start_web(app, "127.0.0.1", 0, shutdown_timeout=0.5)
        self.url = self._server.url
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._server is not None:
            await self._server.close()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def trigger_id(self) -> str:
        """A fresh ``trigger_id`` as Slack puts in an interaction payload, valid for
        :data:`TRIGGER_TTL_S` seconds of :attr:`clock` from now."""
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        self.issued_triggers[trigger] = self.clock()
        return trigger

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    # --- faults --------------------------------------------------------------------------

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._faults[method].extend([("error", error)] * times)

    def rate_limit(self, method: str, retry_after: int = 0, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        self._faults[method].extend([("429", retry_after)] * times)

    def hold(self, method: str) -> asyncio.Event:
        """Calls of ``method`` are recorded, then wait to be answered until the returned
        event is set (a slow Slack, at a moment the test chooses)."""
        return self._held.setdefault(method, asyncio.Event())

    def release(self, method: str) -> asyncio.Event:
        """Answer the calls of ``method`` held so far; later ones are held again (until the
        returned event is set)."""
        held = self._held.get(method)
        self._held[method] = asyncio.Event()
        if held is not None:
            held.set()
        return self._held[method]

    # --- inspection ------------------------------------------------------------------------

    def calls_to(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]

    def in_thread(self, channel: str, thread_ts: str | None) -> list[Message]:
        """The bot's messages in a thread (``None``: top level of the channel), oldest first."""
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts
        ]

    async def wait_for(self, check: Callable[[], T], within: float = 10.0) -> T:
        """Wait until ``check()`` is truthy (re-checked after every call) and return it."""
        async with asyncio.timeout(within), self._changed:
            while not (result := check()):
                await self._changed.wait()
            return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the Web API -----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        call = Call(method, args, token, at=self.clock())
        self.calls.append(call)
        held = self._held.get(method)
        if held is not None and not held.is_set():
            await self._notify()
            await held.wait()
        team = self.teams.get(token or "")
        usage = self.usage[(team.team_id if team else "", method)]
        usage.calls += 1
        try:
            fault = self._faults[method].popleft() if self._faults[method] else None
            if fault is not None and fault[0] == "429":
                usage.rate_limited += 1
                return self._ratelimited(call, str(fault[1]))
            if fault is not None:
                call.error = str(fault[1])
                return web.json_response({"ok": False, "error": call.error})
            wait = self._too_soon(method, args, call)
            if wait is None and team is not None:
                wait = self._over_limit(method, args, team, call.at)
            if wait is not None:
                usage.rate_limited += 1
                return self._ratelimited(call, str(retry_after_seconds(wait)))
            result = self._handle(method, args, token)
            if not result.get("ok"):
                call.error = result.get("error")
            else:
                self._note_text(call, result)
                self._note_status(call)
            return web.json_response(result)
        finally:
            await self._notify()

    @staticmethod
    def _ratelimited(call: Call, retry_after: str) -> web.Response:
        """Slack's answer over a limit: HTTP 429, ``Retry-After`` (seconds) and ``ratelimited``
        (docs.slack.dev/apis/web-api/rate-limits, "Responding to rate limiting conditions")."""
        call.status, call.error = 429, "ratelimited"
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": retry_after},
        )

    def count_429(self, method: str | None = None) -> int:
        """How many calls (of ``method``, or all) were answered 429, in every workspace."""
        return sum(
            u.rate_limited for (_, m), u in self.usage.items() if method is None or m == method
        )

    def calls_by_method(self) -> Counter[str]:
        """Calls per method that arrived, in every workspace."""
        counts: Counter[str] = Counter()
        for (_, method), use in self.usage.items():
            counts[method] += use.calls
        return counts

    def _too_soon(self, method: str, args: dict[str, Any], call: Call) -> float | None:
        """Seconds still to wait when this edit comes too soon after the message's last one.

        Slack publishes no per-message edit limit (chat.update is Tier 3, chat.appendStream
        Tier 4, chat.stopStream Tier 2: docs.slack.dev/reference/methods); the interval is
        the pacing we promise. The final change is exempt: ``chat.stopStream`` (it ends the
        stream and carries the last text and the buttons, so it comes once), and one
        ``chat.update`` per message (the fallback path's final answer).
        """
        if self.edit_interval is None or method not in EDIT_METHODS:
            return None
        message = self.messages.get(str(args.get("ts")))
        if message is None or not message.edit_times:
            return None
        wait = message.edit_times[-1] + self.edit_interval - call.at
        if wait <= 0:
            return None
        if method == "chat.stopStream" or (method == "chat.update" and not message.final_update):
            call.final = True
            return None
        return wait

    def _over_limit(
        self, method: str, args: dict[str, Any], team: Team, now: float
    ) -> float | None:
        """Seconds to wait when this call is over its limit in the workspace (nothing spent)."""
        if method in HISTORY_METHODS and self.history_per_minute is not None:
            rule: tuple[Window | Bucket, str] | None = (
                Window(calls=self.history_per_minute, seconds=60.0),
                "",
            )
        elif self.limits is not None:
            rule = self.limits.rule(method, args)
        else:
            rule = None
        if rule is None:
            return None
        limit, where = rule
        return self._limiter.take((team.team_id, method, where), limit, now)

    def _note_text(self, call: Call, result: dict[str, Any]) -> None:
        if call.method not in TEXT_METHODS:
            return
        message = self.messages.get(str(result.get("ts")))
        if message is None:
            return
        if call.method in EDIT_METHODS:
            message.edit_times.append(call.at)
            if call.final:
                message.final_times.append(call.at)
                message.final_update = message.final_update or call.method == "chat.update"
        if message.completed_at is None and message.feedback_buttons():
            message.completed_at = call.at
            self.completed.append(message)
        if message.markdown:
            self.first_text_at.setdefault((message.channel, message.thread_ts), call.at)

    def _note_status(self, call: Call) -> None:
        """Statuses and reactions shown; the bot's message in a thread clears its status
        ("The status will be automatically cleared when the app sends a reply":
        docs.slack.dev/reference/methods/assistant.threads.setStatus, "Usage info")."""
        args = call.args
        if call.method == "assistant.threads.setStatus":
            where = (str(args["channel_id"]), str(args["thread_ts"]))
            status = str(args.get("status") or "")
            loading = tuple(str(m) for m in _as_list(args.get("loading_messages")))
            self.status_history.append((*where, status, loading))
            if status:
                self.statuses[where] = Status(status, loading, call.at)
                self.sign_of_work_at.setdefault(where, call.at)
            else:
                self.statuses.pop(where, None)
        elif call.method == "reactions.add":
            self.sign_of_work_at.setdefault(
                (str(args.get("channel")), str(args.get("timestamp"))), call.at
            )
        elif call.method in ("chat.postMessage", "chat.startStream") and args.get("thread_ts"):
            self.statuses.pop((str(args.get("channel")), str(args["thread_ts"])), None)

    def new_messages_at(self) -> dict[str, list[float]]:
        """channel → when each new message of the bot arrived (posted or stream started)."""
        found: dict[str, list[float]] = defaultdict(list)
        for call in self.calls:
            new = call.method in ("chat.postMessage", "chat.startStream")
            if new and call.status == 200 and call.error is None:
                found[str(call.args.get("channel"))].append(call.at)
        return dict(found)

    def _handle(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "apps.connections.open":
            if token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            # As Slack answers (api.slack.com/methods/apps.connections.open, "Common
            # successful response"): a single-use ``ticket`` and the ``app_id`` in the query.
            ticket = uuid.uuid4().hex
            self.socket_tickets.append(ticket)
            socket = self.url.replace("http", "ws", 1) + "/socket"
            return {"ok": True, "url": f"{socket}?ticket={ticket}&app_id={FAKE_APP_ID}"}
        if method == "oauth.v2.access":
            found = self.oauth_codes.get(str(args.get("code")))
            return found if found is not None else {"ok": False, "error": "invalid_code"}
        team = self.teams.get(token or "")
        if team is None:
            return {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(args, team)
        return result

    def _new_ts(self) -> str:
        """A message ts as Slack makes them: the time, unique and increasing."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _history_entry(self, message: Message, team: Team) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "user": team.bot_user_id,
            "bot_id": team.bot_id,
            "text": message.markdown,
        }
        if message.thread_ts:
            entry["thread_ts"] = message.thread_ts
        return entry

    def _m_conversations_replies(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """The bot's messages in a thread (this fake only holds the bot's), oldest first."""
        channel, thread_ts = str(args.get("channel")), str(args.get("ts"))
        oldest = float(args.get("oldest") or 0)
        found = [
            self._history_entry(m, team)
            for m in sorted(self.messages.values(), key=lambda m: float(m.ts))
            if m.channel == channel and m.thread_ts == thread_ts and float(m.ts) > oldest
        ]
        limit = self._history_limit(args)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    @staticmethod
    def _history_limit(args: dict[str, Any]) -> int:
        """``limit`` as Slack applies it to non-Marketplace apps: default and maximum 15."""
        try:
            asked = int(args.get("limit") or HISTORY_LIMIT)
        except (TypeError, ValueError):
            asked = HISTORY_LIMIT
        return max(1, min(asked, HISTORY_LIMIT))

    def _m_conversations_history(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """The bot's top-level messages of a channel, newest first (as Slack lists them)."""
        channel = str(args.get("channel"))
        oldest = float(args.get("oldest") or 0)
        found = [
            self._history_entry(m, team)
            for m in sorted(self.messages.values(), key=lambda m: float(m.ts), reverse=True)
            if m.channel == channel and m.thread_ts is None and float(m.ts) > oldest
        ]
        limit = self._history_limit(args)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _m_auth_test(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "gloo",
            "team_id": team.team_id,
            "user_id": team.bot_user_id,
            "bot_id": team.bot_id,
            "enterprise_id": team.enterprise_id,
            "is_enterprise_install": False,
        }

    def _check_content(self, args: dict[str, Any]) -> str | None:
        if len(str(args.get("text") or "")) > 40_000:
            return "msg_too_long"
        blocks = args.get("blocks")
        if blocks:
            return validate_blocks(blocks)
        if not args.get("text"):
            return "no_text"
        return None

    def _m_chat_postMessage(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        channel = str(args["channel"])
        message = Message(
            channel=channel,
            ts=self._new_ts(),
            thread_ts=args.get("thread_ts") or None,
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
        )
        self.messages[message.ts] = message
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _m_chat_update(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        message = self.messages.get(str(args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        message.text = str(args.get("text") or "")
        message.blocks = list(args.get("blocks") or [])
        message.streamed = ""
        message.streaming = False
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    @staticmethod
    def _chunk_text(args: dict[str, Any]) -> str:
        text = str(args.get("markdown_text") or "")
        for chunk in args.get("chunks") or []:
            if chunk.get("type") == "markdown_text":
                text += chunk.get("text", "")
        return text

    @staticmethod
    def _chunks_refused(args: dict[str, Any], team: Team) -> str | None:
        """The error for the call's chunks: invalid ones, or a task card ``team`` refuses."""
        error = validate_chunks(args.get("chunks"))
        if error is not None:
            return error
        kinds = {chunk.get("type") for chunk in args.get("chunks") or []}
        if team.refuses_tasks and kinds & {"task_update", "plan_update"}:
            return team.refuses_tasks
        return None

    @staticmethod
    def _note_tasks(message: Message, args: dict[str, Any]) -> None:
        for chunk in args.get("chunks") or []:
            if chunk.get("type") == "task_update":
                message.tasks[str(chunk["id"])] = dict(chunk)
                message.task_updates.append(dict(chunk))

    def _m_chat_startStream(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        error = self._chunks_refused(args, team)
        if error:
            return {"ok": False, "error": error}
        message = Message(
            channel=str(args["channel"]),
            ts=self._new_ts(),
            thread_ts=str(args["thread_ts"]),
            streamed=self._chunk_text(args),
            streaming=True,
        )
        self._note_tasks(message, args)
        self.messages[message.ts] = message
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_appendStream(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        message = self.messages.get(str(args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        error = self._chunks_refused(args, team)
        if error:
            return {"ok": False, "error": error}
        message.streamed += self._chunk_text(args)
        self._note_tasks(message, args)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        message = self.messages.get(str(args.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        blocks = list(args.get("blocks") or [])
        error = (validate_blocks(blocks) if blocks else None) or self._chunks_refused(args, team)
        if error:
            return {"ok": False, "error": error}
        message.streamed += self._chunk_text(args)
        self._note_tasks(message, args)
        message.blocks = blocks
        message.streaming = False
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_reactions_add(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        return {"ok": True}

    def _m_chat_postEphemeral(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """docs.slack.dev/reference/methods/chat.postEphemeral: ``channel`` and ``user`` are
        required, with ``text`` or ``blocks``; the answer carries ``message_ts``."""
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        error = self._check_content(args)
        if error:
            return {"ok": False, "error": error}
        self.ephemerals.append(args)
        return {"ok": True, "message_ts": self._new_ts()}

    def _m_users_info(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """docs.slack.dev/reference/methods/users.info: needs the ``users:read`` scope;
        ``user_not_found`` for an id Slack does not know."""
        if (missing := _missing_scope(team, "users:read")) is not None:
            return missing
        user = str(args.get("user") or "")
        found = self.users.get(user)
        if found is None and user.startswith(("U", "W")):
            found = user_object(user, team.team_id)  # anyone else in the workspace: a member
        if found is None:
            return {"ok": False, "error": "user_not_found"}
        # "include_locale: Set this to true to receive the locale for this user" (absent
        # otherwise); slack_sdk sends a true argument as "1".
        found = {k: v for k, v in found.items() if k != "locale"}
        if str(args.get("include_locale", "")).lower() in ("1", "true"):
            found["locale"] = self.user_locales.get(user, "en-US")
        return {"ok": True, "user": found}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """docs.slack.dev/reference/methods/assistant.threads.setStatus: ``channel_id``,
        ``thread_ts`` and ``status`` are required (an empty status clears it), at most 10
        ``loading_messages``; the bot scope is ``chat:write`` (``assistant:write`` still
        accepted, changelog 2026-03-05 "set status scope update", which opened it to
        channel threads). Errors as its reference lists them."""
        if (
            missing := _missing_scope(team, "chat:write", "chat:write", "assistant:write")
        ) is not None:
            return missing
        if not args.get("channel_id"):
            return {"ok": False, "error": "channel_not_found"}
        if not _is_ts(args.get("thread_ts")):
            return {"ok": False, "error": "invalid_thread_ts"}
        if not isinstance(args.get("status"), str):
            return {"ok": False, "error": "invalid_arguments"}
        loading = _as_list(args.get("loading_messages"))
        if len(loading) > 10 or not all(isinstance(m, str) for m in loading):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_assistant_threads_setTitle(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        """docs.slack.dev/reference/methods/assistant.threads.setTitle: ``channel_id``,
        ``thread_ts`` and ``title`` required, bot scope ``assistant:write``, Tier 4; errors as
        its reference lists them (``invalid_arguments`` for a missing or empty title). The
        title is kept in :attr:`titles`."""
        if (missing := _missing_scope(team, "assistant:write")) is not None:
            return missing
        if not args.get("channel_id"):
            return {"ok": False, "error": "channel_not_found"}
        if not _is_ts(args.get("thread_ts")):
            return {"ok": False, "error": "invalid_thread_ts"}
        title = args.get("title")
        if not isinstance(title, str) or not title.strip():
            return {"ok": False, "error": "invalid_arguments"}
        self.titles[(str(args["channel_id"]), str(args["thread_ts"]))] = title
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(
        self, args: dict[str, Any], team: Team
    ) -> dict[str, Any]:
        prompts = args.get("prompts")
        if not args.get("channel_id"):
            return {"ok": False, "error": "channel_not_found"}
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
            return {"ok": False, "error": "invalid_arguments"}
        for prompt in prompts:
            if not isinstance(prompt, dict) or set(prompt) != {"title", "message"}:
                return {"ok": False, "error": "invalid_arguments"}
            if not prompt["title"] or not prompt["message"]:
                return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    # --- views ---------------------------------------------------------------------------

    @staticmethod
    def _view_error(view: Any, kind: str) -> str | None:
        if not isinstance(view, dict) or view.get("type") != kind:
            return "invalid_arguments"
        blocks = view.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            return "invalid_arguments"
        if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA_LIMIT:
            return "invalid_arguments"
        error = validate_blocks(blocks, VIEW_MAX_BLOCKS)
        if error:
            return error
        try:
            View(**view).validate_json()
        except (SlackObjectFormationError, TypeError, KeyError):
            return "invalid_arguments"
        return None

    def _new_view(self, view: dict[str, Any], team: Team) -> dict[str, Any]:
        return {**view, "id": f"V{uuid.uuid4().hex[:10].upper()}", "team_id": team.team_id}

    def _m_views_publish(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        user, view = str(args.get("user_id") or ""), args.get("view")
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        error = self._view_error(view, "home")
        if error:
            return {"ok": False, "error": error}
        assert isinstance(view, dict)
        published = self._new_view(view, team)
        self.home_views[user] = published
        return {"ok": True, "view": published}

    def _m_views_open(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        if trigger in self._used_triggers:
            return {"ok": False, "error": "invalid_trigger_id"}  # a trigger works once
        issued = self.issued_triggers.get(trigger)
        if issued is not None and self.clock() - issued > TRIGGER_TTL_S:
            return {"ok": False, "error": "expired_trigger_id"}
        error = self._view_error(args.get("view"), "modal")
        if error:
            return {"ok": False, "error": error}
        self._used_triggers.add(trigger)
        opened = self._new_view(dict(args["view"]), team)
        self.modals[opened["id"]] = opened
        return {"ok": True, "view": opened}

    def _m_views_update(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        view_id = str(args.get("view_id") or "")
        if view_id not in self.modals:
            return {"ok": False, "error": "not_found"}
        error = self._view_error(args.get("view"), "modal")
        if error:
            return {"ok": False, "error": error}
        updated = {**dict(args["view"]), "id": view_id, "team_id": team.team_id}
        self.modals[view_id] = updated
        return {"ok": True, "view": updated}

    # --- links ----------------------------------------------------------------------------

    def _m_chat_getPermalink(self, args: dict[str, Any], team: Team) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    # --- response_url ----------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        await self._notify()
        return web.Response(text="ok")

    # --- socket mode -------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        await self._notify()
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    data = json.loads(frame.data)
                    if "envelope_id" in data:
                        self.socket_acks[data["envelope_id"]] = data
                        await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Push one socket-mode envelope and wait for the app's acknowledgement."""
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        await self.wait_for(lambda: envelope_id in self.socket_acks)
        return self.socket_acks[envelope_id]


async def _read_args(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if request.content_type == "application/json":
        args: dict[str, Any] = json.loads(raw) if raw else {}
    else:
        args = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    for key, value in request.query.items():  # slack_sdk sends some methods' args as params
        args.setdefault(key, value)
    for key in ("blocks", "chunks", "view", "prompts"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


def _missing_scope(team: Team, needed: str, *accepted: str) -> dict[str, Any] | None:
    """Slack's ``missing_scope`` answer when ``team`` was granted none of ``accepted``
    (default: ``needed``), naming ``needed`` and what it has; None when it may call."""
    if team.scopes is None or team.scopes & set(accepted or (needed,)):
        return None
    return {
        "ok": False,
        "error": "missing_scope",
        "needed": needed,
        "provided": ",".join(sorted(team.scopes)),
    }
