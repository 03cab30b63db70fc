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
    "REQUEST",
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

DISCORD_RATES: Final[Mapping[str, Rate]] = MappingProxyType(
    {
        # 50 requests a second per bot: docs.discord.com/developers/topics/rate-limits. The
        # answers budget 45 of them: discord.py and the rest of the adapter make requests
        # the answers do not spend (a bench run of 20 answers met one global 429 at 50).
        REQUEST: Rate(GLOBAL_BUDGETED, 1.0),
        # 5 per 5 s per channel, as commonly observed in X-RateLimit-Limit (module docstring).
        MESSAGE_CREATE: Rate(5, 5.0),
        MESSAGE_EDIT: Rate(5, 5.0),
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
