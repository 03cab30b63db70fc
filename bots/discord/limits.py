"""Discord's rate limits, as :class:`core.budget.Rate`s, and the scope of a call.

Discord limits a bot globally and per route, a route's limit counted separately for each
top-level resource in its path (a channel, a guild, a webhook): docs.discord.com/developers/
topics/rate-limits. That page also says: "Because rate limits depend on a variety of factors
and are subject to change, rate limits should not be hard coded into your app. Instead, your
app should parse response headers". So these numbers are a budget kept *below* what Discord
is known to allow, so that many answers at once do not run into 429s; the headers and
``Retry-After`` stay authoritative (discord.py honours them for every request, and a 429 is
recorded with :meth:`core.budget.Budget.refused`).

- **Global**: 50 requests a second per bot (docs.discord.com/developers/topics/rate-limits,
  "Global Rate Limit"; support-dev.discord.com "My Bot is Being Rate Limited": "50 requests
  per second across most endpoints"). Every request an answer makes spends :data:`REQUEST`
  in :data:`GLOBAL`, budgeted at :data:`GLOBAL_BUDGETED` (45): the rest is left for the
  requests discord.py and the adapter make outside the answers.
- **Messages in a channel**: creating and editing messages is commonly observed at 5 per
  5 seconds per channel (``X-RateLimit-Limit: 5`` on ``POST /channels/{id}/messages``, e.g.
  alexemanuelol/rustplusplus issue 475, ``Limit: 5`` on ``/channels/:id/messages``, resets
  of about 5 s; Discord's 2016 launch note, discord/discord-api-docs issue 20, gave "5/5"
  for message creation and editing, then per server). Not published as a number today: we
  budget create and edit separately at 5 per 5 s per channel (a thread is a channel).
- **Typing and thread starts in a channel**: ``POST /channels/{id}/typing`` and ``POST
  /channels/{id}/messages/{id}/threads`` have buckets of their own, per channel; no number is
  published and the sizes seen are the same 5 per 5 s (issue 23's load test). We budget
  :data:`TYPING` and :data:`THREAD_START` at 4 per 5 s: discord.py sleeps out the bucket's
  reset inside the call that spends its last request ("Check whether the rate limit needs
  to be pre-emptively slept on", discord/http.py ``Ratelimit.__aexit__``), which held a
  thread's first text back 4 s in the bench. So a busy channel's mentions neither wait for
  a thread nor meet a 429: where the channel's thread starts are spent, the answer replies
  to the question at once (:mod:`bots.discord.bot`).
- **Reactions in a channel**: ``PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me``
  answers ``X-RateLimit-Limit: 1`` with a reset of 1 s, though Discord admits about one in
  250 ms (discord/discord-api-docs issue 182: "It's better to just rate limit it to 1/1 like
  the rate limit advertises"). We budget :data:`REACTION` at the advertised 1 a second per
  channel: the 👀 on a question is the sign of work where the channel's typing is spent
  (each reaction spends its bucket, so discord.py sleeps a second after it: the responder
  adds it in the background).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from core.budget import Rate

__all__ = [
    "DISCORD_RATES",
    "GLOBAL",
    "GLOBAL_BUDGETED",
    "MESSAGE_CREATE",
    "MESSAGE_EDIT",
    "REACTION",
    "REQUEST",
    "THREAD_START",
    "TYPING",
    "discord_keys",
    "discord_scope",
]

#: Discord's global limit is 50 requests a second; the answers spend this many of them.
GLOBAL_BUDGETED: Final = 45

#: The scope of the global limit, and the method every request spends there.
GLOBAL: Final = "global"
REQUEST: Final = "request"
#: ``POST /channels/{channel.id}/messages`` and ``PATCH /channels/{channel.id}/messages/{id}``.
MESSAGE_CREATE: Final = "messages.create"
MESSAGE_EDIT: Final = "messages.edit"
#: ``POST /channels/{channel.id}/typing``.
TYPING: Final = "channels.typing"
#: ``POST /channels/{channel.id}/messages/{message.id}/threads``.
THREAD_START: Final = "threads.start"
#: ``PUT /channels/{channel.id}/messages/{message.id}/reactions/{emoji}/@me``.
REACTION: Final = "reactions.add"

DISCORD_RATES: Final[Mapping[str, Rate]] = MappingProxyType(
    {
        # 50 requests a second per bot: docs.discord.com/developers/topics/rate-limits. The
        # answers budget 45 of them: discord.py and the rest of the adapter make requests
        # the answers do not spend (a bench run of 20 answers met one global 429 at 50).
        REQUEST: Rate(GLOBAL_BUDGETED, 1.0),
        # 5 per 5 s per channel, as commonly observed in X-RateLimit-Limit (module docstring).
        MESSAGE_CREATE: Rate(5, 5.0),
        MESSAGE_EDIT: Rate(5, 5.0),
        # 4 of the 5 per 5 s: never the bucket's last (module docstring).
        TYPING: Rate(4, 5.0),
        THREAD_START: Rate(4, 5.0),
        REACTION: Rate(1, 1.0),
    }
)


def discord_scope(method: str, guild: str, channel: str) -> str:
    """Where Discord counts ``method``: :data:`GLOBAL`, or ``"<guild>/<channel>"``.

    ``guild`` is the ``ThreadKey.workspace`` (a guild id, or the DM workspace), so the
    scope's workspace part is the guild; ``channel`` is the channel or thread id.
    """
    if method == REQUEST:
        return GLOBAL
    return f"{guild}/{channel}"


def discord_keys(method: str, guild: str, channel: str) -> tuple[tuple[str, str], ...]:
    """Every (scope, method) one call of ``method`` spends: the global one, then its route's."""
    if method == REQUEST:
        return ((GLOBAL, REQUEST),)
    return ((GLOBAL, REQUEST), (discord_scope(method, guild, channel), method))
