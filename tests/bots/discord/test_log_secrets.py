"""No Discord interaction or webhook token reaches the log, even at LOG_LEVEL=DEBUG.

discord.py logs every REST call at DEBUG with its full URL (``discord/http.py``:
``'%s %s with %s has returned %s'`` and ``'%s %s has received %s'``;
``discord/webhook/async_.py``: ``'Webhook ID %s with %s %s has returned status code %s'``), and
every gateway event with its payload (``discord/gateway.py``:
``'For Shard ID %s: WebSocket Event: %s'``). Interaction callbacks and follow-ups go to
``/interactions/{id}/{token}/callback`` and ``/webhooks/{application_id}/{token}`` (Discord's
"Receiving and Responding" docs), and INTERACTION_CREATE carries ``"token"``: whoever reads one
can post as the bot in that interaction for 15 minutes. This drives discord.py's real DEBUG
output through the fake Discord of the development tools.
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from core.logs import REDACTED, configure_logging
from core.simulator import Simulator
from tests.bots.discord.conftest import running
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_commands import command
from tests.conftest import configure_test_logging


def interaction_token(interaction_id: int) -> str:
    """Shaped like Discord's: base64url of ``interaction:<id>:<random>``, 150-odd characters."""
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture(params=["console", "json"])
def debug_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(level="DEBUG", fmt=request.param, stream=out)
    yield out
    configure_test_logging()


async def test_interaction_tokens_never_reach_the_debug_log(
    fake: FakeDiscord, sim: Simulator, sqlite_url: str, debug_log: io.StringIO
) -> None:
    tokens: list[str] = []
    original = fake.interaction

    async def with_real_token(data: dict[str, Any]) -> dict[str, Any]:
        data["token"] = interaction_token(int(str(data["id"])))
        tokens.append(str(data["token"]))
        return await original(data)

    fake.interaction = with_real_token  # type: ignore[method-assign]
    async with running(fake, sim, sqlite_url) as bot:
        ask = await command(bot, "ask", dm=True, question="What is hope?")
        await bot.callback_for(ask)
        await bot.followups(ask)
    out = debug_log.getvalue()
    # discord.py's own DEBUG lines were logged, with the URLs that carry the token ...
    assert "WebSocket Event" in out
    assert "INTERACTION_CREATE" in out
    assert f"/interactions/{ask['id']}/{REDACTED}/callback" in out
    assert f"/webhooks/{fake.application_id}/{REDACTED}" in out
    # ... and the token itself is in none of them, nor anywhere else.
    assert tokens
    for token in tokens:
        assert token not in out
        assert token[:40] not in out
    assert fake.token not in out
