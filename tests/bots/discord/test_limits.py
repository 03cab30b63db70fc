"""bots.discord.limits: the global and per-channel message budgets and their scopes."""

from __future__ import annotations

from bots.discord.limits import (
    DISCORD_RATES,
    GLOBAL,
    MESSAGE_CREATE,
    MESSAGE_EDIT,
    REACTION,
    REQUEST,
    THREAD_START,
    TYPING,
    discord_keys,
    discord_scope,
)
from core.budget import Budget, Rate


def test_the_rates() -> None:
    # docs.discord.com/developers/topics/rate-limits: 50 requests a second per bot, of
    # which the answers spend 45 (the rest is for requests they do not make).
    assert DISCORD_RATES[REQUEST] == Rate(45, 1.0)
    # Commonly observed X-RateLimit-Limit of the message routes: 5 per 5 s per channel.
    assert DISCORD_RATES[MESSAGE_CREATE] == Rate(5, 5.0)
    assert DISCORD_RATES[MESSAGE_EDIT] == Rate(5, 5.0)
    # Typing and thread starts: the same 5 per 5 s seen, budgeted at 4 so that discord.py
    # never spends a bucket's last (it then sleeps out the reset inside that call).
    assert DISCORD_RATES[TYPING] == DISCORD_RATES[THREAD_START] == Rate(4, 5.0)
    # Reactions: the advertised 1 a second (discord/discord-api-docs#182).
    assert DISCORD_RATES[REACTION] == Rate(1, 1.0)


def test_scopes() -> None:
    assert discord_scope(REQUEST, "111", "222") == GLOBAL
    assert discord_scope(MESSAGE_CREATE, "111", "222") == "111/222"
    assert discord_scope(MESSAGE_EDIT, "@dm", "333") == "@dm/333"
    assert discord_keys(REQUEST, "111", "222") == ((GLOBAL, REQUEST),)
    assert discord_keys(MESSAGE_EDIT, "111", "222") == (
        (GLOBAL, REQUEST),
        ("111/222", MESSAGE_EDIT),
    )


def test_a_budget_over_the_table() -> None:
    now = [0.0]
    b = Budget(DISCORD_RATES, clock=lambda: now[0], platform="discord")
    creates = [b.take(discord_scope(MESSAGE_CREATE, "1", "10"), MESSAGE_CREATE) for _ in range(6)]
    assert creates.count(True) == 5
    assert b.take(discord_scope(MESSAGE_CREATE, "1", "11"), MESSAGE_CREATE)  # another channel
    assert b.take(discord_scope(MESSAGE_EDIT, "1", "10"), MESSAGE_EDIT)  # edits apart
    requests = [b.take(GLOBAL, REQUEST) for _ in range(60)]
    assert requests.count(True) == 45
    now[0] = 1.0
    assert b.take(GLOBAL, REQUEST)
    assert not b.take(discord_scope(MESSAGE_CREATE, "1", "10"), MESSAGE_CREATE)
    now[0] = 5.0
    assert b.take(discord_scope(MESSAGE_CREATE, "1", "10"), MESSAGE_CREATE)
