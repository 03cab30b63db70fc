"""Running the Slack adapter in a whole process (core + simulator + fake Slack) for scenarios."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bots.slack.adapter import SlackAdapter
from core.adapters import Runtime, serving
from core.simulator import Simulator, SimulatorTransport
from tests.bots.slack.fake_slack import BOT_TOKEN, FakeSlack, Message
from tests.harness import expects_suggestions, settings_for_tests

PAYLOADS = Path(__file__).parent / "payloads"
#: Where each recorded payload's shape comes from (JSON has no comments; a test checks that
#: every file under payloads/ is listed here). Ids are our fakes'; fields are Slack's.
PAYLOAD_SOURCES: dict[str, str] = {
    "app_mention": "docs.slack.dev/reference/events/app_mention (Events API wrapper)",
    "app_uninstalled": "docs.slack.dev/reference/events/app_uninstalled (whole Events API body)",
    "assistant_thread_started": "docs.slack.dev/reference/events/assistant_thread_started",
    "block_actions": "docs.slack.dev/reference/interaction-payloads/block_actions-payload",
    "block_actions_feedback": (
        "docs.slack.dev/reference/interaction-payloads/block_actions-payload, with the "
        "action of a feedback_buttons click as bolt-js types it (docs.slack.dev/tools/bolt-js/"
        "reference/interfaces/FeedbackButtonsAction: type feedback_buttons, action_id, "
        "block_id, text, value of the clicked button, action_ts)"
    ),
    "block_actions_home": (
        "docs.slack.dev/reference/interaction-payloads/block_actions-payload: a button in a "
        "Home tab view (container type view, the view object, trigger_id, no response_url)"
    ),
    "app_home_opened_home": "docs.slack.dev/reference/events/app_home_opened (tab home)",
    "app_home_opened_messages": (
        "docs.slack.dev/reference/events/app_home_opened (tab messages), the agent-view entry "
        "per docs.slack.dev/ai/migrating-to-agent-messaging/"
    ),
    "bot_message": "docs.slack.dev/reference/events/message/bot_message",
    "tokens_revoked": "docs.slack.dev/reference/events/tokens_revoked (whole Events API body)",
    "message_changed": "docs.slack.dev/reference/events/message/message_changed",
    "message_channels": "docs.slack.dev/reference/events/message.channels",
    "message_deleted": "docs.slack.dev/reference/events/message/message_deleted",
    "message_im": "docs.slack.dev/reference/events/message.im",
    "message_action": (
        "docs.slack.dev/reference/interaction-payloads/shortcuts (a message shortcut: type "
        "message_action, callback_id, trigger_id, response_url, message_ts, the message, "
        "channel, user, team)"
    ),
    "view_submission": (
        "docs.slack.dev/reference/interaction-payloads/view-interactions-payload "
        "(view_submission: the view with its private_metadata and state.values)"
    ),
    "slash_command": "docs.slack.dev/interactivity/implementing-slash-commands (the form fields)",
}
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0GENERAL"
DM = "D0ALICEDM"
ALICE = "U0ALICE01"
BOB = "U0BOB0001"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def event(name: str, *, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A recorded Events API body with some ``event`` fields replaced (None removes one)."""
    body = copy.deepcopy(load(name))
    body["event_id"] = event_id or f"Ev{uuid.uuid4().hex[:10].upper()}"
    for key, value in fields.items():
        if value is None:
            body["event"].pop(key, None)
        else:
            body["event"][key] = value
    return body


def action(
    fake: FakeSlack,
    *,
    action_id: str,
    value: str,
    user: str = BOB,
    channel: str = CHANNEL,
    message_ts: str = "1700000101.000100",
    thread_ts: str | None = None,
    action_ts: str | None = None,
) -> dict[str, Any]:
    body = copy.deepcopy(load("block_actions"))
    body["user"]["id"] = user
    body["channel"]["id"] = channel
    body["container"].update(channel_id=channel, message_ts=message_ts, thread_ts=thread_ts)
    body["message"].update(ts=message_ts, thread_ts=thread_ts)
    body["response_url"] = fake.response_url(f"action-{uuid.uuid4().hex[:8]}")
    body["actions"][0].update(
        action_id=action_id,
        value=value,
        action_ts=action_ts or f"{time.time():.6f}",
    )
    return body


def feedback_click(
    fake: FakeSlack,
    answer: Message,
    vote: str,
    *,
    user: str = BOB,
    channel: str = CHANNEL,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A click on the 👍 (``vote="up"``) or 👎 of ``answer``'s native feedback buttons."""
    (element,) = answer.feedback_buttons()
    button = element["positive_button" if vote == "up" else "negative_button"]
    body = copy.deepcopy(load("block_actions_feedback"))
    body["user"]["id"] = user
    body["channel"]["id"] = channel
    body["container"].update(channel_id=channel, message_ts=answer.ts, thread_ts=thread_ts)
    body["message"].update(ts=answer.ts, thread_ts=thread_ts)
    body["response_url"] = fake.response_url(f"feedback-{uuid.uuid4().hex[:8]}")
    body["actions"][0].update(
        action_id=element["action_id"],
        text=button["text"],
        value=button["value"],
        action_ts=f"{time.time():.6f}",
    )
    return body


def home_click(button: dict[str, Any], *, user: str = ALICE) -> dict[str, Any]:
    """A click on a button of the published Home tab (a fresh trigger_id each time)."""
    body = copy.deepcopy(load("block_actions_home"))
    body["user"]["id"] = user
    body["trigger_id"] = f"{time.time():.6f}.{uuid.uuid4().hex}"
    body["actions"][0].update(
        action_id=button["action_id"],
        text=button["text"],
        value=button["value"],
        action_ts=f"{time.time():.6f}",
    )
    return body


def command(
    fake: FakeSlack, text: str, *, channel: str = CHANNEL, user: str = "U0ALICE01"
) -> dict[str, str]:
    fields: dict[str, str] = copy.deepcopy(load("slash_command"))
    fields.update(
        text=text,
        channel_id=channel,
        user_id=user,
        channel_name="directmessage" if channel.startswith("D") else "general",
        response_url=fake.response_url(f"command-{uuid.uuid4().hex[:8]}"),
        trigger_id=f"{time.time():.6f}.{uuid.uuid4().hex}",
    )
    return fields


def assert_final_buttons(answer: Message) -> None:
    """``answer`` carries a finished answer's buttons: the two feedback buttons, and the
    suggested follow-ups on the Message API only (Completions V2 answers carry none)."""
    (feedback,) = answer.feedback_buttons()
    assert feedback["positive_button"]["value"].startswith("up:"), answer.blocks
    assert feedback["negative_button"]["value"].startswith("down:"), answer.blocks
    assert bool(answer.buttons("gloo_suggest")) == expects_suggestions(), answer.blocks


@dataclass
class Posted:
    status: int
    text: str


@dataclass
class SlackProcess:
    """A serving process with the Slack adapter, and ways to talk to it like Slack does."""

    runtime: Runtime
    adapter: SlackAdapter
    fake: FakeSlack
    sim: Simulator
    secret: str = SIGNING_SECRET

    @property
    def events_url(self) -> str:
        assert self.runtime.web_url is not None
        return f"{self.runtime.web_url}/slack/events"

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Posted:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret or self.secret).generate_signature(
            timestamp=stamp, body=body
        )
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
            **(headers or {}),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.events_url, data=body.encode(), headers=all_headers) as response,
        ):
            return Posted(response.status, await response.text())

    async def event(self, body: dict[str, Any], **kwargs: Any) -> Posted:
        return await self.post(json.dumps(body), "application/json", **kwargs)

    async def action(self, payload: dict[str, Any], **kwargs: Any) -> Posted:
        form = urlencode({"payload": json.dumps(payload)})
        return await self.post(form, "application/x-www-form-urlencoded", **kwargs)

    async def command(self, fields: dict[str, str], **kwargs: Any) -> Posted:
        return await self.post(urlencode(fields), "application/x-www-form-urlencoded", **kwargs)

    async def settle(self) -> None:
        await asyncio.wait_for(self.adapter.settle(), 20)


async def no_sleep(seconds: float) -> None:
    """Retry waits in tests: recorded by the caller's fake if needed, never slept."""


def slack_settings(database_url: str, fake: FakeSlack, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.api_url,
        "gloo_intent": 1,  # the simulator gives sources for intent 1
        "quota_user_per_minute": 0,
        "quota_user_per_day": 0,
        "quota_workspace_per_day": 0,
        "inbox_max_attempts": 1,
    }
    values.update(overrides)
    return settings_for_tests(**values)


@asynccontextmanager
async def slack_process(
    database_url: str,
    fake: FakeSlack,
    sim: Simulator,
    adapter: SlackAdapter | None = None,
    **overrides: Any,
) -> AsyncIterator[SlackProcess]:
    """Run ``gloo-bots slack`` in this event loop until the block ends."""
    adapter = adapter or SlackAdapter(update_interval=0.0, retry_sleep=no_sleep)
    settings = slack_settings(database_url, fake, **overrides)
    async with serving(settings, [adapter], transport=SimulatorTransport(sim)) as runtime:
        yield SlackProcess(runtime=runtime, adapter=adapter, fake=fake, sim=sim)
