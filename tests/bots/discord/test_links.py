"""Discord shows links from Gloo's answers by their real target (decided in the core).

Discord renders ``[text](url)`` masked links in bot messages; a label naming another host
than the link opens (issue 14, finding 4) must never reach a message, neither in the edits
while the answer streams nor in the final one.
"""

from __future__ import annotations

import pytest

from core.simulator import Simulator
from tests.bots.discord.conftest import DM_CHANNEL_ID, running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.core.test_text_links import HONEST, patch_answers


async def test_a_misleading_link_is_shown_by_its_target_in_every_edit(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_answers(monkeypatch)
    async with running(fake, sim, sqlite_url) as bot:
        await bot.dm("links?")
        [answer] = await bot.answered(DM_CHANNEL_ID)
    assert answer["content"] == HONEST
    sends = fake.message_sends()
    assert sends
    for call in sends:
        assert "good.example" not in repr(call.body), call.path
