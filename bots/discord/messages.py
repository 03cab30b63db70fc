"""Plain sentences the Discord adapter says (the core's own are in :mod:`core.messages`).

Those people see in Discord are :class:`core.i18n.Message` values, said in the person's
language when sent (:func:`core.i18n.localize`); the operator's (startup) ones are English.
"""

from __future__ import annotations

from typing import Final

from core.i18n import Message, t

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
UNKNOWN_FEEDBACK: Final = t(
    "Sorry, I can't find that answer any more, so I couldn't record your feedback."
)
FEEDBACK_THANKS: Final = t("Thanks for the feedback!")
RESET_DONE: Final = t("Done: your next question here starts a new conversation.")
RESET_NOTHING: Final = t("There was no conversation here to reset. Ask me something!")
NO_THREAD_PERMISSION: Final = t(
    "I can't start a thread in this channel, so I'll answer here as replies: reply to my "
    "answer to keep the same conversation going. Threads would be tidier: a server admin can "
    "give me the Create Public Threads and Send Messages in Threads permissions in this channel."
)
SHORTCUT_OFF: Final = t(
    "Asking Gloo about messages is turned off in this channel. A server admin can turn it on "
    "with `/settings shortcut:True`."
)
SHORTCUT_NO_TEXT: Final = t(
    "That message has no text I can read, so there is nothing to ask about."
)
ACCESS_IN_SERVER: Final = t("Access lists belong to a server: use `/access` there.")


def settings_invalid(reason: str) -> Message:
    """``reason``: the sentence of the ValueError (a Message when the core made it)."""
    return t("Those settings are not valid: {reason}", reason=reason)
