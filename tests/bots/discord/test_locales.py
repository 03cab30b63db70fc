"""The bot's words in the person's language on Discord, against the fake Discord.

Where the language comes from (discord-api-docs):
* interactions/receiving-and-responding, "Interaction Object": ``locale``, "Selected
  language of the invoking user" (every interaction but PING), ``guild_locale``, "Guild's
  preferred locale, if invoked in a guild". The payloads are the recorded ones of
  ``payloads/`` (interaction_command_guild.json, interaction_message_command_guild.json)
  with ``locale`` set as a Spanish- or Portuguese-speaking person's client sends it.
* resources/guild, "Guild Object": ``preferred_locale`` ("en-US" unless the server set it):
  a message carries no locale, so a mention is answered in its server's language; a DM
  outside any server in English.
* interactions/application-commands, "Localization": ``name_localizations`` and
  ``description_localizations``, keyed by locale (``es-ES``, ``es-419``, ``pt-BR``), each
  within the limits of the field (a context-menu name 1-32 characters, a description 1-100).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bots.discord import messages as texts
from bots.discord.adapter import DiscordAdapter
from bots.discord.context_menu import ASK_GLOO, NAME_LIMIT
from bots.discord.locales import interaction_locale
from bots.discord.render import (
    EMBED_TITLE_LIMIT,
    MESSAGE_LIMIT,
    MORE_SOURCES_TITLE,
    SOURCES_TITLE,
    asked_line,
    render_answer,
    render_history,
    with_notice,
)
from core import messages
from core.i18n import LOCALES, localize
from core.simulator import Simulator, SimulatorConfig
from core.types import ChatHistory, HistoryMessage, Source
from tests.bots.discord.conftest import CHANNEL_ID, DM_CHANNEL_ID, GUILD_ID, USER, running
from tests.bots.discord.fake_discord import FakeDiscord, payload
from tests.bots.discord.test_access import access
from tests.bots.discord.test_commands import adapter_args, command, discord_settings
from tests.bots.discord.test_render import discord_accepts, reply

EPHEMERAL = 64
DESCRIPTION_LIMIT = 100


def _locale_hook(fake: FakeDiscord, locale: str) -> None:
    """Every interaction the fake sends from now on carries ``locale`` as its person's."""
    original = fake.interaction

    async def interaction(data: dict[str, Any]) -> dict[str, Any]:
        data["locale"] = locale
        return await original(data)

    fake.interaction = interaction  # type: ignore[method-assign]


def test_the_persons_locale_wins_over_the_servers() -> None:
    # The recorded payload's two fields, as discord.py reads them (discord.Locale values).
    data = payload(
        "interaction_command_guild",
        interaction_id="1",
        application_id="2",
        token="t",
        guild_id=str(GUILD_ID),
        channel_id=str(CHANNEL_ID),
        channel_type=0,
        user_id=USER["id"],
        user_name=USER["username"],
        command="ask",
        command_id="3",
    )
    data["locale"], data["guild_locale"] = "es-ES", "en-US"
    person = SimpleNamespace(
        locale=discord.Locale(data["locale"]), guild_locale=discord.Locale(data["guild_locale"])
    )
    assert interaction_locale(person) == "es-ES"  # type: ignore[arg-type]
    server_only = SimpleNamespace(locale=None, guild_locale=discord.Locale("pt-BR"))
    assert interaction_locale(server_only) == "pt-BR"  # type: ignore[arg-type]
    assert interaction_locale(SimpleNamespace(locale=None, guild_locale=None)) == ""  # type: ignore[arg-type]


async def test_ask_in_spanish_says_the_bots_words_in_spanish(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    _locale_hook(fake, "es-ES")
    async with running(fake, sim, sqlite_url) as bot:
        # A person whose Discord is in Spanish, in an English server (guild_locale en-US).
        ask = await command(bot, "ask", question="¿Qué es la gracia?")
        [asked] = await bot.followups(ask)
        thread_id = int(asked["id"])

        async def thread_started() -> bool:
            return thread_id in fake.channels

        await fake.wait_for(thread_started)
        [answer] = await bot.answered(thread_id)
    assert fake.messages[thread_id]["content"] == (
        f"**{USER['username']}** preguntó: *¿Qué es la gracia?*"
    )
    titles = {embed.get("title") for embed in answer.get("embeds", [])}
    assert titles <= {"Fuentes", "Más fuentes", None}
    # Gloo gets the question as it was asked (and answers in its language).
    assert [r.query for r in sim.asked] == ["¿Qué es la gracia?"]


async def test_a_refused_person_is_refused_in_their_language(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    async with running(fake, sim, sqlite_url) as bot:
        await access(bot, "block", user=USER)
        _locale_hook(fake, "pt-BR")
        asked = await command(bot, "ask", question="O que é graça?")
        callback = await bot.callback_for(asked)
    assert callback["type"] == 4
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"] == localize(messages.ACCESS_USER_REFUSED, "pt-BR")
    assert callback["data"]["content"].startswith("Desculpe, não posso responder a você aqui")
    assert sim.asked == []


async def test_an_empty_mention_in_a_spanish_server_is_told_in_spanish(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    fake.guilds[GUILD_ID]["preferred_locale"] = "es-419"
    async with running(fake, sim, sqlite_url) as bot:
        sent = await bot.say("", mention_bot=True)

        async def told() -> bool:
            return bool(bot.bot_messages(CHANNEL_ID))

        await fake.wait_for(told)
        [reply] = bot.bot_messages(CHANNEL_ID)
    assert reply["content"] == localize(messages.EMPTY_QUESTION, "es")
    assert reply["message_reference"]["message_id"] == sent["id"]


async def test_a_failure_in_a_spanish_server_is_said_in_spanish(
    fake: FakeDiscord, sqlite_url: str
) -> None:
    fake.guilds[GUILD_ID]["preferred_locale"] = "es-ES"
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12))
    sim.inject("blocked")  # Gloo's guardrail declines: not retried, one sentence
    async with running(fake, sim, sqlite_url) as bot:
        sent = await bot.say("What is grace?", mention_bot=True)
        thread_id = int(sent["id"])  # the thread started from the message

        async def told() -> bool:
            return bool(bot.bot_messages(thread_id))

        await fake.wait_for(told)
        await bot.runtime.dispatcher.drain()
        [notice] = bot.bot_messages(thread_id)
    assert notice["content"].replace("\n", " ") == localize(messages.DECLINED, "es-ES")
    assert notice["content"].startswith("Gloo prefirió no responder esa pregunta.")


async def test_a_dm_is_answered_in_english(fake: FakeDiscord, sqlite_url: str) -> None:
    sim = Simulator(SimulatorConfig(seed=7, words_per_chunk=12))
    sim.inject("blocked")
    fake.guilds[GUILD_ID]["preferred_locale"] = "es-ES"  # not the DM's: a DM has no server
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("What is grace?")

        async def told() -> bool:
            return bool(bot.bot_messages(DM_CHANNEL_ID))

        await fake.wait_for(told)
        await bot.runtime.dispatcher.drain()
        [notice] = bot.bot_messages(DM_CHANNEL_ID)
    assert messages.DECLINED in notice["content"].replace("\n", " ")


async def test_the_message_command_without_text_is_refused_in_spanish(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str
) -> None:
    from tests.bots.discord.test_context_menu import ask_gloo

    _locale_hook(fake, "es-ES")
    async with running(fake, sim, sqlite_url) as bot:
        asked = await ask_gloo(bot, content=" \u200b ")
        callback = await bot.callback_for(asked)
    assert callback["data"]["content"] == localize(texts.SHORTCUT_NO_TEXT, "es-ES")
    assert callback["data"]["content"].startswith("Ese mensaje no tiene texto")


async def test_sync_publishes_the_commands_in_every_shipped_language_within_limits(
    fake: FakeDiscord,
) -> None:
    code = await DiscordAdapter().command(adapter_args("sync"), discord_settings(fake))
    assert code == 0
    [put] = fake.calls_to("PUT", rf"/applications/{fake.application_id}/commands")
    [menu] = [c for c in put.body if c["name"] == ASK_GLOO]
    names = menu["name_localizations"]
    assert names["es-ES"] == names["es-419"] == "Preguntar a Gloo"
    assert names["pt-BR"] == "Perguntar ao Gloo"
    assert "fr" not in names  # no catalog: Discord shows the default (English)
    assert all(1 <= len(name) <= NAME_LIMIT for name in names.values())
    for slash in (c for c in put.body if c["type"] == 1 and c["name"] != "access"):
        described = slash["description_localizations"]
        assert {"es-ES", "es-419", "pt-BR"} <= described.keys(), slash["name"]
        assert all(1 <= len(d) <= DESCRIPTION_LIMIT for d in described.values()), described


@pytest.mark.parametrize("locale", LOCALES)
def test_the_longest_asked_line_still_fits_one_message(locale: str) -> None:
    # Spanish and Portuguese say "asked" in more letters: the question is cut to fit.
    line = asked_line("n" * 200, "palabra " * 1000, locale)
    assert len(line) <= MESSAGE_LIMIT
    exact = asked_line("ana", "x" * (MESSAGE_LIMIT - len(asked_line("ana", "", locale))), locale)
    assert len(exact) == MESSAGE_LIMIT  # at the boundary: nothing cut
    assert exact.endswith("x*")


@pytest.mark.parametrize("locale", LOCALES)
def test_embed_titles_and_history_fit_in_every_language(locale: str) -> None:
    for title in (SOURCES_TITLE, MORE_SOURCES_TITLE):
        assert 1 <= len(localize(title, locale)) <= EMBED_TITLE_LIMIT
    many = ChatHistory(
        chat_id="c",
        messages=tuple(
            HistoryMessage("user", "pregunta " * 40, user_id=USER["id"]) for _ in range(60)
        ),
    )
    shown = render_history(many, viewer=USER["id"], locale=locale)
    assert len(shown) <= MESSAGE_LIMIT
    assert ("no se muestran" if locale == "es" else "não exibidas") in shown


@pytest.mark.parametrize("locale", LOCALES)
def test_every_failure_sentence_fits_under_a_full_message_or_alone(locale: str) -> None:
    for sentence in (messages.gave_up(3, messages.STORE_UNAVAILABLE), messages.USAGE_LIMIT):
        said = localize(sentence, locale)
        assert len(said) <= MESSAGE_LIMIT
        shown = "x" * (MESSAGE_LIMIT - len(said) - len("\n\n**"))
        assert with_notice(shown, said) is not None  # at the boundary: it fits
        assert with_notice(shown + "x", said) is None  # one more: sent on its own


@pytest.mark.parametrize(
    ("locale", "more", "only", "empty"),
    [
        ("es-ES", "Más fuentes", "Fuentes", "Gloo envió una respuesta vacía."),
        ("pt-BR", "Mais fontes", "Fontes", "O Gloo enviou uma resposta vazia."),
    ],
)
def test_an_answer_is_laid_out_with_the_bots_words_in_the_askers_language(
    locale: str, more: str, only: str, empty: str
) -> None:
    many = reply(sources=8, suggestions=3)
    rendered = render_answer(many, locale)
    assert rendered.embed_title == more
    assert rendered.pieces == (many.text,)  # Gloo's answer: never translated
    discord_accepts(rendered)  # every Discord limit, in this language too
    odd = render_answer(reply(source_list=(Source("Odd one", None),)), locale)
    assert odd.embed_title == only
    assert render_answer(reply(""), locale).pieces[0].startswith(empty)
