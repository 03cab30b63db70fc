"""Sentences only the Slack adapter says. Gloo failures come from :mod:`core.messages`."""

from __future__ import annotations

from typing import Final

THINKING: Final = "_Thinking…_"
ASKED: Final = "<@{user}> asked: *{text}*"
SOURCES_HEADER: Final = "*Sources*"
MORE_SOURCES_HEADER: Final = "*Also from:* {titles}"
SUGGESTIONS_HEADER: Final = "*Ask next*"
FEEDBACK_HEADER: Final = "Was this helpful?"
CONTINUED: Final = "(continued)"
BUTTONS_FALLBACK: Final = "Links and buttons for this answer"

FEEDBACK_THANKS: Final = "Thanks for the feedback!"
FEEDBACK_UNKNOWN: Final = (
    "Sorry, I can't find that answer any more, so I couldn't record your feedback."
)

NOT_IN_CHANNEL: Final = (
    "I can't post in this conversation. Invite me first (`/invite @Gloo`), then ask again."
)
ASK_WHAT: Final = "Ask me something, for example: `/gloo ask What is grace?`"
RESET_DM: Final = "Done. Your next message starts a new conversation."
RESET_CHANNEL: Final = (
    "Done. In channels every thread is its own conversation: mention me in a new message "
    "to start a fresh one."
)
NO_HISTORY: Final = "There is no conversation here yet. Ask me something first."
HISTORY_IN_CHANNEL: Final = (
    "In channels every thread is its own conversation. Use `/gloo history` in a direct "
    "message with me to see that conversation."
)
HISTORY_TITLE: Final = "*Conversation history*"
HISTORY_EARLIER: Final = "_{count} earlier messages are not shown._"
SETTINGS_TITLE: Final = "*Gloo settings for this channel*"
SETTINGS_SAVED: Final = "Saved."
SETTINGS_USAGE: Final = (
    "Change a setting with, for example:\n"
    "• `/gloo settings sources on` or `off`\n"
    "• `/gloo settings suggestions on` or `off`\n"
    "• `/gloo settings sources 3` (how many sources, 0-25)\n"
    "• `/gloo settings characters 500` (answer length; `none` for no limit)\n"
    "• `/gloo settings publishers Publisher A, Publisher B` (`none` for all)"
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
