"""The renderer's Home tab, History modal and native feedback buttons, at Slack's limits.

Limits: reference/views/home-tab-views and modal-views (100 blocks; modal title and close
24 characters), reference/block-kit/blocks/section-block (3,000 characters of text),
block-elements/button-element (75 characters of text, value 2,000),
block-elements/feedback-buttons-element (inside context_actions; text 75, value 2,000),
composition-objects/confirmation-dialog-object (title 100, text 300, buttons 30). The fake
Slack's validation (slack_sdk's View and Block models plus those limits) judges each result.
"""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import (
    Block,
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bots.slack import render
from core.types import ChatHistory, HistoryMessage, Reply
from tests.bots.slack.fake_slack import FakeSlack, validate_blocks


def check_view(view: dict[str, Any], kind: str) -> None:
    assert FakeSlack._view_error(view, kind) is None
    View(**view).validate_json()
    assert len(view["blocks"]) <= render.VIEW_MAX_BLOCKS
    assert validate_blocks(view["blocks"], render.VIEW_MAX_BLOCKS) is None


def conversation(i: int = 0, question: str = "What is grace?", **kw: Any) -> Any:
    values: dict[str, Any] = {
        "channel": "D0ALICEDM" if i % 2 else "C0GENERAL",
        "thread": f"17000{i:05d}.000100",
        "first_question": question,
        "started_at": 1_700_000_000 + i,
        "questions": 1 + i,
        "permalink": f"https://fake.slack.test/archives/C0GENERAL/p17000{i:05d}000100",
    }
    values.update(kw)
    return render.HomeConversation(**values)


def sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def test_the_home_view_lists_conversations_with_their_buttons() -> None:
    view = render.home_view([conversation(0), conversation(1, question="Hope?")])
    check_view(view, "home")
    shown = sections(view)
    assert shown[0].startswith("*<https://fake.slack.test/archives/C0GENERAL/p")
    assert "|What is grace?>*" in shown[0]
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [[e["action_id"] for e in a["elements"]] for a in actions] == [
        [render.HOME_HISTORY_ACTION, render.HOME_RESET_ACTION]
    ] * 2
    assert actions[1]["elements"][0]["value"] == "D0ALICEDM|1700000001.000100"
    assert render.parse_thread_ref(actions[1]["elements"][0]["value"]) == (
        "D0ALICEDM",
        "1700000001.000100",
    )


@pytest.mark.parametrize(
    "value", ["D0ALICEDM|١٧٠٠٠٠٠٠٠١.٠٠٠١٠٠", "D0ALICEDM|1700000001.00010²", "D0ALICEDM", "d0x|1.2"]
)
def test_a_tampered_home_button_value_is_no_thread(value: str) -> None:
    # Slack thread stamps are ASCII digits ("1700000001.000100"); a Unicode digit (which
    # str.isdigit and \d accept) names no conversation (issue 24, finding 8).
    assert render.parse_thread_ref(value) is None


@pytest.mark.parametrize("count", [31, 32, 40, 200])
def test_a_long_list_stays_within_100_blocks_and_says_how_much_is_left_out(count: int) -> None:
    admin = [(f"<#C{i:08d}>", [("Sources", "on")]) for i in range(30)]
    view = render.home_view([conversation(i) for i in range(count)], admin, note="Saved.")
    check_view(view, "home")
    assert len(view["blocks"]) <= 100
    listed = sum(1 for b in view["blocks"] if b["type"] == "actions")
    note = view["blocks"][-1]["elements"][0]["text"]
    assert f"{count - listed} older conversations" in note


def test_exactly_100_blocks_fit_without_a_note() -> None:
    # header, intro: 2 blocks; 3 per conversation; 33 conversations = 101 > 100, 32 = 98.
    view = render.home_view([conversation(i) for i in range(32)])
    assert len(view["blocks"]) == 98
    assert "Left out" not in str(view["blocks"])
    check_view(view, "home")
    # With the admin part: divider+header (2) + intro (1) = 101 → the settings are left out.
    admin_view = render.home_view(
        [conversation(i) for i in range(32)], [("Whole workspace", [("Sources", "on")])]
    )
    check_view(admin_view, "home")
    assert "Workspace settings" not in str(admin_view["blocks"])
    assert "settings of 1 more" in str(admin_view["blocks"][-1])


@pytest.mark.parametrize("length", [200, 201, 3000, 5000])
def test_long_or_hostile_questions_fit_and_ping_nobody(length: int) -> None:
    question = ("<!channel> a*b|c>d " * 400)[:length]
    view = render.home_view([conversation(0, question=question, permalink=None)])
    check_view(view, "home")
    (title,) = [s for s in sections(view) if s.startswith("*")][:1]
    assert len(title) <= render.SECTION_TEXT_LIMIT
    assert "<!channel>" not in title
    assert len(title) <= render.HOME_QUESTION_CHARS * 6  # escaped, ellipsized
    reset = next(
        e
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == render.HOME_RESET_ACTION
    )
    assert len(reset["confirm"]["title"]["text"]) <= render.CONFIRM_TITLE_LIMIT
    assert len(reset["confirm"]["text"]["text"]) <= render.CONFIRM_TEXT_LIMIT
    assert all(len(b["text"]["text"]) <= render.BUTTON_TEXT_LIMIT for b in [reset])


def test_a_bad_permalink_is_left_out() -> None:
    view = render.home_view([conversation(0, permalink="javascript:alert(1)")])
    assert sections(view)[0] == "*What is grace?*"
    check_view(view, "home")


def test_admin_settings_are_listed_read_only() -> None:
    admin = [
        ("Whole workspace (defaults)", [("Sources", "on"), ("Publishers", "<!here> A")]),
        ("<#C0GENERAL>", [("Sources", "off")]),
    ]
    view = render.home_view([], admin)
    check_view(view, "home")
    text = "\n".join(sections(view))
    assert "no conversations yet" in text
    assert "*<#C0GENERAL>*\n• Sources: off" in text
    assert "<!here>" not in text
    assert not [b for b in view["blocks"] if b["type"] == "actions"]  # read-only


@pytest.mark.parametrize("turns", [1, 98, 99, 100, 300])
def test_the_history_modal_keeps_the_newest_within_100_blocks(turns: int) -> None:
    history = ChatHistory(
        chat_id="c1",
        messages=tuple(
            HistoryMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * 4000)
            for i in range(turns)
        ),
    )
    modal = render.history_modal(history)
    check_view(modal, "modal")
    assert len(modal["title"]["text"]) <= render.MODAL_TITLE_LIMIT
    shown = sections(modal)
    assert f"turn {turns - 1} " in shown[-1]
    assert all(len(s) <= render.SECTION_TEXT_LIMIT for s in shown)
    if turns > 99:
        assert f"{turns - 99} earlier messages" in str(modal["blocks"][0])
    else:
        assert len(shown) == turns


def test_notice_modal() -> None:
    modal = render.notice_modal("x" * 5000)
    check_view(modal, "modal")


def test_feedback_is_slacks_native_feedback_buttons_element() -> None:
    reply = Reply("Grace.", (), (), answer_id="a" * 64, chat_id="c")
    (message,) = render.render_reply(reply)
    (block,) = [b for b in message.blocks if b["type"] == "context_actions"]
    parsed = Block.parse(block)
    assert isinstance(parsed, ContextActionsBlock)
    parsed.validate_json()
    (element,) = block["elements"]
    assert element["type"] == "feedback_buttons"
    assert element["positive_button"]["value"] == "up:" + "a" * 64
    assert element["negative_button"]["value"] == "down:" + "a" * 64
    assert len(element["positive_button"]["accessibility_label"]) <= 75
    assert validate_blocks(list(message.blocks)) is None
    # The longest answer id that still fits a 2,000-character value.
    (longest,) = render.render_reply(Reply("G.", (), (), answer_id="b" * 1995, chat_id="c"))
    assert validate_blocks(list(longest.blocks)) is None
    assert "feedback_buttons" in str(longest.blocks)


def test_the_fake_refuses_feedback_buttons_over_their_limits() -> None:
    (message,) = render.render_reply(Reply("G.", (), (), answer_id="a", chat_id="c"))
    block = next(b for b in message.blocks if b["type"] == "context_actions")
    too_long = {**block, "elements": [dict(block["elements"][0])]}
    too_long["elements"][0]["positive_button"] = {
        "text": {"type": "plain_text", "text": "x" * 76},
        "value": "up:a",
    }
    assert validate_blocks([too_long]) == "invalid_blocks"
    six = {**block, "elements": [block["elements"][0]] * 6}
    assert validate_blocks([six]) == "invalid_blocks"


def test_our_feedback_block_is_what_slack_sdk_builds() -> None:
    """The same element slack_sdk's FeedbackButtonsElement makes (the shape Slack's
    bolt-python assistant template passes to chat.stopStream as the answer's last blocks)."""
    reply = Reply("Grace.", (), (), answer_id="a1", chat_id="c")
    (message,) = render.render_reply(reply)
    (ours,) = [b for b in message.blocks if b["type"] == "context_actions"]
    sdk = ContextActionsBlock(
        block_id="gloo_feedback",
        elements=[
            FeedbackButtonsElement(
                action_id=render.FEEDBACK_ACTION,
                positive_button=FeedbackButtonObject(
                    text=PlainTextObject(text="👍", emoji=True),
                    accessibility_label="This answer was helpful",
                    value="up:a1",
                ),
                negative_button=FeedbackButtonObject(
                    text=PlainTextObject(text="👎", emoji=True),
                    accessibility_label="This answer was not helpful",
                    value="down:a1",
                ),
            )
        ],
    ).to_dict()
    assert ours == sdk
    assert validate_blocks([sdk]) is None
