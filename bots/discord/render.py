"""The one place Discord's limits are enforced: a neutral answer in, messages that fit out.

Limits (Discord API v10):

* 2,000 characters of content per message: longer answers continue in further messages,
  cut at paragraph / sentence boundaries by :func:`core.text.split_text`;
* 4,096 characters per embed description (the numbered source list);
* 80 characters per button label (shortened with an ellipsis), 100 per ``custom_id``,
  512 per link-button URL;
* 5 buttons per action row, 5 rows (so 25 components) per message;
* 100 characters per thread name.

Which sources and suggestions an answer shows is the core's presentation policy
(:mod:`core.presentation`, applied to every reply the service yields); here they are only
laid out. Sources become link buttons; those that do not fit, or cannot be a
link button (no http(s) URL, too long), go to a numbered list in an embed. Suggestions and
👍/👎 feedback become persistent buttons whose ``custom_id`` carries only the short answer id
and an index (see :mod:`bots.discord.buttons`). Nothing here talks to Discord.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import structlog
from discord.utils import escape_markdown

from core import presentation
from core.i18n import localize, t, tn
from core.intake import clean
from core.text import ellipsize, split_text
from core.types import ChatHistory, HistoryMessage, Reply

log = structlog.get_logger(__name__)

MESSAGE_LIMIT: Final = 2000
EMBED_DESCRIPTION_LIMIT: Final = 4096
LABEL_LIMIT: Final = 80
CUSTOM_ID_LIMIT: Final = 100
URL_LIMIT: Final = 512
BUTTONS_PER_ROW: Final = 5
ROWS_PER_MESSAGE: Final = 5
COMPONENTS_PER_MESSAGE: Final = BUTTONS_PER_ROW * ROWS_PER_MESSAGE
THREAD_NAME_LIMIT: Final = 100

SUGGESTION_PREFIX: Final = "gloo:s:"
FEEDBACK_PREFIX: Final = "gloo:f:"
FEEDBACK_VALUES: Final = {"up": 1, "down": -1}

#: Embed titles (256 characters at most in any language) and the bot's own sentences, said
#: in the asker's language (:func:`core.i18n.localize`).
SOURCES_TITLE: Final = t("Sources")
MORE_SOURCES_TITLE: Final = t("More sources")
EMPTY_ANSWER: Final = t("Gloo sent an empty answer. Please try asking in a different way.")
EMBED_TITLE_LIMIT: Final = 256
DEFAULT_THREAD_NAME: Final = "Question for Gloo"

_MENTION_LIKE = re.compile(r"<(@[!&]?|#)\d+>|@(everyone|here)")


@dataclass(frozen=True, slots=True)
class LinkButton:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class ActionButton:
    kind: Literal["suggestion", "feedback"]
    custom_id: str
    label: str | None = None
    emoji: str | None = None


Button = LinkButton | ActionButton


@dataclass(frozen=True, slots=True)
class RenderedAnswer:
    """An answer as Discord messages: ``pieces`` are message contents, oldest first; the last
    message carries ``rows`` (action rows of buttons) and, when set, an embed with
    ``embed_title`` / ``embed_description`` (the numbered source list)."""

    pieces: tuple[str, ...]
    rows: tuple[tuple[Button, ...], ...] = ()
    embed_title: str | None = None
    embed_description: str | None = None


def split_message(text: str) -> list[str]:
    """``text`` as message contents of at most 2,000 characters each (nothing lost)."""
    return split_text(text, MESSAGE_LIMIT)


def label(text: str) -> str:
    """A button label: at most 80 characters, ellipsized when cut, never empty."""
    return presentation.label(text, LABEL_LIMIT)


def thread_name(question: str) -> str:
    """A thread name (1-100 characters) taken from the question (cleaned as at intake)."""
    cleaned = _MENTION_LIKE.sub("", clean(question))
    return ellipsize(cleaned, THREAD_NAME_LIMIT) or DEFAULT_THREAD_NAME


def suggestion_custom_id(answer_id: str, index: int) -> str | None:
    """The persistent ``custom_id`` of a suggestion button, or None if it would not fit."""
    custom_id = f"{SUGGESTION_PREFIX}{answer_id}:{index}"
    return custom_id if len(custom_id) <= CUSTOM_ID_LIMIT else None


def feedback_custom_id(answer_id: str, value: Literal["up", "down"]) -> str | None:
    custom_id = f"{FEEDBACK_PREFIX}{answer_id}:{value}"
    return custom_id if len(custom_id) <= CUSTOM_ID_LIMIT else None


def _linkable(url: str | None) -> bool:
    """A link (:func:`core.presentation.link`) that fits a link button (512)."""
    found = presentation.link(url)
    return found is not None and len(found) <= URL_LIMIT


def _pack(buttons: Sequence[Button], rows: int) -> list[tuple[Button, ...]]:
    return [
        tuple(buttons[i : i + BUTTONS_PER_ROW])
        for i in range(0, min(len(buttons), rows * BUTTONS_PER_ROW), BUTTONS_PER_ROW)
    ]


def render_answer(reply: Reply, locale: str = "") -> RenderedAnswer:
    """Lay out a finished answer within every Discord limit; the bot's own words in
    ``locale`` (the asker's, :func:`core.i18n.localize`), Gloo's answer as it is."""
    pieces = tuple(split_message(reply.text)) or (localize(EMPTY_ANSWER, locale),)

    feedback: list[Button] = []
    up = feedback_custom_id(reply.answer_id, "up")
    down = feedback_custom_id(reply.answer_id, "down")
    if up and down:
        feedback = [
            ActionButton("feedback", up, emoji="👍"),
            ActionButton("feedback", down, emoji="👎"),
        ]
    else:
        log.warning("discord.render.answer_id_too_long", answer_id=reply.answer_id[:120])

    shown = presentation.layout(reply, LABEL_LIMIT)
    suggestions: list[Button] = []
    for suggestion in shown.suggestions:
        custom_id = suggestion_custom_id(reply.answer_id, suggestion.index)
        if custom_id is None:
            log.warning("discord.render.custom_id_too_long", answer_id=reply.answer_id[:120])
            break
        suggestions.append(ActionButton("suggestion", custom_id, label=suggestion.label))

    sources = shown.sources
    links = [s for s in sources if _linkable(s.url)]
    rows_left = ROWS_PER_MESSAGE - (1 if feedback else 0)

    # Suggestions one per row (their labels are sentences) while that leaves a row for the
    # sources; otherwise packed five to a row.
    suggestion_rows_max = rows_left - (1 if links else 0)
    suggestion_rows: list[tuple[Button, ...]]
    if len(suggestions) <= suggestion_rows_max:
        suggestion_rows = [(button,) for button in suggestions]
    else:
        suggestion_rows = _pack(suggestions, max(1, suggestion_rows_max))
        if len(suggestions) > len(suggestion_rows) * BUTTONS_PER_ROW:
            log.warning("discord.render.suggestions_dropped", count=len(suggestions))
    rows_left -= len(suggestion_rows)

    link_buttons: list[Button] = [LinkButton(s.label, s.url or "") for s in links]
    source_rows = _pack(link_buttons, rows_left)
    on_buttons = {id(s) for s in links[: sum(len(row) for row in source_rows)]}
    listed = [(n, s) for n, s in enumerate(sources, start=1) if id(s) not in on_buttons]
    rows = tuple(source_rows + suggestion_rows + ([tuple(feedback)] if feedback else []))
    embed_title = embed_description = None
    if listed:
        title = SOURCES_TITLE if not on_buttons else MORE_SOURCES_TITLE
        embed_title = ellipsize(localize(title, locale), EMBED_TITLE_LIMIT)
        embed_description = numbered_sources(listed)
    return RenderedAnswer(
        pieces=pieces,
        rows=rows,
        embed_title=embed_title,
        embed_description=embed_description,
    )


def inert(text: str) -> str:
    """Third-party or people's text shown as written, never as markup that acts: every
    ``scheme://`` is broken with a zero-width space (Discord links bare URLs and ``<url>``
    only with their scheme), then every Markdown character is escaped (no masked link
    ``[text](url)``, no formatting)."""
    return escape_markdown(text.replace("://", ":/\u200b/"))


def numbered_sources(entries: Sequence[tuple[int, presentation.ShownSource]]) -> str:
    """``1. [Title](url) — Publisher`` lines, within one embed description (4,096)."""
    reserve = len("…and 99999 more") + 1  # room to say how many did not fit
    lines: list[str] = []
    used = 0
    for position, (number, source) in enumerate(entries):
        linked = _linkable(source.url)
        title = ellipsize(source.title or source.url or "", 200)
        # A title comes from a third-party document: the label of the source's own link
        # (the core has replaced a title naming another host), or inert text when it has none.
        # Discord's masked-link label ignores backslashes: brackets become parentheses, so
        # a title cannot close the label early and open a link of its own.
        label_text = title.replace("[", "(").replace("]", ")")
        title = (escape_markdown(label_text) if linked else inert(title)) or "Source"
        line = f"{number}. [{title}]({source.url})" if linked else f"{number}. {title}"
        if source.publisher:
            line += f" — {inert(ellipsize(source.publisher, 80))}"
        needed = len(line) + (1 if lines else 0)
        if used + needed > EMBED_DESCRIPTION_LIMIT - reserve:
            lines.append(f"…and {len(entries) - position} more")
            break
        lines.append(line)
        used += needed
    return "\n".join(lines)


def asked_line(user_name: str, question: str, locale: str = "") -> str:
    """``**user** asked: *question*`` (in ``locale``) within one message; name and question
    cleaned of bidirectional and other controls by the core's intake rule."""
    someone = localize(t("Someone"), locale)
    name = escape_markdown(ellipsize(clean(user_name).strip() or someone, 80))
    budget = MESSAGE_LIMIT - len(localize(_asked(name, ""), locale))
    words = " ".join(clean(question).split())
    text = inert(words)  # a person's text: never re-posted as a live link
    if len(text) > budget:
        text = inert(ellipsize(words, budget // 3))
    return localize(_asked(name, text), locale)


def _asked(name: str, text: str) -> str:
    return t("**{name}** asked: *{question}*", name=name, question=text)


def _speaker(message: HistoryMessage, viewer: str, locale: str) -> str:
    """Gloo, the viewer ("You"), another person by mention (sent with no allowed mentions,
    so nobody is notified), or "Someone" when the history does not say who asked."""
    if message.role != "user":
        return "Gloo"
    if message.user_id and message.user_id == viewer:
        return localize(t("You"), locale)
    if re.fullmatch(r"\d{15,21}", message.user_id):
        return f"<@{message.user_id}>"
    return localize(t("Someone"), locale)


def render_history(history: ChatHistory | None, viewer: str = "", locale: str = "") -> str:
    """A chat's turns as one message for ``viewer`` (a Discord user id, whose ``locale`` the
    bot's words are in): the most recent ones that fit in 2,000 characters. People's
    messages are shown inert (:func:`inert`)."""
    if history is None or not history.messages:
        return localize(t("There is no conversation here yet. Ask me something first."), locale)
    title = history.title or localize(t("This conversation"), locale)
    header = f"**{inert(ellipsize(title, 100))}**"
    lines: list[str] = []
    used = len(header)
    for message in reversed(history.messages):
        who = _speaker(message, viewer, locale)
        text = ellipsize(message.text, 300)
        line = f"**{who}:** {inert(text) if message.role == 'user' else text}"
        if used + len(line) + 1 > MESSAGE_LIMIT - 40:
            hidden = len(history.messages) - len(lines)
            not_shown = tn(
                "{count} earlier message not shown", "{count} earlier messages not shown", hidden
            )
            lines.append(f"*…{localize(not_shown, locale)}*")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join([header, *reversed(lines)])[:MESSAGE_LIMIT]


def with_notice(shown: str, notice: str) -> str | None:
    """``shown`` followed by ``notice`` in one message, or None when that would not fit."""
    combined = f"{shown}\n\n*{notice}*" if shown else notice
    return combined if len(combined) <= MESSAGE_LIMIT else None
