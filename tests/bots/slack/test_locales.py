"""The bot's words in the person's Slack language, against the fake Slack.

docs.slack.dev/reference/methods/users.info: ``include_locale``, "Set this to true to receive
the locale for this user" (``user.locale``, an IETF tag such as ``es-ES``; absent without
it); bot scope ``users:read``. The adapter asks with it in the one ``users.info`` call it
makes anyway (admin checks), cached for a minute; the fake answers ``user.locale`` only when
asked with ``include_locale``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots.slack import messages as sentences
from bots.slack import render
from bots.slack.access import SlackAdmins
from bots.slack.render import (
    BUTTON_TEXT_LIMIT,
    CONFIRM_BUTTON_LIMIT,
    CONFIRM_TITLE_LIMIT,
    HEADER_TEXT_LIMIT,
    MODAL_TITLE_LIMIT,
    SECTION_TEXT_LIMIT,
    HomeConversation,
)
from core import messages
from core.i18n import LOCALES, localize
from core.simulator import Simulator, SimulatorConfig
from tests.bots.slack.fake_slack import (
    BOT_TOKEN,
    BOT_USER_ID,
    FakeSlack,
    user_object,
    validate_blocks,
)
from tests.bots.slack.support import ALICE, BOB, CHANNEL, event, slack_process
from tests.bots.slack.test_access import MENTION_TS, run
from tests.bots.slack.test_agent_view import home_text, open_home
from tests.bots.slack.test_gloo_contract import mention


def test_the_fake_tells_the_locale_only_when_asked(fake_slack: FakeSlack) -> None:
    fake_slack.user_locales[ALICE] = "es-ES"
    team = fake_slack.teams[BOT_TOKEN]
    plain = fake_slack._m_users_info({"user": ALICE}, team)
    asked = fake_slack._m_users_info({"user": ALICE, "include_locale": "1"}, team)
    assert "locale" not in plain["user"]
    assert asked["user"]["locale"] == "es-ES"
    default = fake_slack._m_users_info({"user": BOB, "include_locale": "true"}, team)
    assert default["user"]["locale"] == "en-US"


async def test_a_spanish_speaker_sees_a_failure_in_spanish(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.user_locales[ALICE] = "es-ES"
    sim = Simulator(SimulatorConfig(seed=7))
    sim.inject("blocked")  # Gloo's guardrail declines: one sentence, not retried
    async with slack_process(sqlite_url, fake_slack, sim, inbox_max_attempts=3) as slack:
        notice = await mention(slack)
    (info, *_) = fake_slack.calls_to("users.info")
    assert str(info.args.get("include_locale")).lower() in ("1", "true")
    assert localize(messages.DECLINED, "es-ES") in notice.markdown.replace("\n", " ")
    assert notice.markdown.startswith("Gloo prefirió no responder")
    assert [q.query for q in sim.asked] == ["What is grace?"]  # Gloo: the question as asked


async def test_a_normal_answer_says_the_bots_words_in_spanish(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.user_locales[ALICE] = "es-ES"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
    contexts = [
        e["text"] for b in answer.blocks if b.get("type") == "context" for e in b["elements"]
    ]
    assert "*Fuentes*" in contexts
    suggested = bool(answer.buttons(render.SUGGEST_ACTION))  # none on Completions V2
    assert ("*Preguntas sugeridas*" in contexts) is suggested
    [feedback] = answer.feedback_buttons()
    assert feedback["positive_button"]["accessibility_label"] == "Esta respuesta fue útil"
    assert feedback["negative_button"]["accessibility_label"] == "Esta respuesta no fue útil"
    cards = [
        u.get("title") for m in fake_slack.in_thread(CHANNEL, MENTION_TS) for u in m.task_updates
    ]
    assert all(title is None or ("Gloo" in title and "source" not in title) for title in cards)
    english = {"Sources", "Ask next", "Was this helpful", "Thinking"}
    assert not any(word in answer.markdown for word in english)


async def test_a_normal_answer_keeps_gloos_words_and_asks_users_info_once(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.user_locales[ALICE] = "pt-BR"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
        second = event(
            "app_mention", ts="1700000900.000100", user=ALICE, text=f"<@{BOT_USER_ID}> And hope?"
        )
        assert (await slack.event(second)).status == 200
        await slack.settle()
    assert answer.markdown.strip()
    assert len(fake_slack.calls_to("users.info")) == 1  # cached for a minute


async def test_a_refused_person_is_told_in_their_language(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    fake_slack.user_locales[BOB] = "pt-BR"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        await run(slack, f"access block <@{BOB}|bob>")
        refused = event(
            "app_mention", ts=MENTION_TS, user=BOB, text=f"<@{BOT_USER_ID}> O que é graça?"
        )
        assert (await slack.event(refused)).status == 200
        await slack.settle()
    (note,) = fake_slack.ephemerals
    assert (note["channel"], note["user"]) == (CHANNEL, BOB)
    assert localize(messages.ACCESS_USER_REFUSED, "pt-BR") in note["text"]
    assert note["text"].startswith("Desculpe, não posso responder a você aqui")
    assert sim.asked == []


async def test_the_home_tab_in_spanish(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.users[ALICE] = user_object(ALICE, is_admin=True)
    fake_slack.user_locales[ALICE] = "es-LA"  # Slack's Latin American Spanish
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        empty = home_text(await open_home(slack))
        await mention(slack)
        view = await open_home(slack)
    assert "Tus conversaciones con Gloo" in empty
    assert "Todavía no tienes conversaciones." in empty
    text = home_text(view)
    assert "1 pregunta" in text
    assert "a las {time}" in text  # Slack's own date tokens, our words around them
    assert "Configuración del espacio de trabajo" in text
    assert "Todo el espacio de trabajo (valores predeterminados)" in text
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["text"]["text"] for b in buttons} == {"Historial", "Empezar de nuevo"}
    confirm = next(b["confirm"] for b in buttons if "confirm" in b)
    assert confirm["title"]["text"] == "¿Empezar de nuevo esta conversación?"
    assert confirm["deny"]["text"] == "Mantenerla"
    assert validate_blocks(view["blocks"], max_blocks=100) is None


def _home(locale: str, conversations: int = 3) -> dict[str, Any]:
    items = [
        HomeConversation(
            channel=CHANNEL,
            thread=f"1700000{n:03d}.000100",
            first_question="¿Qué es la gracia? " * 30,
            started_at=1_700_000_000.0 + n,
            questions=n + 1,
            permalink=f"https://example.slack.com/archives/{CHANNEL}/p{n}",
        )
        for n in range(conversations)
    ]
    admin = [(sentences.HOME_ADMIN_WORKSPACE, [("Sources", "on")])] * 40
    return render.home_view(items, admin, sentences.HOME_RESET_DONE, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_home_label_fits_slacks_limits_without_being_cut(locale: str) -> None:
    # Spanish and Portuguese are longer than English: every label must fit whole.
    limits = [
        (sentences.HOME_HISTORY_BUTTON, BUTTON_TEXT_LIMIT),
        (sentences.HOME_RESET_BUTTON, BUTTON_TEXT_LIMIT),
        (sentences.HOME_RESET_BUTTON, CONFIRM_BUTTON_LIMIT),
        (sentences.HOME_RESET_CANCEL, CONFIRM_BUTTON_LIMIT),
        (sentences.HOME_RESET_CONFIRM_TITLE, CONFIRM_TITLE_LIMIT),
        (sentences.HOME_TITLE, HEADER_TEXT_LIMIT),
        (sentences.HOME_ADMIN_TITLE, HEADER_TEXT_LIMIT),
        (sentences.HISTORY_MODAL_TITLE, MODAL_TITLE_LIMIT),
        (sentences.HISTORY_MODAL_CLOSE, MODAL_TITLE_LIMIT),
    ]
    for label, limit in limits:
        said = localize(label, locale)
        assert said != str(label)
        assert len(said) <= limit, (said, limit)
    view = _home(locale, conversations=40)  # more than 100 blocks: the rest is left out
    assert validate_blocks(view["blocks"], max_blocks=100) is None
    assert len(view["blocks"]) <= 100
    assert ("Se omitió" if locale == "es" else "Omitido") in str(view["blocks"][-1])
    modal = render.notice_modal(sentences.HISTORY_LOADING, locale)
    assert modal["title"]["text"] == localize(sentences.HISTORY_MODAL_TITLE, locale)


async def test_a_command_reply_is_in_the_persons_language(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator
) -> None:
    fake_slack.user_locales[ALICE] = "pt-BR"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        reset = await run(slack, "reset")
        asked = await run(slack, "ask")
    assert localize(sentences.RESET_CHANNEL, "pt-BR") in reset
    assert reset.startswith("Pronto. Nos canais cada fio é uma conversa própria")
    assert asked.startswith("Pergunte algo, por exemplo")


def test_an_edit_offer_is_in_the_askers_language() -> None:
    offer = render.edit_offer("¿Qué es la gracia?", "r1", locale="es-419")
    assert offer.text == "Editaste tu pregunta. ¿Preguntar esto en su lugar?"
    assert offer.blocks[0]["text"]["text"] == offer.text
    assert render.edit_offer("x", "r1").text == messages.EDIT_OFFER


async def test_a_broken_language_lookup_never_loses_the_question(
    sqlite_url: str, fake_slack: FakeSlack, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault outside Slack's own error answers (a dropped connection, a bug): the question
    # is asked all the same, and the bot's words are in English.
    async def broken(self: SlackAdmins, workspace: str, user_id: str) -> str:
        raise ConnectionResetError("users.info: connection reset")

    monkeypatch.setattr(SlackAdmins, "locale", broken)
    fake_slack.user_locales[ALICE] = "es-ES"
    async with slack_process(sqlite_url, fake_slack, sim) as slack:
        answer = await mention(slack)
    assert [q.query for q in sim.asked] == ["What is grace?"]
    assert "Fuentes" not in answer.markdown
    assert answer.markdown.strip()


@pytest.mark.parametrize("locale", LOCALES)
def test_the_asked_line_is_in_the_askers_language_within_slacks_section_limit(
    locale: str,
) -> None:
    # docs.slack.dev/reference/block-kit/blocks/section-block: text at most 3,000 characters.
    message = render.asked_message("U1", "why " * 1000, locale)
    (section,) = message.blocks
    text = section["text"]["text"]
    assert len(text) <= SECTION_TEXT_LIMIT
    expected = {"es": "<@U1> preguntó: *why", "pt_BR": "<@U1> perguntou: *why"}[locale]
    assert text.startswith(expected)
    assert text.endswith("…*")  # the question cut to fit, the line whole
