"""The one Slack renderer: every Block Kit limit and the defanging of model output live here.

Limits (https://docs.slack.dev/reference/block-kit): at most 50 blocks per message; a
``markdown`` block holds 12,000 characters and so does a whole message's markdown (longer
answers become several messages, never silently cut); ``section`` text 3,000; button text
75 (shortened with an ellipsis); ``action_id`` 255; button ``value`` 2,000; button ``url``
3,000; 25 elements per ``actions`` block, 10 per ``context`` block.

Model output is *defanged* before it reaches Slack: ``<!channel>``, ``<!here>``,
``<!everyone>``, ``<@U…>``, ``<#C…>``, ``<!subteam^…>`` and bare ``@here``-style words are
rewritten so they can never ping anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from bots.slack import messages as say
from core.text import ellipsize, split_text
from core.types import ChannelSettings, ChatHistory, Reply, Source

log = structlog.get_logger(__name__)

MAX_BLOCKS: Final = 50
MARKDOWN_LIMIT: Final = 12_000
SECTION_TEXT_LIMIT: Final = 3_000
BUTTON_TEXT_LIMIT: Final = 75
ACTION_ID_LIMIT: Final = 255
BUTTON_VALUE_LIMIT: Final = 2_000
BUTTON_URL_LIMIT: Final = 3_000
ACTIONS_PER_BLOCK: Final = 25
CONTEXT_ELEMENTS: Final = 10
#: The notification text (``text`` next to ``blocks``) is a short preview.
FALLBACK_TEXT_LIMIT: Final = 3_000
#: Plain-text pieces used when Slack refuses blocks (``invalid_blocks``, ``msg_too_long``).
PLAIN_TEXT_LIMIT: Final = 3_000
#: Shown at the end of a message that is still being written.
TYPING_MARK: Final = " …"

SUGGEST_ACTION: Final = "gloo_suggest"
FEEDBACK_ACTION: Final = "gloo_feedback"
SOURCE_ACTION: Final = "gloo_source"

ZWSP: Final = "\u200b"

# --- defanging -------------------------------------------------------------------------------

_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^<>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^([A-Za-z0-9]+)(?:\|([^<>]*))?>")
_USER = re.compile(r"<@([A-Za-z0-9]+)(?:\|([^<>]*))?>")
_CHANNEL = re.compile(r"<#([A-Za-z0-9]+)(?:\|([^<>]*))?>")
_BARE = re.compile(r"(?<![\w@])@(channel|here|everyone)\b", re.IGNORECASE)
# A tail that may still become one of the tokens above when more text arrives.
_UNSTABLE_TAIL = re.compile(r"(?:<[!@#][^<>]*|<|(?<![\w@])@[A-Za-z]{0,8})$")


def _label(raw: str | None, fallback: str) -> str:
    return (raw or fallback).lstrip("@#").strip() or fallback


def defang(text: str) -> str:
    """``text`` with every Slack mention token made harmless (visible, but pinging nobody)."""
    text = _SPECIAL.sub(lambda m: f"@{ZWSP}{m[1].lower()}", text)
    text = _SUBTEAM.sub(lambda m: f"@{ZWSP}{_label(m[2], m[1])}", text)
    text = _USER.sub(lambda m: f"@{ZWSP}{_label(m[2], m[1])}", text)
    text = _CHANNEL.sub(lambda m: f"#{ZWSP}{_label(m[2], m[1])}", text)
    return _BARE.sub(lambda m: f"@{ZWSP}{m[1]}", text)


def stable_defanged(raw: str) -> str:
    """The defanged form of the part of a growing ``raw`` text that later text cannot change.

    A tail that could still turn into a mention token (``<!he``, ``<@U12``, ``@her``) is held
    back, so streamed pieces never combine into a ping on Slack's side. Each result is a
    prefix of the result for any longer ``raw`` (and of ``defang`` of the final text).
    """
    match = _UNSTABLE_TAIL.search(raw)
    return defang(raw[: match.start()] if match else raw)


# --- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One Slack message: a notification ``text`` and the ``blocks`` that show it."""

    text: str
    blocks: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def as_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"text": self.text}
        if self.blocks:
            kwargs["blocks"] = list(self.blocks)
        return kwargs


def _markdown(text: str) -> dict[str, Any]:
    if len(text) > MARKDOWN_LIMIT:
        raise ValueError("markdown block text over the limit")  # a bug in this module
    return {"type": "markdown", "text": text}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": ellipsize_keep_lines(text, SECTION_TEXT_LIMIT)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts[:CONTEXT_ELEMENTS]]}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": ellipsize(text, limit) or "…", "emoji": True}


def ellipsize_keep_lines(text: str, limit: int) -> str:
    """Like :func:`core.text.ellipsize` but keeps line breaks (for mrkdwn text)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def notification_text(text: str) -> str:
    """The short ``text`` shown in notifications (already defanged input)."""
    return ellipsize(text, FALLBACK_TEXT_LIMIT) or "…"


def answer_pages(text: str) -> list[str]:
    """The defanged answer cut into message-sized pieces (nothing is lost)."""
    return split_text(defang(text), MARKDOWN_LIMIT) or ["…"]


def progress_message(raw_so_far: str) -> SlackMessage:
    """A message still being written (the placeholder edited with ``chat.update``)."""
    shown = stable_defanged(raw_so_far).strip()
    budget = MARKDOWN_LIMIT - len(TYPING_MARK)
    if len(shown) > budget:
        shown = shown[:budget].rstrip()
    body = (shown + TYPING_MARK) if shown else say.THINKING
    return SlackMessage(text=notification_text(body), blocks=(_markdown(body),))


def text_message(text: str) -> SlackMessage:
    """A short notice from us (not model output): section blocks, one per 3,000 characters."""
    pieces = split_text(text, SECTION_TEXT_LIMIT) or [text]
    blocks = tuple(_section(p) for p in pieces[:MAX_BLOCKS])
    return SlackMessage(text=notification_text(text), blocks=blocks)


def asked_message(user_id: str, question: str) -> SlackMessage:
    """``<@user> asked: *question*`` (the question is user or model text: defanged)."""
    shown = defang(" ".join(question.split()))
    shown = ellipsize(shown.replace("*", "∗"), SECTION_TEXT_LIMIT - 40)
    return text_message(say.ASKED.format(user=user_id, text=shown))


def plain_pages(text: str) -> list[SlackMessage]:
    """The answer as text-only messages (used when Slack refuses the blocks)."""
    return [SlackMessage(text=p) for p in split_text(defang(text), PLAIN_TEXT_LIMIT) or ["…"]]


# --- the answer ----------------------------------------------------------------------------


def _button(
    text: str, action_id: str, *, value: str | None = None, url: str | None = None
) -> dict[str, Any] | None:
    """A button, or ``None`` (logged) when its id, value or url cannot fit Slack's limits."""
    if len(action_id) > ACTION_ID_LIMIT:
        log.warning("slack.render.action_id_too_long", chars=len(action_id))
        return None
    if value is not None and len(value) > BUTTON_VALUE_LIMIT:
        log.warning("slack.render.button_value_too_long", chars=len(value))
        return None
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
    }
    if value is not None:
        button["value"] = value
    if url is not None:
        button["url"] = url
    return button


def _actions(buttons: Sequence[dict[str, Any]], block_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "actions",
            "block_id": f"{block_id}_{i // ACTIONS_PER_BLOCK}",
            "elements": list(buttons[i : i + ACTIONS_PER_BLOCK]),
        }
        for i in range(0, len(buttons), ACTIONS_PER_BLOCK)
    ]


def _usable_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    if not re.match(r"^https?://\S+$", url, re.IGNORECASE) or len(url) > BUTTON_URL_LIMIT:
        return None
    return url


def _dedupe_key(url: str) -> str:
    return url.split("#", 1)[0].rstrip("/").lower()


def pick_sources(sources: Iterable[Source], limit: int | None) -> list[Source]:
    """Sources without duplicates (same URL, or same title without URL), at most ``limit``."""
    seen: set[str] = set()
    picked: list[Source] = []
    for source in sources:
        url = _usable_url(source.url)
        key = "url:" + _dedupe_key(url) if url else "title:" + source.label.strip().lower()
        if key in seen or not source.label.strip():
            continue
        seen.add(key)
        picked.append(source)
        if limit is not None and len(picked) >= limit:
            break
    return picked


def _source_blocks(sources: Sequence[Source]) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    unlinked: list[str] = []
    for i, source in enumerate(sources):
        url = _usable_url(source.url)
        label = defang(source.title or source.url or "")
        if url is None:
            unlinked.append(ellipsize(label, 200))
            continue
        button = _button(label, f"{SOURCE_ACTION}:{i}", url=url)
        if button is not None:
            buttons.append(button)
    blocks: list[dict[str, Any]] = []
    if buttons:
        blocks.append(_context(say.SOURCES_HEADER))
        blocks.extend(_actions(buttons, "gloo_sources"))
    if unlinked:
        blocks.append(_context(say.MORE_SOURCES_HEADER.format(titles=" · ".join(unlinked))))
    return blocks


def _suggestion_blocks(reply: Reply) -> list[dict[str, Any]]:
    buttons = []
    for i, suggestion in enumerate(reply.suggestions):
        ref = reply.suggestion_ref(i)
        button = _button(defang(suggestion), f"{SUGGEST_ACTION}:{ref}", value=ref)
        if button is not None:
            buttons.append(button)
    if not buttons:
        return []
    return [_context(say.SUGGESTIONS_HEADER), *_actions(buttons, "gloo_suggestions")]


def _feedback_blocks(reply: Reply) -> list[dict[str, Any]]:
    up = _button("👍", f"{FEEDBACK_ACTION}:up", value=reply.answer_id)
    down = _button("👎", f"{FEEDBACK_ACTION}:down", value=reply.answer_id)
    buttons = [b for b in (up, down) if b is not None]
    return _actions(buttons, "gloo_feedback") if buttons else []


def reply_extras(reply: Reply, settings: ChannelSettings | None = None) -> list[dict[str, Any]]:
    """Everything after the answer text: sources, suggestions, feedback (in that order)."""
    settings = settings or ChannelSettings()
    blocks: list[dict[str, Any]] = []
    if settings.enable_sources:
        blocks.extend(_source_blocks(pick_sources(reply.sources, settings.sources_limit)))
    if settings.enable_suggestions:
        blocks.extend(_suggestion_blocks(reply))
    blocks.extend(_feedback_blocks(reply))
    return blocks


def render_reply(reply: Reply, settings: ChannelSettings | None = None) -> list[SlackMessage]:
    """The whole answer as Slack messages: text pages, then the buttons on the last one.

    Every message has at most 50 blocks and 12,000 characters of markdown; extra pages and
    extra button blocks go to further messages, so nothing is dropped.
    """
    pages = answer_pages(reply.text)
    extras = reply_extras(reply, settings)
    result = [SlackMessage(text=notification_text(p), blocks=(_markdown(p),)) for p in pages]
    last = result.pop()
    room = MAX_BLOCKS - len(last.blocks)
    result.append(SlackMessage(text=last.text, blocks=(*last.blocks, *extras[:room])))
    rest = extras[room:]
    while rest:
        chunk, rest = rest[:MAX_BLOCKS], rest[MAX_BLOCKS:]
        result.append(SlackMessage(text=say.BUTTONS_FALLBACK, blocks=tuple(chunk)))
    return result


def buttons_message(reply: Reply, settings: ChannelSettings | None = None) -> list[SlackMessage]:
    """Only the buttons (after a plain-text fallback of the answer)."""
    extras = reply_extras(reply, settings)
    return [
        SlackMessage(text=say.BUTTONS_FALLBACK, blocks=tuple(extras[i : i + MAX_BLOCKS]))
        for i in range(0, len(extras), MAX_BLOCKS)
    ]


# --- slash command output ---------------------------------------------------------------------


def history_message(history: ChatHistory) -> SlackMessage:
    """A chat's history as an ephemeral message (newest kept when it does not all fit)."""
    entries: list[str] = []
    for item in history.messages:
        who = "*You*" if item.role == "user" else "*Gloo*"
        entries.append(f"{who}: {defang(item.text)}")
    room = MAX_BLOCKS - 2  # title, and the "earlier messages" note
    shown = entries[-room:]
    blocks: list[dict[str, Any]] = [_section(say.HISTORY_TITLE)]
    if len(entries) > len(shown):
        blocks.append(_context(say.HISTORY_EARLIER.format(count=len(entries) - len(shown))))
    blocks.extend(_section(entry) for entry in shown)
    return SlackMessage(text=say.HISTORY_TITLE, blocks=tuple(blocks))


def settings_message(lines: list[tuple[str, str]], note: str = "") -> SlackMessage:
    """A channel's settings (``ConversationService.describe_settings``) and how to change them."""
    shown = (f"• {label}: {defang(value)}" for label, value in lines)
    text = "\n".join([say.SETTINGS_TITLE, *shown])
    if note:
        text = f"{note}\n\n{text}"
    return SlackMessage(
        text=notification_text(text), blocks=(_section(text), _context(say.SETTINGS_USAGE))
    )
