"""Plain sentences the Discord adapter says (the core's own are in :mod:`core.messages`)."""

from __future__ import annotations

from typing import Final

BAD_TOKEN: Final = (
    "Discord refused the bot token (DISCORD_BOT_TOKEN) — in the Discord developer portal, open "  # noqa: S105 - a sentence, not a token
    "your application → Bot → Reset Token, and put the new token in DISCORD_BOT_TOKEN."
)
NO_TOKEN: Final = (
    "DISCORD_BOT_TOKEN is not set — copy the bot token from the Discord developer portal "  # noqa: S105 - a sentence, not a token
    "(your application → Bot → Reset Token); see docs/discord.md."
)
UNREACHABLE: Final = (
    "Could not reach Discord at {where} ({error}) — check the network, and DISCORD_API_URL "
    "if it is set"
)
MESSAGE_CONTENT_INTENT: Final = (
    "Discord closed the connection because the Message Content intent is not enabled. In the "
    "Discord developer portal, open your application → Bot → Privileged Gateway Intents, turn "
    "on MESSAGE CONTENT INTENT, save, and start again."
)
INTERACTIONS_URL: Final = (
    "In the Discord developer portal, open your application → General Information and clear "
    "INTERACTIONS ENDPOINT URL: this bot receives buttons and slash commands over the gateway."
)
UNKNOWN_FEEDBACK: Final = (
    "Sorry, I can't find that answer any more, so I couldn't record your feedback."
)
FEEDBACK_THANKS: Final = "Thanks for the feedback!"
RESET_DONE: Final = "Done: your next question here starts a new conversation."
RESET_NOTHING: Final = "There was no conversation here to reset. Ask me something!"
ASK_IN_THREAD: Final = "Answering in {thread}."
SETTINGS_INVALID: Final = "Those settings are not valid: {reason}"
NO_THREAD_PERMISSION: Final = (
    "I can't start a thread in this channel, so I'll answer here as replies: reply to my "
    "answer to keep the same conversation going. Threads would be tidier: a server admin can "
    "give me the Create Public Threads and Send Messages in Threads permissions in this channel."
)
SHORTCUT_OFF: Final = (
    "Asking Gloo about messages is turned off in this channel. A server admin can turn it on "
    "with `/settings shortcut:True`."
)
SHORTCUT_NO_TEXT: Final = "That message has no text I can read, so there is nothing to ask about."
