"""Slack's side of access control (:mod:`core.access`).

* :class:`SlackAdmins` answers "is this person an administrator of this workspace?" with
  ``users.info``: workspace admins and owners (``is_admin``, ``is_owner``,
  ``is_primary_owner`` of the published user object, docs.slack.dev/reference/methods/
  users.info), cached briefly. It needs the ``users:read`` bot scope; without it Slack
  answers ``missing_scope``, the log says so, and nobody but ``SETTINGS_ADMINS`` counts as an
  administrator (settings stay as they are rather than open to everyone).
* ``/gloo access …`` shows and changes the workspace's access lists.
* :class:`SlackGate` refuses questions the access lists do not allow, with one ephemeral note
  (``chat.postEphemeral``) per refused message and no Gloo call.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

import structlog
from slack_sdk.errors import SlackApiError

from bots.slack import render
from bots.slack.background import Background
from bots.slack.clients import WebClients
from bots.slack.responder import slack_error
from core.access import AccessLists, AdminCheck, NotAllowed, Requester, describe_audit
from core.i18n import localize
from core.service import ConversationService
from core.types import AuditEntry

__all__ = [
    "ACCESS_USAGE",
    "SHOWN_PER_LIST",
    "AccessCommand",
    "SlackAdmins",
    "SlackGate",
    "access_command",
    "access_message",
    "audit_block_text",
    "parse_access",
    "requester",
    "with_history",
]

log = structlog.get_logger(__name__)

PLATFORM: Final = "slack"
#: Seconds an answer of ``users.info`` is trusted (a demoted admin loses rights this soon).
ADMIN_CACHE_SECONDS: Final = 60.0
#: Refused messages remembered so a redelivery (Slack's retries) adds no second note.
NOTED_KEYS: Final = 2048

ACCESS_USAGE: Final = (
    "Change who may use Gloo in this workspace (administrators only), for example:\n"
    "• `/gloo access allow @alice @bob` — only these people (and others allowed) are answered\n"
    "• `/gloo access block @mallory` — never answer this person\n"
    "• `/gloo access allow #help here` — answer only in these channels (`here`: this one)\n"
    "• `/gloo access block #random`\n"
    "• `/gloo access remove @alice #help` — take them off the lists\n"
    "Direct messages are not channels: only the lists of people apply there."
)

_USER_TOKEN = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_TOKEN = re.compile(r"^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_ACTIONS: Final = {"allow": "allow", "block": "block", "remove": None, "unblock": None}


def requester(channel: str, user: str) -> Requester:
    """A Slack asker: direct messages (``D…``) are not channels for the access lists."""
    return Requester(user_id=user, channels=() if channel.startswith("D") else (channel,))


class SlackAdmins:
    """:class:`core.access.AdminCheck` from ``users.info``, cached for a minute; the same
    call (``include_locale=true``) tells the person's language (:meth:`locale`).

    docs.slack.dev/reference/methods/users.info: ``include_locale``, "Set this to true to
    receive the locale for this user" (``user.locale``, e.g. ``es-ES``; absent without it).
    """

    def __init__(
        self,
        clients: WebClients,
        *,
        ttl: float = ADMIN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    async def person(self, workspace: str, user_id: str) -> dict[str, Any] | None:
        """The user object ``users.info`` answers (with its locale), cached for ``ttl``
        seconds; ``None`` when Slack would not say (not cached: the next try asks again)."""
        key = (workspace, user_id)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            client = await self._clients.for_workspace(workspace)
            response = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            # Not cached: once the scope is granted (or Slack is back) the next try works.
            log.warning(
                "slack.users_info_failed",
                error=slack_error(exc),
                needed=exc.response.get("needed"),
                workspace=workspace,
                user=user_id,
            )
            return None
        except LookupError:
            log.warning("slack.users_info_not_installed", workspace=workspace)
            return None
        user: dict[str, Any] = response.get("user") or {}
        for old in [k for k, (until, _) in self._cache.items() if until <= now]:
            del self._cache[old]  # the cache holds only what is fresh
        self._cache[key] = (now + self._ttl, user)
        return user

    async def is_admin(self, workspace: str, user_id: str) -> bool:
        user = await self.person(workspace, user_id)
        if user is None:
            return False
        return bool(
            not user.get("deleted")
            and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )

    async def locale(self, workspace: str, user_id: str) -> str:
        """The person's Slack language (``""``, English, when Slack does not say)."""
        if not user_id:
            return ""
        user = await self.person(workspace, user_id)
        return str((user or {}).get("locale") or "")


@dataclass(frozen=True, slots=True)
class AccessCommand:
    """``/gloo access …``: ``action`` is ``show``, ``allow``, ``block`` or ``remove``."""

    action: str
    targets: tuple[tuple[str, str], ...] = ()  # (kind, id)

    @property
    def effect(self) -> str | None:
        return _ACTIONS[self.action]


def parse_access(text: str, channel: str) -> AccessCommand:
    """``"allow <@U1|alice> here"`` → ``AccessCommand("allow", (("user", "U1"), ("channel",
    channel)))``; raises ValueError with a sentence saying how."""
    words = text.split()
    if not words:
        return AccessCommand("show")
    action = words[0].lower()
    if action in ("show", "list"):
        return AccessCommand("show")
    if action not in _ACTIONS:
        raise ValueError("Use `allow`, `block` or `remove`, followed by people or channels.")
    targets: list[tuple[str, str]] = []
    for word in words[1:]:
        found = _target(word, channel)
        if found is None:
            raise ValueError(
                f"I can't tell who or which channel `{render.defang(word[:80])}` is. Mention "
                "people (`@alice`) and channels (`#help`) so Slack sends their ids, or write "
                "`here` for this channel."
            )
        if found not in targets:
            targets.append(found)
    if not targets:
        raise ValueError(f"Say whom or which channels to {action}, for example `@alice` or `here`.")
    return AccessCommand("remove" if action == "unblock" else action, tuple(targets))


def _target(word: str, channel: str) -> tuple[str, str] | None:
    if word.lower() == "here":
        return None if channel.startswith("D") else ("channel", channel)
    if match := _USER_TOKEN.match(word):
        return ("user", match[1])
    if match := _CHANNEL_TOKEN.match(word):
        return ("channel", match[1])
    if _USER_ID.match(word):
        return ("user", word)
    if _CHANNEL_ID.match(word):
        return ("channel", word)
    return None


#: Entries shown per list (the rest is counted), so the message stays within Slack's limits.
SHOWN_PER_LIST: Final = 30


def _listed(tokens: list[str]) -> str:
    shown = ", ".join(tokens[:SHOWN_PER_LIST])
    more = len(tokens) - SHOWN_PER_LIST
    return f"{shown} and {more} more" if more > 0 else shown


def _people(ids: Collection[str]) -> str:
    return _listed([f"<@{i}>" for i in ids])


def _channels(ids: Collection[str]) -> str:
    return _listed([f"<#{i}>" for i in ids])


def access_message(
    lists: AccessLists, history: Collection[AuditEntry], note: str = ""
) -> render.SlackMessage:
    """The workspace's access lists, recent changes, and how to change them."""
    allowed_users = lists.subjects("user", "allow")
    allowed_channels = lists.subjects("channel", "allow")
    lines = [
        "*Who may use Gloo in this workspace*",
        f"• People: {'only ' + _people(allowed_users) if allowed_users else 'everyone'}",
        f"• Channels: {'only ' + _channels(allowed_channels) if allowed_channels else 'all'}",
    ]
    if blocked := lists.subjects("user", "block"):
        lines.append(f"• Blocked people: {_people(blocked)}")
    if blocked := lists.subjects("channel", "block"):
        lines.append(f"• Blocked channels: {_channels(blocked)}")
    text = "\n".join(lines)
    if note:
        text = f"{note}\n\n{text}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    ]
    if history:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": audit_block_text(history)}}
        )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": ACCESS_USAGE}]})
    return render.SlackMessage(text=render.notification_text(text), blocks=tuple(blocks))


def audit_block_text(history: Collection[AuditEntry]) -> str:
    """``*Recent changes*`` and one line per change: when, who (a mention), what."""
    lines = describe_audit(history, lambda actor: f"<@{actor}>" if actor else "someone")
    # What changed can hold text people typed (publisher names): no pings from it.
    shown = []
    for line in lines:
        head, sep, change = line.partition(">: ")
        shown.append(f"• {head}{sep}{render.defang(change)}" if sep else f"• {line}")
    return "\n".join(["*Recent changes*", *shown])[:3000]


def with_history(
    message: render.SlackMessage, history: Collection[AuditEntry]
) -> render.SlackMessage:
    """``message`` (``/gloo settings``) with the recent changes before its last block."""
    if not history:
        return message
    recent = {"type": "section", "text": {"type": "mrkdwn", "text": audit_block_text(history)}}
    blocks = (*message.blocks[:-1], recent, *message.blocks[-1:])
    return render.SlackMessage(text=message.text, blocks=blocks)


async def access_command(
    service: ConversationService,
    admins: AdminCheck,
    argument: str,
    workspace: str,
    channel: str,
    user: str,
) -> render.SlackMessage:
    """``/gloo access …``: the lists (changed first, when an administrator asked to)."""
    access = service.access
    note = ""
    try:
        parsed = parse_access(argument, channel)
        for kind, subject in parsed.targets:
            await access.change(
                PLATFORM,
                workspace,
                by=user,
                admins=admins,
                kind=kind,
                subject=subject,
                effect=parsed.effect,
            )
        if parsed.targets:
            note = "Saved."
    except ValueError as exc:
        note = str(exc)
    except NotAllowed as exc:
        note = exc.user_message
    lists = await access.lists(PLATFORM, workspace)
    history = await access.history(PLATFORM, workspace, [""])
    return access_message(lists, history, note)


class SlackGate:
    """Refuses what the access lists do not allow: one ephemeral note, no Gloo call."""

    def __init__(
        self,
        service: ConversationService,
        clients: WebClients,
        background: Background,
        people: SlackAdmins | None = None,
    ) -> None:
        self._service = service
        self._clients = clients
        self._background = background
        #: Whose language a refusal is said in (``users.info``); ``None``: English.
        self._people = people
        self._noted: OrderedDict[str, None] = OrderedDict()

    async def refusal(self, workspace: str, channel: str, user: str) -> str | None:
        """``None`` when ``user`` may ask in ``channel``, else the sentence to tell them (in
        their language)."""
        sentence = await self._service.access.check(PLATFORM, workspace, requester(channel, user))
        return None if sentence is None else await self.said(workspace, user, sentence)

    async def said(self, workspace: str, user: str, sentence: str) -> str:
        """``sentence`` in ``user``'s Slack language (a plain str as it is)."""
        if self._people is None:
            return localize(sentence, "")
        return localize(sentence, await self._people.locale(workspace, user))

    async def refused(
        self, workspace: str, channel: str, user: str, *, key: str, thread_ts: str | None
    ) -> bool:
        """True (and a note to ``user`` is on its way) when the message ``key`` is refused.

        ``thread_ts`` is the thread the message was written in, if any: Slack shows an
        ephemeral message in a thread only when that thread already exists
        (docs.slack.dev/reference/methods/chat.postEphemeral).
        """
        sentence = await self.refusal(workspace, channel, user)
        if sentence is None:
            return False
        if key in self._noted:
            return True
        self._noted[key] = None
        while len(self._noted) > NOTED_KEYS:
            self._noted.popitem(last=False)
        if not self._service.access.notes.due(PLATFORM, workspace, user, "access"):
            return True  # told within the window: ignored quietly (the core logs it)
        self._background.spawn(
            self._note(workspace, channel, user, thread_ts, sentence), "access_refused"
        )
        return True

    async def _note(
        self, workspace: str, channel: str, user: str, thread_ts: str | None, sentence: str
    ) -> None:
        client = await self._clients.for_workspace(workspace)
        message = render.text_message(sentence)
        try:
            await client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, **message.as_kwargs()
            )
        except SlackApiError as exc:
            log.warning("slack.refusal_note_failed", error=slack_error(exc), channel=channel)
