"""Logs a person can read (issue 25, part 5): at INFO only our events, one ``ready`` line.

The libraries' own records are produced by the libraries themselves (APScheduler, bolt,
discord.py), so a change in their wording shows here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import discord
import pytest
import structlog
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console as RichConsole
from rich.markdown import Markdown
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from core.adapters import Runtime
from core.bootstrap import Container
from core.console import SIMULATOR_BANNER, SIMULATOR_BANNER_CHOSEN, simulator_banner
from core.delivery import Dispatcher
from core.logs import configure_logging
from core.settings import Settings
from core.store.sql import SqlStore
from tests.logcapture import CapturedLogs


@pytest.fixture
def capture() -> Iterator[CapturedLogs]:
    captured = CapturedLogs()
    try:
        yield captured
    finally:
        captured.close()


def at(level: str, capture: CapturedLogs) -> None:
    configure_logging(level=level, fmt="console", stream=capture.stream)


def library_chatter() -> None:
    """What the libraries log while a serving process starts, made by the libraries."""
    # APScheduler 3: add_job before start() logs "Adding job tentatively -- it will be
    # properly scheduled when the scheduler starts" at INFO (apscheduler/schedulers/base.py,
    # add_job).
    AsyncIOScheduler().add_job(lambda: None, "interval", seconds=60)
    # bolt reads SLACK_BOT_TOKEN itself (slack_bolt/app/async_app.py, __init__); with a
    # client as well it warns warning_token_skipped() on the app's logger.
    AsyncApp(
        token="xoxb-1-2-abc",
        client=AsyncWebClient(token="xoxb-1-2-abc"),
        signing_secret="x",
        logger=logging.getLogger("bots.slack.bolt"),
    )
    # discord.py warns once per process that voice needs PyNaCl and davey
    # (discord/client.py, Client.__init__, on VoiceClient.warn_nacl / warn_dave).
    discord.VoiceClient.warn_nacl = True
    discord.VoiceClient.warn_dave = True
    discord.Client(intents=discord.Intents.default())


def test_at_info_a_person_reads_only_our_events(capture: CapturedLogs) -> None:
    at("INFO", capture)
    structlog.get_logger("core.adapters").info("process.listening", url="http://127.0.0.1:1")
    logging.getLogger("slack_sdk.web.async_base_client").info("A retry handler found: ...")
    library_chatter()
    text = capture.text()
    assert "process.listening" in text
    for chatter in ("Adding job", "retry handler", "will be unused", "voice will NOT"):
        assert chatter not in text, text
    assert len(text.strip().splitlines()) == 1, text


def test_library_warnings_that_matter_still_show(capture: CapturedLogs) -> None:
    at("INFO", capture)
    logging.getLogger("discord.gateway").warning("Shard ID None heartbeat blocked")
    logging.getLogger("bots.slack.bolt").warning("Unhandled request")
    assert "heartbeat blocked" in capture.text()
    assert "Unhandled request" in capture.text()


def test_at_debug_everything_shows_and_the_notices_as_debug(capture: CapturedLogs) -> None:
    at("DEBUG", capture)
    library_chatter()
    lines = capture.text().splitlines()
    voice = [line for line in lines if "voice will NOT be supported" in line]
    unused = [line for line in lines if "`token` will be unused" in line]
    assert voice
    assert unused
    assert all("[debug" in line for line in voice + unused), voice + unused
    assert any("Adding job tentatively" in line for line in lines)


def _runtime(*names: str) -> Runtime:
    # connected() reads only expected, connections and web_url.
    return Runtime(
        container=cast(Container, None),
        dispatcher=cast(Dispatcher, None),
        web=web.Application(),
        web_url="http://0.0.0.0:3000",
        expected=names,
    )


def test_ready_is_said_once_when_every_platform_connected(capture: CapturedLogs) -> None:
    at("INFO", capture)
    runtime = _runtime("discord", "slack")
    runtime.connected("slack", "socket-mode")
    assert "ready" not in capture.text()
    assert not runtime.ready.is_set()
    runtime.connected("discord", "connected")
    runtime.connected("discord", "connected")  # a gateway reconnect says READY again
    ready = [line for line in capture.text().splitlines() if "[core.adapters]" in line]
    assert len(ready) == 1, capture.text()
    assert " ready " in ready[0]
    assert "discord=connected slack=socket-mode web=http://0.0.0.0:3000" in ready[0]
    assert runtime.ready.is_set()


def test_the_simulator_banner_says_why_the_simulator_answers() -> None:
    chosen = simulator_banner(Settings(_env_file=None, gloo_backend="simulator"))
    assert chosen == SIMULATOR_BANNER_CHOSEN
    assert "GLOO_BACKEND=simulator" in chosen
    assert "GLOO_BACKEND=message" in chosen  # how to leave it
    missing = simulator_banner(Settings(_env_file=None, gloo_backend="message"))
    assert missing == SIMULATOR_BANNER
    assert "GLOO_CLIENT_ID" in missing


def test_at_debug_markdown_parsing_traces_stay_out(capture: CapturedLogs) -> None:
    at("DEBUG", capture)
    structlog.get_logger("core.console").debug("console.rendered")
    # markdown-it logs "entering paragraph: StateBlock(...)" per rule it tries, at DEBUG
    # (markdown_it/rules_block/paragraph.py); the console renders answers with it (rich).
    RichConsole(file=io.StringIO()).print(Markdown("**Grace** is a gift."))
    text = capture.text()
    assert "console.rendered" in text
    assert "entering" not in text, text


async def test_at_debug_sqlite_round_trips_stay_out(capture: CapturedLogs, tmp_path: Path) -> None:
    at("DEBUG", capture)
    # aiosqlite logs "operation <function …> completed" per call into its thread, at DEBUG
    # (aiosqlite/core.py, Connection.run).
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await store.close()
    structlog.get_logger("core.store").debug("store.closed")
    text = capture.text()
    assert "store.closed" in text
    assert "[aiosqlite]" not in text, text
