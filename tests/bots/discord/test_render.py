"""The Discord renderer, at each of Discord's limits."""

from __future__ import annotations

import pytest

from bots.discord.buttons import build_embed, build_view
from bots.discord.render import (
    CUSTOM_ID_LIMIT,
    DEFAULT_THREAD_NAME,
    EMBED_DESCRIPTION_LIMIT,
    EMPTY_ANSWER,
    LABEL_LIMIT,
    MESSAGE_LIMIT,
    THREAD_NAME_LIMIT,
    ActionButton,
    LinkButton,
    RenderedAnswer,
    asked_line,
    label,
    numbered_sources,
    render_answer,
    render_history,
    split_message,
    suggestion_custom_id,
    thread_name,
    with_notice,
)
from core.presentation import layout
from core.types import ChatHistory, HistoryMessage, Reply, Source
from tests.bots.discord.fake_discord import InvalidForm, validate_message


def reply(
    text: str = "Grace is a gift.",
    *,
    sources: int = 0,
    suggestions: int = 3,
    answer_id: str = "abcdefghijkl",
    source_list: tuple[Source, ...] | None = None,
) -> Reply:
    return Reply(
        text=text,
        sources=source_list
        if source_list is not None
        else tuple(Source(f"Article {n}", f"https://example.test/{n}") for n in range(sources)),
        suggestions=tuple(f"Suggestion number {n}?" for n in range(suggestions)),
        answer_id=answer_id,
        chat_id="chat-1",
    )


def links(rendered: RenderedAnswer) -> list[LinkButton]:
    return [b for row in rendered.rows for b in row if isinstance(b, LinkButton)]


def actions(rendered: RenderedAnswer, kind: str) -> list[ActionButton]:
    return [
        b for row in rendered.rows for b in row if isinstance(b, ActionButton) and b.kind == kind
    ]


def discord_accepts(rendered: RenderedAnswer) -> None:
    """The rendered message passes the fake Discord's form validation (Discord's limits)."""
    view = build_view(rendered)
    embed = build_embed(rendered)
    for piece in rendered.pieces:
        validate_message({"content": piece})
    validate_message(
        {
            "content": rendered.pieces[-1],
            "components": view.to_components() if view else [],
            "embeds": [embed.to_dict()] if embed else [],
        }
    )


# --- message length --------------------------------------------------------------------------


def test_exactly_2000_characters_is_one_message() -> None:
    text = "a" * MESSAGE_LIMIT
    assert split_message(text) == [text]


def test_2001_characters_continue_in_a_second_message() -> None:
    text = "Grace is a gift. " * 117 + "The end now."  # 2,001 characters of sentences
    assert len(text) == MESSAGE_LIMIT + 1
    assert len(text) > MESSAGE_LIMIT
    pieces = split_message(text)
    assert len(pieces) == 2
    assert all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert pieces[0].endswith(".")  # cut at a sentence
    assert " ".join(pieces).split() == text.split()  # nothing lost


def test_a_long_answer_is_cut_at_paragraphs_and_every_piece_fits() -> None:
    paragraph = "Hope grows slowly. " * 30
    text = "\n\n".join([paragraph.strip()] * 10)
    rendered = render_answer(reply(text))
    assert len(rendered.pieces) > 2
    assert all(len(p) <= MESSAGE_LIMIT for p in rendered.pieces)
    assert all(p.endswith("Hope grows slowly.") for p in rendered.pieces)
    discord_accepts(rendered)


def test_an_empty_answer_still_says_something() -> None:
    assert render_answer(reply("   ")).pieces == (EMPTY_ANSWER,)


# --- labels, custom ids, rows ------------------------------------------------------------------


def test_labels_keep_80_characters_and_ellipsize_81() -> None:
    assert label("x" * LABEL_LIMIT) == "x" * LABEL_LIMIT
    cut = label("word " * 17)  # 85 characters
    assert len(cut) <= LABEL_LIMIT
    assert cut.endswith("…")


def test_a_long_suggestion_and_a_long_source_title_become_80_character_labels() -> None:
    long = "Why " + "is grace so hard to accept " * 10
    rendered = render_answer(
        Reply(
            text="Answer.",
            sources=(Source(long, "https://example.test/long"),),
            suggestions=(long,),
            answer_id="abcdefghijkl",
            chat_id="c",
        )
    )
    [link] = links(rendered)
    [suggestion] = actions(rendered, "suggestion")
    assert len(link.label) <= LABEL_LIMIT
    assert link.label.endswith("…")
    assert len(suggestion.label or "") <= LABEL_LIMIT
    assert (suggestion.label or "").endswith("…")
    discord_accepts(rendered)


def test_custom_ids_fit_at_100_characters_and_are_dropped_at_101() -> None:
    prefix = len("gloo:s:") + len(":0")
    fits = "a" * (CUSTOM_ID_LIMIT - prefix)
    custom_id = suggestion_custom_id(fits, 0)
    assert custom_id is not None
    assert len(custom_id) == CUSTOM_ID_LIMIT
    assert suggestion_custom_id(fits + "a", 0) is None
    rendered = render_answer(reply(answer_id=fits + "a"))
    assert actions(rendered, "suggestion") == []  # never a button Discord would refuse
    discord_accepts(render_answer(reply(answer_id=fits[:-3])))


def test_suggestion_and_feedback_ids_carry_only_the_answer_id_and_an_index() -> None:
    rendered = render_answer(reply(suggestions=3))
    assert [b.custom_id for b in actions(rendered, "suggestion")] == [
        "gloo:s:abcdefghijkl:0",
        "gloo:s:abcdefghijkl:1",
        "gloo:s:abcdefghijkl:2",
    ]
    assert [b.custom_id for b in actions(rendered, "feedback")] == [
        "gloo:f:abcdefghijkl:up",
        "gloo:f:abcdefghijkl:down",
    ]


def test_five_sources_fit_as_one_row_of_link_buttons() -> None:
    rendered = render_answer(reply(sources=5, suggestions=3))
    assert len(links(rendered)) == 5
    assert rendered.embed_description is None
    assert all(len(row) <= 5 for row in rendered.rows)
    assert len(rendered.rows) == 5  # sources, three suggestions, feedback
    discord_accepts(rendered)


def test_sources_that_do_not_fit_go_to_a_numbered_list() -> None:
    rendered = render_answer(reply(sources=8, suggestions=3))
    assert len(links(rendered)) == 5
    assert rendered.embed_title == "More sources"
    lines = (rendered.embed_description or "").splitlines()
    assert [line.split(".")[0] for line in lines] == ["6", "7", "8"]
    assert "(https://example.test/5)" in lines[0]
    discord_accepts(rendered)


def test_with_no_suggestions_sources_use_up_to_four_rows() -> None:
    rendered = render_answer(reply(sources=30, suggestions=0))
    assert len(links(rendered)) == 20
    assert len(rendered.rows) == 5
    assert sum(len(row) for row in rendered.rows) == 22  # 25 at most
    assert (rendered.embed_description or "").startswith("21. ")
    discord_accepts(rendered)


def test_many_suggestions_are_packed_within_five_rows_and_25_components() -> None:
    rendered = render_answer(reply(sources=3, suggestions=40))
    assert len(rendered.rows) <= 5
    assert sum(len(row) for row in rendered.rows) <= 25
    assert all(len(row) <= 5 for row in rendered.rows)
    discord_accepts(rendered)


def test_duplicate_sources_are_shown_once() -> None:
    same = Source("Grace", "https://example.test/grace")
    rendered = render_answer(reply(source_list=(same, same, Source("Grace again", same.url))))
    assert len(links(rendered)) == 1


@pytest.mark.parametrize(
    "url",
    [None, "javascript:alert(1)", "ftp://example.test/x", "https://example.test/" + "x" * 600],
)
def test_sources_that_cannot_be_link_buttons_are_listed(url: str | None) -> None:
    rendered = render_answer(reply(source_list=(Source("Odd one", url),)))
    assert links(rendered) == []
    assert rendered.embed_title == "Sources"
    assert (rendered.embed_description or "").startswith("1. ")
    discord_accepts(rendered)


def test_the_numbered_list_stays_within_4096_characters() -> None:
    sources = tuple(Source("T" * 300, f"https://example.test/{n}") for n in range(1, 200))
    shown = layout(reply(source_list=sources), LABEL_LIMIT).sources
    entries = list(enumerate(shown, start=1))
    text = numbered_sources(entries)
    assert len(text) <= EMBED_DESCRIPTION_LIMIT
    assert text.splitlines()[-1].startswith("…and ")
    assert text.splitlines()[-1].endswith(" more")


# --- thread names and other texts -----------------------------------------------------------------


def test_thread_names_keep_100_characters_and_ellipsize_longer() -> None:
    assert thread_name("q" * THREAD_NAME_LIMIT) == "q" * THREAD_NAME_LIMIT
    long = thread_name("why " * 26)  # 104 characters
    assert len(long) <= THREAD_NAME_LIMIT
    assert long.endswith("…")


def test_thread_names_drop_mentions_and_are_never_empty() -> None:
    assert thread_name("<@123> <@&456> @everyone") == DEFAULT_THREAD_NAME
    assert thread_name("<@123> What is grace?") == "What is grace?"


def test_the_asked_line_fits_one_message_and_escapes_markdown() -> None:
    assert asked_line("ann_b", "What is *grace*?") == r"**ann\_b** asked: *What is \*grace\*?*"
    # A display name or question with bidi controls is shown without them.
    assert asked_line("\u202eann", "Why\u2066?\u2069") == "**ann** asked: *Why?*"
    assert len(asked_line("x" * 200, "y " * 3000)) <= MESSAGE_LIMIT


def test_history_fits_one_message() -> None:
    history = ChatHistory(
        chat_id="c",
        title="Grace",
        messages=tuple(
            HistoryMessage(role="user" if n % 2 == 0 else "assistant", text="words " * 200)
            for n in range(40)
        ),
    )
    text = render_history(history)
    assert len(text) <= MESSAGE_LIMIT
    assert "earlier messages not shown" in text
    assert text.startswith("**Grace**")
    assert "no conversation" in render_history(None)


def test_a_notice_is_added_only_when_it_fits() -> None:
    assert with_notice("partial answer", "Gloo stopped.") == "partial answer\n\n*Gloo stopped.*"
    assert with_notice("x" * 1990, "Gloo stopped.") is None


def test_the_fake_discord_refuses_what_discord_refuses() -> None:
    with pytest.raises(InvalidForm):
        validate_message({"content": "x" * 2001})
    with pytest.raises(InvalidForm):
        validate_message(
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 2, "label": "x" * 81, "custom_id": "a"}
                        ],
                    }
                ]
            }
        )
