"""Sentences only the Slack adapter says. Gloo failures come from :mod:`core.messages`.

Those marked with :func:`core.i18n.t` are said in the person's Slack language (``users.info``
with ``include_locale``, :class:`bots.slack.access.SlackAdmins`) when posted or published
(:func:`core.i18n.localize`): the Home tab, refusals, failures and the feedback replies.
"""

from __future__ import annotations

from typing import Final

from core.bounds import MAX_CHARACTER_LIMIT, MAX_SOURCES_LIMIT
from core.i18n import Message, t, tn

THINKING: Final = t("_Thinking…_")


def asked(user: str, text: str) -> Message:
    """The line that shows, in the channel, what a person asked through a button, a command
    or a shortcut (``user`` mentioned, ``text`` already inert)."""
    return t("<@{user}> asked: *{text}*", user=user, text=text)


SOURCES_HEADER: Final = t("*Sources*")
SUGGESTIONS_HEADER: Final = t("*Ask next*")
FEEDBACK_HEADER: Final = "Was this helpful?"
CONTINUED: Final = "(continued)"
BUTTONS_FALLBACK: Final = t("Links and buttons for this answer")
#: The task card of an answer for which Gloo searches its sources (Slack's streamed
#: ``task_update`` chunks): while it searches, and when it is done.
SEARCHING_SOURCES: Final = t("Searching Gloo's sources")
SEARCHED_SOURCES: Final = t("Searched Gloo's sources")


def more_sources(titles: str) -> Message:
    """The sources shown without a button: ``titles`` joined, already inert."""
    return t("*Also from:* {titles}", titles=titles)


def found_sources(count: int) -> Message:
    """The finished search's title: how many sources the answer shows."""
    return tn("Found {count} source", "Found {count} sources", count)


FEEDBACK_THANKS: Final = t("Thanks for the feedback!")
FEEDBACK_UNKNOWN: Final = t(
    "Sorry, I can't find that answer any more, so I couldn't record your feedback."
)

NOT_IN_CHANNEL: Final = t(
    "I can't post in this conversation. Invite me first (`/invite @Gloo`), then ask again."
)
ASK_WHAT: Final = t("Ask me something, for example: `/gloo ask What is grace?`")
RESET_DM: Final = t("Done. Your next message starts a new conversation.")
RESET_CHANNEL: Final = t(
    "Done. In channels every thread is its own conversation: mention me in a new message "
    "to start a fresh one."
)
NO_HISTORY: Final = t("There is no conversation here yet. Ask me something first.")
HISTORY_IN_CHANNEL: Final = t(
    "In channels every thread is its own conversation. Open my *Home* tab: it lists your "
    "conversations, each with a *History* button."
)
HISTORY_TITLE: Final = "*Conversation history*"
HISTORY_EARLIER: Final = "_{count} earlier messages are not shown._"
HISTORY_GLOO: Final = "Gloo"
HISTORY_YOU: Final = "You"
HISTORY_SOMEONE: Final = "Someone"
SETTINGS_TITLE: Final = "*Gloo settings for this channel*"
SETTINGS_SAVED: Final = "Saved."
SETTINGS_USAGE: Final = (
    "Change a setting with, for example:\n"
    "• `/gloo settings sources on` or `off`\n"
    "• `/gloo settings suggestions on` or `off`\n"
    f"• `/gloo settings sources 3` (how many sources, 0-{MAX_SOURCES_LIMIT})\n"
    f"• `/gloo settings characters 500` (answer length, 1-{MAX_CHARACTER_LIMIT:,} characters; "
    "`none` for no limit)\n"
    "• `/gloo settings publishers Publisher A, Publisher B` (`none` for all)\n"
    "• `/gloo settings shortcut on` or `off` (the *Ask Gloo about this* message shortcut)"
)
SETTINGS_BAD: Final = "I didn't understand that setting. {reason}"
SOMETHING_WENT_WRONG: Final = (
    "Something went wrong on my side. It has been logged; please try again."
)
ASSISTANT_GREETING: Final = "Hi! Ask me anything, or pick one of the prompts below."
ASSISTANT_PROMPTS: Final = (
    ("What is grace?", "What is grace?"),
    ("Explain a passage", "Explain the parable of the prodigal son."),
    ("Find sources", "What do Christian writers say about forgiveness?"),
)
HELP: Final = (
    "*Gloo in Slack*\n"
    "• Mention me in a channel to ask a question; I answer in a thread, and replies in that "
    "thread continue the conversation without a new mention.\n"
    "• Message me directly for a private conversation.\n"
    "• `/gloo ask <question>` asks in this channel, as a new thread.\n"
    "• `/gloo reset` starts a new conversation here.\n"
    "• `/gloo history` shows this conversation (only to you).\n"
    "• `/gloo settings` shows or changes this channel's settings (administrators change them).\n"
    "• `/gloo access` shows who may use Gloo here; administrators change it.\n"
    "• Click a suggested question to ask it; 👍/👎 tell us how the answer was."
)

# --- feedback buttons (accessibility labels: at most 75 characters) ---------------------------
FEEDBACK_UP_LABEL: Final = t("This answer was helpful")
FEEDBACK_DOWN_LABEL: Final = t("This answer was not helpful")

# --- agent view ----------------------------------------------------------------------------------
RESET_DM_AGENT: Final = t(
    "In our direct messages every message you send me (not in a thread) starts a new "
    "conversation, so there is nothing to reset here. To start a thread over, use "
    "*Start over* next to it in my Home tab."
)
HISTORY_DM_AGENT: Final = t(
    "Open my *Home* tab: it lists your conversations, each with a *History* button."
)

# --- the Home tab ----------------------------------------------------------------------------
HOME_TITLE: Final = t("Your conversations with Gloo")
HOME_INTRO: Final = t(
    "Your most recent conversations, newest first. Message me, or mention me in a channel, "
    "to start another."
)
HOME_EMPTY: Final = t(
    "You have no conversations yet. Send me a message in the *Messages* tab, or mention "
    "me in a channel: `@Gloo What is grace?`"
)
HOME_IN_DM: Final = t("Direct message")


def home_in_channel(channel: str) -> Message:
    return t("In <#{id}>", id=channel)


def home_questions(count: int) -> Message:
    return tn("{count} question", "{count} questions", count)


HOME_HISTORY_BUTTON: Final = t("History")
HOME_OPEN: Final = t("Open")
HOME_RESET_BUTTON: Final = t("Start over")
HOME_RESET_CANCEL: Final = t("Keep it")
HOME_RESET_CONFIRM_TITLE: Final = t("Start this conversation over?")
HOME_RESET_CONFIRM_TEXT: Final = t(
    "Your next message in that thread starts a new conversation with Gloo; what was said "
    "so far is no longer used."
)
HOME_RESET_DONE: Final = t(
    "Started over. Your next message in that thread starts a new conversation."
)
HOME_UNKNOWN: Final = t(
    "I can't find that conversation any more (it may have been started over). Your Home "
    "tab now shows what is current."
)


def home_not_shown(conversations: int, settings: int) -> Message:
    return t(
        "_Left out to stay within what Slack can show: {conversations} older conversations; "
        "settings of {settings} more channels (or the workspace)._",
        conversations=conversations,
        settings=settings,
    )


HOME_ADMIN_TITLE: Final = t("Workspace settings")
HOME_ADMIN_INTRO: Final = t(
    "Only workspace admins and owners see this. Change a channel's settings with "
    "`/gloo settings` in that channel."
)
HOME_ADMIN_WORKSPACE: Final = t("Whole workspace (defaults)")
HOME_ADMIN_CHANNEL: Final = "<#{id}>"
HISTORY_MODAL_TITLE: Final = t("Conversation")
HISTORY_MODAL_CLOSE: Final = t("Close")
HISTORY_LOADING: Final = t("_Getting this conversation from Gloo…_")

# --- "Ask Gloo about this" (the message shortcut, bots/slack/shortcuts.py) ---------------
SHORTCUT_MODAL_TITLE: Final = "Ask Gloo"
SHORTCUT_SUBMIT: Final = "Ask"
SHORTCUT_CANCEL: Final = "Cancel"
SHORTCUT_QUOTE_LABEL: Final = "*About this message*"
SHORTCUT_NO_TEXT: Final = "_(a message with no text)_"
SHORTCUT_QUESTION_LABEL: Final = "Your question"
SHORTCUT_OFF: Final = t(
    "Asking Gloo about messages is turned off here. An administrator can turn it on with "
    "`/gloo settings shortcut on`."
)
SHORTCUT_CANNOT_POST: Final = t(
    "I can't post in that conversation, so I can't answer in the message's thread. Invite me "
    "first (`/invite @Gloo`), then try again."
)
SHORTCUT_EXPIRED: Final = "That took a moment too long for Slack. Please use the shortcut again."
SHORTCUT_LOST: Final = (
    "I lost track of which message this was about. Close this and use the shortcut again."
)
