"""The admin rules, the access lists' decisions and the audit of settings changes (core)."""

from __future__ import annotations

import pytest

from core import messages
from core.access import MAX_RULES, AccessLists, AccessPolicy, NotAllowed, Requester
from core.service import MAX_PUBLISHERS, ClickElsewhere, ConversationService
from core.store.sql import SqlStore
from core.types import AccessRule, Question, ThreadKey
from tests.harness import core_on_simulator


class Admins:
    """An AdminCheck that says yes for the ids it was given, and counts the questions."""

    def __init__(self, *admins: str) -> None:
        self.admins = set(admins)
        self.asked: list[tuple[str, str]] = []

    async def is_admin(self, workspace: str, user_id: str) -> bool:
        self.asked.append((workspace, user_id))
        return user_id in self.admins


def rules(*entries: tuple[str, str, str]) -> AccessLists:
    return AccessLists(tuple(AccessRule("slack", "T1", k, s, e) for k, s, e in entries))


@pytest.mark.parametrize(
    ("lists", "requester", "refusal"),
    [
        (rules(), Requester("U1", ("C1",)), None),
        (rules(("user", "U1", "block")), Requester("U1", ("C1",)), messages.ACCESS_USER_REFUSED),
        (rules(("user", "U1", "block")), Requester("U2", ("C1",)), None),
        (
            rules(("role", "R1", "block")),
            Requester("U1", (), ("R1",)),
            messages.ACCESS_USER_REFUSED,
        ),
        (rules(("user", "U1", "allow")), Requester("U2", ("C1",)), messages.ACCESS_USER_REFUSED),
        (rules(("user", "U1", "allow")), Requester("U1", ("C1",)), None),
        (rules(("role", "R1", "allow")), Requester("U2", ("C1",), ("R1",)), None),
        (
            rules(("channel", "C1", "allow")),
            Requester("U1", ("C2",)),
            messages.ACCESS_CHANNEL_REFUSED,
        ),
        # A thread of an allowed channel: its parent is among the requester's channels.
        (rules(("channel", "C1", "allow")), Requester("U1", ("T9", "C1")), None),
        # Direct messages are not channels: channel lists do not apply.
        (rules(("channel", "C1", "allow")), Requester("U1", ()), None),
        (
            rules(("channel", "C1", "block")),
            Requester("U1", ("T9", "C1")),
            messages.ACCESS_CHANNEL_REFUSED,
        ),
        # A block wins over an allow.
        (
            rules(("user", "U1", "allow"), ("role", "R1", "block")),
            Requester("U1", ("C1",), ("R1",)),
            messages.ACCESS_USER_REFUSED,
        ),
    ],
)
def test_access_lists_decide(lists: AccessLists, requester: Requester, refusal: str | None) -> None:
    assert lists.refusal(requester) == refusal


@pytest.fixture
def policy(store: SqlStore) -> AccessPolicy:
    return AccessPolicy(store, settings_admins=("U0NAMED",), cache_seconds=60)


async def test_administrators_are_named_or_told_by_the_platform(policy: AccessPolicy) -> None:
    admins = Admins("U0ADMIN")
    assert await policy.may_administer("T1", "U0NAMED", admins)
    assert admins.asked == []  # named in SETTINGS_ADMINS: the platform is not asked
    assert await policy.may_administer("T1", "U0ADMIN", admins)
    assert not await policy.may_administer("T1", "U0MEMBER", admins)
    assert not await policy.may_administer("T1", "", admins)
    assert await policy.may_administer("@dm", "U0MEMBER", admins)  # a DM outside any server


async def test_only_administrators_change_the_lists_and_each_change_is_audited(
    policy: AccessPolicy, store: SqlStore
) -> None:
    admins = Admins("U0ADMIN")
    with pytest.raises(NotAllowed) as refused:
        await policy.change(
            "slack", "T1", by="U0MEMBER", admins=admins, kind="user", subject="U1", effect="block"
        )
    assert refused.value.user_message == messages.ADMINS_ONLY
    assert await policy.check("slack", "T1", Requester("U1", ("C1",))) is None
    lists = await policy.change(
        "slack", "T1", by="U0ADMIN", admins=admins, kind="user", subject="U1", effect="block"
    )
    # The change applies at once in this process, though the lists were cached.
    assert lists.subjects("user", "block") == ["U1"]
    assert await policy.check("slack", "T1", Requester("U1", ("C1",))) == (
        messages.ACCESS_USER_REFUSED
    )
    await policy.change(
        "slack", "T1", by="U0ADMIN", admins=admins, kind="user", subject="U1", effect=None
    )
    await policy.change(  # removing what is not there changes nothing, audits nothing
        "slack", "T1", by="U0ADMIN", admins=admins, kind="user", subject="U1", effect=None
    )
    history = await policy.history("slack", "T1", [""])
    assert [(e.actor, e.action, e.change) for e in history] == [
        ("U0ADMIN", "access", "user U1: off the access lists"),
        ("U0ADMIN", "access", "user U1: blocked"),
    ]
    with pytest.raises(ValueError, match="unknown access rule"):
        await policy.change(
            "slack", "T1", by="U0ADMIN", admins=admins, kind="team", subject="X", effect="block"
        )


async def test_the_lists_are_capped(policy: AccessPolicy, store: SqlStore) -> None:
    for n in range(MAX_RULES):
        await store.save_access_rule(AccessRule("slack", "T1", "user", f"U{n}", "block"))
    admins = Admins("U0ADMIN")
    with pytest.raises(ValueError, match=f"at most {MAX_RULES} entries"):
        await policy.change(
            "slack", "T1", by="U0ADMIN", admins=admins, kind="user", subject="UX", effect="block"
        )
    # A subject already on the lists can still move to the other list.
    await policy.change(
        "slack", "T1", by="U0ADMIN", admins=admins, kind="user", subject="U0", effect="allow"
    )


async def test_a_settings_change_needs_an_administrator_and_is_audited(store: SqlStore) -> None:
    async with core_on_simulator(store) as (container, _):
        service: ConversationService = container.service
        admins = Admins("U0ADMIN")
        with pytest.raises(NotAllowed):
            await service.update_settings(
                "slack", "T1", "C1", by="U0MEMBER", admins=admins, character_limit=1
            )
        assert await service.settings_for("slack", "T1", "C1") == service.defaults
        await service.update_settings(
            "slack", "T1", "C1", by="U0ADMIN", admins=admins, sources_limit=3, enable_sources=False
        )
        with pytest.raises(ValueError, match=f"at most {MAX_PUBLISHERS} publishers"):
            await service.update_settings(
                "slack",
                "T1",
                "C1",
                by="U0ADMIN",
                admins=admins,
                publishers=tuple(f"P{i}" for i in range(MAX_PUBLISHERS + 1)),
            )
        with pytest.raises(ValueError, match="at most 100 characters"):
            await service.update_settings(
                "slack", "T1", "C1", by="U0ADMIN", admins=admins, publishers=("x" * 101,)
            )
        # The bot's own change (a thread inheriting its channel's settings) is not audited.
        await service.update_settings("slack", "T1", "C2", sources_limit=1)
        history = await service.access.history("slack", "T1", ["C1", "C2"])
    before = service.defaults.sources_limit or "default"
    assert [(e.channel, e.actor, e.change) for e in history] == [
        ("C1", "U0ADMIN", f"sources limit: {before} → 3; enable sources: on → off")
    ]


async def test_a_click_outside_its_answers_channel_is_refused(store: SqlStore) -> None:
    async with core_on_simulator(store) as (container, _):
        service: ConversationService = container.service
        home = ThreadKey("slack", "T1", "C1", "1.0")
        reply = await service.ask(Question(home, "What is grace?"))
        elsewhere = ThreadKey("slack", "T1", "C2")
        other_team = ThreadKey("slack", "T2", "C1")
        for where in (elsewhere, other_team):
            with pytest.raises(ClickElsewhere):
                await service.record_feedback(reply.answer_id, "U1", 1, where=where)
        assert await service.record_feedback(
            reply.answer_id, "U1", 1, where=ThreadKey("slack", "T1", "C1", "other-thread")
        )
        if reply.suggestions:
            with pytest.raises(ClickElsewhere):
                await service.resolve_suggestion(reply.suggestion_ref(0), where=elsewhere)
            click = await service.resolve_suggestion(reply.suggestion_ref(0), where=home)
            assert click.thread == home
        assert await service.get_answer(reply.answer_id) is not None


async def test_reset_history_and_feedback_keep_to_the_access_lists(store: SqlStore) -> None:
    # Issue 24 finding 5: the core decides, with the sentence asking gets; a person is
    # refused by a blocked channel too, and lists of people apply in every channel.
    async with core_on_simulator(store) as (container, _):
        service: ConversationService = container.service
        home = ThreadKey("slack", "T1", "C1", "1.0")
        reply = await service.ask(Question(home, "What is grace?"))
        await store.save_access_rule(AccessRule("slack", "T1", "user", "U0BLOCKED", "block"))
        await store.save_access_rule(AccessRule("slack", "T1", "channel", "C1", "block"))
        blocked, in_c1 = Requester("U0BLOCKED"), Requester("U0OTHER", channels=("C1",))
        for requester, sentence in (
            (blocked, messages.ACCESS_USER_REFUSED),
            (in_c1, messages.ACCESS_CHANNEL_REFUSED),
        ):
            with pytest.raises(NotAllowed) as history:
                await service.history(home, requester=requester)
            with pytest.raises(NotAllowed) as reset:
                await service.reset(home, requester=requester)
            with pytest.raises(NotAllowed) as vote:
                await service.record_feedback(reply.answer_id, "U", 1, requester=requester)
            with pytest.raises(NotAllowed) as vote_here:
                await service.record_feedback(
                    reply.answer_id, "U", 1, where=home, requester=requester
                )
            assert {e.value.user_message for e in (history, reset, vote, vote_here)} == {sentence}
        assert await store.get_feedback(reply.answer_id) == {}
        assert await service.is_active(home)
        # Anyone else, elsewhere; and no person at all (the local console): nothing to refuse.
        allowed = Requester("U0OTHER", channels=("C2",))
        assert await service.history(home, requester=allowed) is not None
        assert await service.record_feedback(reply.answer_id, "U0OTHER", 1, requester=allowed)
        assert await service.history(home) is not None
        # A workspace of no organisation (Discord's direct messages) has no lists.
        dm = ThreadKey("discord", "@dm", "D1")
        await store.save_access_rule(AccessRule("discord", "@dm", "user", "U0BLOCKED", "block"))
        assert not await service.reset(dm, requester=blocked)
        assert await service.reset(home, requester=allowed)
