"""The one Slack renderer: every Block Kit limit and the defanging of model output live here.

Limits (https://docs.slack.dev/reference/block-kit): at most 50 blocks per message; a
``markdown`` block holds 12,000 characters and so does a whole message's markdown (longer
answers become several messages, never silently cut); ``section`` text 3,000; button text
75 (shortened with an ellipsis); ``action_id`` 255; button ``value`` 2,000; button ``url``
3,000; 25 elements per ``actions`` block, 10 per ``context`` block.

Task cards (``task_update`` chunks of a streamed message, docs.slack.dev/reference/methods/
chat.startStream, "Using the chunks parameter": ``id``, ``title``, ``status`` one of
``pending``/``in_progress``/``complete``/``error``, optional ``details``, ``output`` and
``sources`` of URL source elements ``{type: url, url, text}``,
docs.slack.dev/reference/block-kit/block-elements/url-source-element). Slack publishes no
length limits for them; ours are conservative, after the nearest published ones (a header's
text 150, a button's text 75 and ``url`` 3,000): a title of at most 150 characters, a
source's text 75 and ``url`` 3,000, at most 25 sources. A refusal is caught by the
responder (the stream goes on without cards).

Model output is *defanged* before it reaches Slack: ``<!channel>``, ``<!here>``,
``<!everyone>``, ``<@U…>``, ``<#C…>``, ``<!subteam^…>`` and bare ``@here``-style words are
rewritten so they can never ping anyone.

Which sources and suggestions an answer shows is the core's presentation policy
(:mod:`core.presentation`, applied to every reply the service yields); this module only
lays them out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from slack_sdk.models.blocks.block_elements import UrlSourceElement
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk

from bots.slack import messages as say
from core import messages as core_messages
from core import presentation
from core.i18n import localize, t
from core.intake import clean
from core.text import ellipsize, misleads, split_text
from core.types import ChatHistory, HistoryMessage, Reply, Source

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


def _mrkdwn(text: str, *, verbatim: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "type": "mrkdwn",
        "text": ellipsize_keep_lines(text, SECTION_TEXT_LIMIT),
    }
    if verbatim:
        shown["verbatim"] = True
    return shown


def _section(text: str, *, verbatim: bool = False) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, verbatim=verbatim)}


def _context(*texts: str, verbatim: bool = False) -> dict[str, Any]:
    elements = [_mrkdwn(t, verbatim=verbatim) for t in texts[:CONTEXT_ELEMENTS]]
    return {"type": "context", "elements": elements}


def inert(text: str) -> str:
    """Third-party or people's text for mrkdwn, shown as written and never as markup that
    acts: mention tokens defanged, then ``&``, ``<`` and ``>`` escaped (so no ``<url|text>``
    link, mention or command can form). Put it in a text object with ``verbatim`` set, so
    Slack does not turn the URLs and channel names in it into links either."""
    return _escape(defang(text))


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


def progress_message(raw_so_far: str, locale: str = "") -> SlackMessage:
    """A message still being written (the placeholder edited with ``chat.update``)."""
    shown = stable_defanged(raw_so_far).strip()
    budget = MARKDOWN_LIMIT - len(TYPING_MARK)
    if len(shown) > budget:
        shown = shown[:budget].rstrip()
    body = (shown + TYPING_MARK) if shown else localize(say.THINKING, locale)
    return SlackMessage(text=notification_text(body), blocks=(_markdown(body),))


def text_message(text: str) -> SlackMessage:
    """A short notice from us (not model output): section blocks, one per 3,000 characters."""
    pieces = split_text(text, SECTION_TEXT_LIMIT) or [text]
    blocks = tuple(_section(p) for p in pieces[:MAX_BLOCKS])
    return SlackMessage(text=notification_text(text), blocks=blocks)


def _fit_inert(text: str, budget: int) -> str:
    """:func:`inert` of ``text``, ellipsized so the escaped form fits in ``budget``."""
    shown = inert(text)
    while len(shown) > budget and len(text) > 1:
        text = ellipsize(text, max(1, min(len(text) - 1, len(text) * budget // len(shown))))
        shown = inert(text)
    return shown


def asked_message(user_id: str, question: str, locale: str = "") -> SlackMessage:
    """``<@user> asked: *question*``; the question is a person's (or a suggestion's) text,
    cleaned of bidirectional and other controls by the core's intake rule and shown inert
    (:func:`inert`, in a ``verbatim`` text object): the bot never re-posts a link, masked
    or not, as its own. In ``locale``, the asker's."""
    budget = SECTION_TEXT_LIMIT - len(localize(say.asked(user_id, ""), locale))
    shown = _fit_inert(" ".join(clean(question).split()), budget).replace("*", "∗")
    text = localize(say.asked(user_id, shown), locale)
    return SlackMessage(text=notification_text(text), blocks=(_section(text, verbatim=True),))


def edit_offer(text: str, ref: str, *, locale: str = "") -> SlackMessage:
    """Beneath an answer whose question was edited: one short sentence and one suggestion
    button showing the edited question (clicked, it is asked as any suggestion is)."""
    sentence = localize(core_messages.EDIT_OFFER, locale)
    label = presentation.label(defang(" ".join(clean(text).split())), BUTTON_TEXT_LIMIT)
    button = _button(label, f"{SUGGEST_ACTION}:{ref}", value=ref)
    blocks: list[dict[str, Any]] = [_section(sentence)]
    if button is not None:
        blocks.extend(_actions([button], "gloo_edit_offer"))
    return SlackMessage(text=sentence, blocks=tuple(blocks))


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
    """A link (:func:`core.presentation.link`) that fits a button's ``url`` (3,000)."""
    found = presentation.link(url)
    return found if found is not None and len(found) <= BUTTON_URL_LIMIT else None


def _source_blocks(
    sources: Sequence[presentation.ShownSource], locale: str = ""
) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    unlinked: list[str] = []
    for i, source in enumerate(sources):
        url = _usable_url(source.url)
        if url is None:
            # A title from a third-party document, with no link of its own: shown inert.
            unlinked.append(inert(ellipsize(source.title or source.url or "", 200)))
            continue
        button = _button(source.label, f"{SOURCE_ACTION}:{i}", url=url)
        if button is not None:
            buttons.append(button)
    blocks: list[dict[str, Any]] = []
    if buttons:
        blocks.append(_context(localize(say.SOURCES_HEADER, locale)))
        blocks.extend(_actions(buttons, "gloo_sources"))
    if unlinked:
        titles = " · ".join(unlinked)
        also = localize(say.more_sources(titles), locale)
        blocks.append(_context(also, verbatim=True))
    return blocks


# --- task cards (streamed steps) ------------------------------------------------------------

#: The one task card of an answer: its search of Gloo's sources.
SOURCES_TASK_ID: Final = "gloo_sources"
TASK_TITLE_LIMIT: Final = 150
TASK_SOURCE_TEXT_LIMIT: Final = 75
TASK_SOURCE_URL_LIMIT: Final = 3_000
TASK_SOURCES_LIMIT: Final = 25


def _task(
    title: str, status: str, sources: list[UrlSourceElement] | None = None
) -> TaskUpdateChunk:
    return TaskUpdateChunk(
        id=SOURCES_TASK_ID,
        title=ellipsize(title, TASK_TITLE_LIMIT),
        status=status,
        sources=sources or None,
    )


def searching_task(locale: str = "") -> TaskUpdateChunk:
    """The card while Gloo searches its sources."""
    return _task(localize(say.SEARCHING_SOURCES, locale), "in_progress")


def found_task(sources: Sequence[Source], locale: str = "") -> TaskUpdateChunk:
    """The finished search: how many sources the answer shows, carrying those with a link
    that fits (at most :data:`TASK_SOURCES_LIMIT`)."""
    if not sources:
        return _task(localize(say.SEARCHED_SOURCES, locale), "complete")
    linked: list[UrlSourceElement] = []
    for source in sources:
        url = presentation.link(source.url)
        if url is None or len(url) > TASK_SOURCE_URL_LIMIT:
            continue
        text = ellipsize(defang(clean(source.label)), TASK_SOURCE_TEXT_LIMIT) or url[:75]
        linked.append(UrlSourceElement(url=url, text=text))
        if len(linked) == TASK_SOURCES_LIMIT:
            break
    return _task(localize(say.found_sources(len(sources)), locale), "complete", linked)


def stopped_task(locale: str = "") -> TaskUpdateChunk:
    """The search's card when the answer broke off: never left in progress."""
    return _task(localize(say.SEARCHING_SOURCES, locale), "error")


def text_chunk(text: str) -> MarkdownTextChunk:
    """Streamed answer text as a chunk (every stream sends its text so)."""
    return MarkdownTextChunk(text=text)


def _suggestion_blocks(
    suggestions: Sequence[presentation.ShownSuggestion], locale: str = ""
) -> list[dict[str, Any]]:
    buttons = []
    for suggestion in suggestions:
        button = _button(
            suggestion.label, f"{SUGGEST_ACTION}:{suggestion.ref}", value=suggestion.ref
        )
        if button is not None:
            buttons.append(button)
    if not buttons:
        return []
    header = _context(localize(say.SUGGESTIONS_HEADER, locale))
    return [header, *_actions(buttons, "gloo_suggestions")]


def feedback_value(vote: str, answer_id: str) -> str:
    """The ``value`` of one feedback button: ``"up:<answer_id>"`` or ``"down:<answer_id>"``."""
    return f"{vote}:{answer_id}"


def _feedback_blocks(reply: Reply, locale: str = "") -> list[dict[str, Any]]:
    """Slack's native 👍/👎: a ``context_actions`` block with one ``feedback_buttons`` element.

    https://docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element (button
    text ≤ 75 characters, ``value`` ≤ 2,000; slack_sdk's ``FeedbackButtonsElement``). Both
    buttons share the element's ``action_id``; the click's ``value`` says which one it was.
    """
    up, down = feedback_value("up", reply.answer_id), feedback_value("down", reply.answer_id)
    if max(len(up), len(down)) > BUTTON_VALUE_LIMIT:
        log.warning("slack.render.button_value_too_long", chars=len(up))
        return []
    return [
        {
            "type": "context_actions",
            "block_id": "gloo_feedback",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": FEEDBACK_ACTION,
                    "positive_button": {
                        "text": _plain("👍", BUTTON_TEXT_LIMIT),
                        "accessibility_label": _label_text(say.FEEDBACK_UP_LABEL, locale),
                        "value": up,
                    },
                    "negative_button": {
                        "text": _plain("👎", BUTTON_TEXT_LIMIT),
                        "accessibility_label": _label_text(say.FEEDBACK_DOWN_LABEL, locale),
                        "value": down,
                    },
                }
            ],
        }
    ]


def _label_text(label: str, locale: str) -> str:
    """An accessibility label in ``locale``, within a button's 75 characters."""
    return ellipsize(localize(label, locale), BUTTON_TEXT_LIMIT)


def reply_extras(reply: Reply, locale: str = "") -> list[dict[str, Any]]:
    """Everything after the answer text: sources, suggestions, feedback (in that order), the
    bot's own words in ``locale`` (the asker's; Gloo's sources and suggestions as they are).

    ``reply`` is presented (:func:`core.presentation.present`: the channel's settings are
    applied by the core); this only lays it out, labels within Slack's 75 characters.
    """
    shown = presentation.layout(reply, BUTTON_TEXT_LIMIT, clean=defang)
    return [
        *_source_blocks(shown.sources, locale),
        *_suggestion_blocks(shown.suggestions, locale),
        *_feedback_blocks(reply, locale),
    ]


def render_reply(reply: Reply, locale: str = "") -> list[SlackMessage]:
    """The whole answer as Slack messages: text pages, then the buttons on the last one.

    Every message has at most 50 blocks and 12,000 characters of markdown; extra pages and
    extra button blocks go to further messages, so nothing is dropped.
    """
    pages = answer_pages(reply.text)
    extras = reply_extras(reply, locale)
    result = [SlackMessage(text=notification_text(p), blocks=(_markdown(p),)) for p in pages]
    last = result.pop()
    room = MAX_BLOCKS - len(last.blocks)
    result.append(SlackMessage(text=last.text, blocks=(*last.blocks, *extras[:room])))
    rest = extras[room:]
    while rest:
        chunk, rest = rest[:MAX_BLOCKS], rest[MAX_BLOCKS:]
        fallback = localize(say.BUTTONS_FALLBACK, locale)
        result.append(SlackMessage(text=fallback, blocks=tuple(chunk)))
    return result


def buttons_message(reply: Reply, locale: str = "") -> list[SlackMessage]:
    """Only the buttons (after a plain-text fallback of the answer)."""
    extras = reply_extras(reply, locale)
    fallback = localize(say.BUTTONS_FALLBACK, locale)
    return [
        SlackMessage(text=fallback, blocks=tuple(extras[i : i + MAX_BLOCKS]))
        for i in range(0, len(extras), MAX_BLOCKS)
    ]


# --- slash command output ---------------------------------------------------------------------


_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")


def _speaker(item: HistoryMessage, viewer: str) -> str:
    """Who wrote a history message: Gloo, the viewer ("You"), another person by mention
    (a mention in a modal or ephemeral message notifies nobody), or "Someone" when the
    history does not say."""
    if item.role != "user":
        return say.HISTORY_GLOO
    if item.user_id and item.user_id == viewer:
        return say.HISTORY_YOU
    if _SLACK_USER_ID.fullmatch(item.user_id):
        return f"<@{item.user_id}>"
    return say.HISTORY_SOMEONE


def _history_blocks(
    history: ChatHistory, max_blocks: int, title: bool, viewer: str
) -> list[dict[str, Any]]:
    """The chat's messages, newest kept when they do not all fit in ``max_blocks``.

    People's messages are shown inert (:func:`inert`, ``verbatim``): what someone wrote is
    never a live link or mention in the bot's view; Gloo's answers keep their (honest) links.
    """
    entries: list[tuple[str, bool]] = []
    for item in history.messages:
        who = _speaker(item, viewer)
        if item.role == "user":
            entries.append((f"*{who}*: {inert(item.text)}", True))
        else:
            entries.append((f"*{who}*: {defang(item.text)}", False))
    room = max_blocks - 1 - int(title)  # the "earlier messages" note, and the title
    shown = entries[-room:]
    blocks: list[dict[str, Any]] = [_section(say.HISTORY_TITLE)] if title else []
    if len(entries) > len(shown):
        blocks.append(_context(say.HISTORY_EARLIER.format(count=len(entries) - len(shown))))
    blocks.extend(_section(entry, verbatim=verbatim) for entry, verbatim in shown)
    return blocks


def history_message(history: ChatHistory, viewer: str = "") -> SlackMessage:
    """A chat's history as an ephemeral message for ``viewer`` (a Slack user id), newest
    kept when it does not all fit."""
    blocks = _history_blocks(history, MAX_BLOCKS, title=True, viewer=viewer)
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


# --- the App Home tab and its modal ---------------------------------------------------------
#
# Views (https://docs.slack.dev/reference/views/home-tab-views, .../modal-views): at most 100
# blocks; a modal's ``title`` and ``close`` are plain text of at most 24 characters; a
# ``header`` block's text at most 150; a confirm dialog's title 100, text 300, buttons 30.

VIEW_MAX_BLOCKS: Final = 100
MODAL_TITLE_LIMIT: Final = 24
HEADER_TEXT_LIMIT: Final = 150
CONFIRM_TITLE_LIMIT: Final = 100
CONFIRM_TEXT_LIMIT: Final = 300
CONFIRM_BUTTON_LIMIT: Final = 30
#: How much of a first question the Home tab shows.
HOME_QUESTION_CHARS: Final = 200
HOME_HISTORY_ACTION: Final = "gloo_home_history"
HOME_RESET_ACTION: Final = "gloo_home_reset"
HISTORY_MODAL_ID: Final = "gloo_history"


@dataclass(frozen=True, slots=True)
class HomeConversation:
    """One conversation as the Home tab lists it."""

    channel: str
    thread: str
    first_question: str
    started_at: float  # unix seconds
    questions: int
    permalink: str | None = None


def thread_ref(channel: str, thread: str) -> str:
    """A Home button's ``value``: which conversation (the workspace comes with the click)."""
    return f"{channel}|{thread}"


def parse_thread_ref(value: str) -> tuple[str, str] | None:
    channel, sep, thread = value.partition("|")
    if not sep or not re.fullmatch(r"[A-Z0-9]{1,64}", channel):
        return None
    if thread and not re.fullmatch(r"[0-9]{1,20}\.[0-9]{1,10}", thread):
        return None
    return channel, thread


def _escape(text: str) -> str:
    """Text shown as mrkdwn without being read as markup (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(text, HEADER_TEXT_LIMIT)}


def _confirm(title: str, text: str, confirm: str, deny: str) -> dict[str, Any]:
    return {
        "title": _plain(title, CONFIRM_TITLE_LIMIT),
        "text": _plain(text, CONFIRM_TEXT_LIMIT),
        "confirm": _plain(confirm, CONFIRM_BUTTON_LIMIT),
        "deny": _plain(deny, CONFIRM_BUTTON_LIMIT),
        "style": "danger",
    }


def _where(channel: str, locale: str = "") -> str:
    where = say.HOME_IN_DM if channel.startswith("D") else say.home_in_channel(channel)
    return localize(where, locale)


def _when(unix: float, locale: str = "") -> str:
    """A date Slack shows in the reader's own time zone and language (with a UTC fallback)."""
    stamp = int(unix)
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    # Slack fills in its own tokens ({date_short_pretty}, {time}); "at" is ours.
    shown = localize(t("{date} at {time}", date="{date_short_pretty}", time="{time}"), locale)
    return f"<!date^{stamp}^{shown}|{fallback}>"


def _conversation_blocks(
    item: HomeConversation, index: int, locale: str = ""
) -> list[dict[str, Any]]:
    def tr(text: str) -> str:
        return localize(text, locale)

    question = _escape(
        defang(ellipsize(" ".join(item.first_question.split()), HOME_QUESTION_CHARS))
    )
    question = question.replace("|", "¦").replace("*", "∗") or "…"
    url = _usable_url(item.permalink)
    if url and misleads(item.first_question, url):
        # A question naming a host (``is paypal.com safe?``) is no label for Slack's link.
        title = f"*{question}* · <{url}|{tr(say.HOME_OPEN)}>"
    else:
        title = f"*<{url}|{question}>*" if url else f"*{question}*"
    asked = tr(say.home_questions(item.questions))
    ref = thread_ref(item.channel, item.thread)
    buttons = [
        _button(tr(say.HOME_HISTORY_BUTTON), HOME_HISTORY_ACTION, value=ref),
        _button(tr(say.HOME_RESET_BUTTON), HOME_RESET_ACTION, value=ref),
    ]
    reset = buttons[1]
    if reset is not None:
        reset["confirm"] = _confirm(
            tr(say.HOME_RESET_CONFIRM_TITLE),
            tr(say.HOME_RESET_CONFIRM_TEXT),
            tr(say.HOME_RESET_BUTTON),
            tr(say.HOME_RESET_CANCEL),
        )
    elements = [b for b in buttons if b is not None]
    blocks: list[dict[str, Any]] = [
        _section(title),
        _context(f"{_where(item.channel, locale)} · {_when(item.started_at, locale)} · {asked}"),
    ]
    if elements:
        blocks.append({"type": "actions", "block_id": f"gloo_home_{index}", "elements": elements})
    return blocks


def home_view(
    conversations: Sequence[HomeConversation],
    admin: Sequence[tuple[str, Sequence[tuple[str, str]]]] | None = None,
    note: str = "",
    locale: str = "",
) -> dict[str, Any]:
    """The Home tab: the person's conversations, then (for admins) the stored settings, the
    bot's words in ``locale`` (the person's Slack language).

    ``admin`` is ``(scope label, describe_settings lines)`` per scope, or ``None`` for people
    who are not workspace admins. Whatever does not fit in 100 blocks is left out with a note
    saying how much, conversations before settings.
    """

    def tr(text: str) -> str:
        return localize(text, locale)

    top: list[dict[str, Any]] = [_header(tr(say.HOME_TITLE))]
    if note:
        top.append(_context(tr(note)))
    top.append(_context(tr(say.HOME_INTRO)))
    listed: list[list[dict[str, Any]]] = [
        _conversation_blocks(item, i, locale) for i, item in enumerate(conversations)
    ]
    if not listed:
        top.append(_section(tr(say.HOME_EMPTY)))
    scopes: list[list[dict[str, Any]]] = []
    for label, lines in admin or ():
        shown = "\n".join(f"• {name}: {defang(value)}" for name, value in lines)
        scopes.append([_section(f"*{tr(label)}*\n{shown}")])
    # The admin part's heading goes with its first entry, so it never stands alone.
    if admin is not None:
        heading = [
            {"type": "divider"},
            _header(tr(say.HOME_ADMIN_TITLE)),
            _context(tr(say.HOME_ADMIN_INTRO)),
        ]
        scopes = [heading + (scopes[0] if scopes else []), *scopes[1:]]
    blocks = list(top)
    room = VIEW_MAX_BLOCKS - len(blocks) - 1  # keep one block for the "not shown" note
    shown_conversations = shown_scopes = 0
    for kind, group in [*(("c", g) for g in listed), *(("s", g) for g in scopes)]:
        if len(group) > room:
            break
        blocks.extend(group)
        room -= len(group)
        if kind == "c":
            shown_conversations += 1
        else:
            shown_scopes += 1
    left_conversations = len(listed) - shown_conversations
    left_scopes = len(admin or ()) - shown_scopes
    if left_conversations or left_scopes:
        note = tr(say.home_not_shown(left_conversations, left_scopes))
        blocks.append(_context(note))
    return {"type": "home", "callback_id": "gloo_home", "blocks": blocks}


def _modal(blocks: list[dict[str, Any]], locale: str = "") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": HISTORY_MODAL_ID,
        "title": _plain(localize(say.HISTORY_MODAL_TITLE, locale), MODAL_TITLE_LIMIT),
        "close": _plain(localize(say.HISTORY_MODAL_CLOSE, locale), MODAL_TITLE_LIMIT),
        "blocks": blocks[:VIEW_MAX_BLOCKS],
    }


def history_modal(history: ChatHistory, viewer: str = "", locale: str = "") -> dict[str, Any]:
    """The conversation as Gloo keeps it, in a modal for ``viewer`` (a Slack user id; newest
    kept within 100 blocks)."""
    blocks = _history_blocks(history, VIEW_MAX_BLOCKS, title=False, viewer=viewer)
    return _modal(blocks, locale)


def notice_modal(text: str, locale: str = "") -> dict[str, Any]:
    """A modal with one sentence (loading, nothing to show, or a failure), in ``locale``."""
    return _modal([_section(localize(text, locale))], locale)
