""" "Ask Gloo about this": the message shortcut, its modal, and the answer in the thread.

The contract (docs.slack.dev):

* A message shortcut (``features.shortcuts`` of type ``message`` in the manifests,
  ``callback_id`` :data:`SHORTCUT_CALLBACK`) sends a ``message_action`` payload
  (reference/interaction-payloads/shortcuts: ``callback_id``, ``trigger_id``,
  ``response_url`` "only included for message shortcuts", ``message`` with its full
  structure, ``channel``, ``user``, ``team``). It is acknowledged at once.
* The ``trigger_id`` opens a modal (``views.open``) and is only valid for 3 seconds
  (surfaces/modals), so the modal is opened as soon as the access lists and the channel's
  settings are read, before anything slow.
* The modal's ``private_metadata`` (at most 3,000 characters, reference/surfaces/views)
  carries where the message is (channel, ts, thread), the shortcut's ``response_url`` and as
  much of the quoted text as fits, since ``view_submission`` brings back only the view.
* ``view_submission`` (reference/interaction-payloads/view-interactions-payload) is
  acknowledged with ``response_action: errors`` on the question field when it cannot be
  asked (the person sees why in the modal, and can fix or close it), otherwise with a plain
  acknowledgement that closes the modal.

The answer goes in the message's thread (``thread_ts`` of the message, or its own ``ts``):
an "asked" line is posted there, then the question goes to the dispatcher like a mention,
so quotas, the access lists, admin rules and click binding apply exactly as for mentions,
and the conversation is bound to that thread (a follow-up reply there continues it). Where
the bot cannot post (not a member of the channel), the person gets one ephemeral sentence
through the shortcut's ``response_url``. ``/gloo settings shortcut off`` turns the shortcut
off for the channel it is typed in, as every setting.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.slack import messages as sentences
from bots.slack import render
from bots.slack.access import SlackGate
from bots.slack.background import Background
from bots.slack.clients import WebClients, workspace_id
from bots.slack.commands import readable_question
from bots.slack.responder import slack_error
from core import intake
from core.delivery import Job
from core.quoting import DEFAULT_QUESTION, quoted_question
from core.service import ConversationService
from core.types import Question, ThreadKey

__all__ = [
    "METADATA_LIMIT",
    "MODAL_CALLBACK",
    "QUESTION_ACTION",
    "QUESTION_BLOCK",
    "SHORTCUT_CALLBACK",
    "SlackShortcuts",
    "metadata_for",
    "parse_metadata",
    "shortcut_modal",
]

log = structlog.get_logger(__name__)

PLATFORM: Final = "slack"
#: The message shortcut's ``callback_id`` (config/slack-manifest*.yaml).
SHORTCUT_CALLBACK: Final = "gloo_ask_message"
#: The modal's ``callback_id`` (its ``view_submission``).
MODAL_CALLBACK: Final = "gloo_ask_message_modal"
QUESTION_BLOCK: Final = "gloo_question"
QUESTION_ACTION: Final = "question"
#: A view's ``private_metadata`` holds at most 3,000 characters (reference/surfaces/views).
METADATA_LIMIT: Final = 3_000
#: How much of the message the modal shows (a section's text holds 3,000).
PREVIEW_CHARS: Final = 2_800
#: A plain_text_input's ``max_length`` may be at most 3,000 (reference/block-kit/
#: block-elements/plain-text-input-element).
INPUT_MAX_LENGTH: Final = 3_000

Submit = Callable[[Job], Awaitable[bool]]
Ack = Callable[..., Awaitable[Any]]


def metadata_for(
    channel: str, ts: str, thread_ts: str | None, response_url: str, quote: str
) -> str:
    """The modal's ``private_metadata``: where the message is, and as much of ``quote`` as
    fits within :data:`METADATA_LIMIT` (JSON escapes counted)."""
    fields: dict[str, str] = {"c": channel, "ts": ts, "th": thread_ts or "", "r": response_url}
    text = quote
    while True:
        encoded = json.dumps({**fields, "q": text}, ensure_ascii=False, separators=(",", ":"))
        excess = len(encoded) - METADATA_LIMIT
        if excess <= 0 or not text:
            return encoded
        text = text[: max(0, len(text) - excess - 1)].rstrip("…") + "…" if len(text) > 1 else ""


def parse_metadata(raw: str) -> dict[str, str] | None:
    """The fields of :func:`metadata_for`, or ``None`` when ``raw`` is not ours."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if not all(isinstance(data.get(key), str) for key in ("c", "ts", "q")):
        return None
    channel, ts = data["c"], data["ts"]
    if not intake.is_plain_id(channel) or not intake.is_plain_id(ts):
        return None
    return {
        "channel": channel,
        "ts": ts,
        "thread_ts": str(data.get("th") or ""),
        "response_url": str(data.get("r") or ""),
        "quote": data["q"],
    }


def shortcut_modal(quote: str, metadata: str) -> dict[str, Any]:
    """The modal: the message quoted (inert: no pings, no links) and the question field,
    prefilled with :data:`core.quoting.DEFAULT_QUESTION`."""
    shown = render.ellipsize_keep_lines(render.inert(quote[:PREVIEW_CHARS]), PREVIEW_CHARS)
    body = "\n".join(f"&gt; {line}" for line in shown.split("\n")) if shown.strip() else ""
    quoted = f"{sentences.SHORTCUT_QUOTE_LABEL}\n{body or sentences.SHORTCUT_NO_TEXT}"
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": {"type": "plain_text", "text": sentences.SHORTCUT_MODAL_TITLE},
        "submit": {"type": "plain_text", "text": sentences.SHORTCUT_SUBMIT},
        "close": {"type": "plain_text", "text": sentences.SHORTCUT_CANCEL},
        "private_metadata": metadata,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": quoted[:3000], "verbatim": True},
            },
            {
                "type": "input",
                "block_id": QUESTION_BLOCK,
                "label": {"type": "plain_text", "text": sentences.SHORTCUT_QUESTION_LABEL},
                "element": {
                    "type": "plain_text_input",
                    "action_id": QUESTION_ACTION,
                    "initial_value": DEFAULT_QUESTION,
                    "multiline": True,
                    "max_length": INPUT_MAX_LENGTH,
                },
            },
        ],
    }


class SlackShortcuts:
    """The message shortcut's two listeners (see the module docstring)."""

    def __init__(
        self,
        service: ConversationService,
        clients: WebClients,
        background: Background,
        gate: SlackGate,
        submit: Submit,
        *,
        language: Callable[[str, str], Awaitable[str]] | None = None,
    ) -> None:
        #: The person's Slack language (workspace, user), for the line showing what they asked.
        self._language = language
        self._service = service
        self._clients = clients
        self._background = background
        self._gate = gate
        self._submit = submit

    def register(self, app: AsyncApp) -> None:
        app.shortcut(SHORTCUT_CALLBACK)(self.on_shortcut)
        app.view(MODAL_CALLBACK)(self.on_submission)

    # --- the shortcut ------------------------------------------------------------------

    async def on_shortcut(self, ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        workspace = workspace_id(context.enterprise_id, context.team_id)
        self._background.spawn(self._open(workspace, body), "shortcut_opened")

    async def _why_not(self, workspace: str, channel: str, user: str) -> str | None:
        """The sentence for a shortcut that may not be used here (off, or not allowed)."""
        settings = await self._service.settings_for(PLATFORM, workspace, channel)
        if not settings.enable_shortcuts:
            return await self._gate.said(workspace, user, sentences.SHORTCUT_OFF)
        return await self._gate.refusal(workspace, channel, user)

    async def _open(self, workspace: str, body: dict[str, Any]) -> None:
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        ts = str(message.get("ts") or body.get("message_ts") or "")
        response_url = str(body.get("response_url") or "")
        if not channel or not ts:
            log.warning("slack.shortcut_malformed", channel=channel, ts=ts)
            await _tell(response_url, sentences.SHORTCUT_LOST)
            return
        refusal = await self._why_not(workspace, channel, user)
        if refusal is not None:
            log.info("slack.shortcut_refused", channel=channel, user=user)
            await _tell(response_url, refusal)
            return
        quote = readable_question(str(message.get("text") or ""))
        thread_ts = str(message.get("thread_ts") or "") or None
        metadata = metadata_for(channel, ts, thread_ts, response_url, quote)
        client = await self._clients.for_workspace(workspace)
        try:
            await client.views_open(
                trigger_id=str(body.get("trigger_id") or ""), view=shortcut_modal(quote, metadata)
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            log.warning("slack.shortcut_modal_not_opened", error=error, channel=channel)
            expired = error in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")
            await _tell(
                response_url,
                sentences.SHORTCUT_EXPIRED if expired else sentences.SOMETHING_WENT_WRONG,
            )

    # --- the modal's submission ----------------------------------------------------------

    async def on_submission(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        workspace = workspace_id(context.enterprise_id, context.team_id)
        user = str((body.get("user") or {}).get("id") or "")
        where = parse_metadata(str(view.get("private_metadata") or ""))
        if where is None:
            log.warning("slack.shortcut_metadata_unreadable", view=view.get("id"))
            await _refuse(ack, sentences.SHORTCUT_LOST)
            return
        state = ((view.get("state") or {}).get("values") or {}).get(QUESTION_BLOCK) or {}
        asked = str((state.get(QUESTION_ACTION) or {}).get("value") or "")
        text = quoted_question(where["quote"], asked, self._service.question_max_chars)
        refusal = intake.refusal(intake.clean(text), self._service.question_max_chars)
        if refusal is None:
            refusal = await self._why_not(workspace, where["channel"], user)
        if refusal is not None:
            log.info("slack.shortcut_submission_refused", channel=where["channel"], user=user)
            await _refuse(ack, refusal)
            return
        await ack()
        question = " ".join(intake.clean(asked).split()) or DEFAULT_QUESTION
        self._background.spawn(
            self._answer(workspace, where, user, question, text, str(view.get("id") or "")),
            "shortcut_submitted",
        )

    async def _answer(
        self,
        workspace: str,
        where: dict[str, str],
        user: str,
        question: str,
        text: str,
        view_id: str,
    ) -> None:
        channel = where["channel"]
        root = where["thread_ts"] or where["ts"]
        client = await self._clients.for_workspace(workspace)
        locale = await self._language(workspace, user) if self._language is not None else ""
        asked = render.asked_message(user, question, locale)
        try:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=root, **asked.as_kwargs()
            )
        except SlackApiError as exc:
            log.info("slack.shortcut_cannot_post", error=slack_error(exc), channel=channel)
            sentence = await self._gate.said(workspace, user, sentences.SHORTCUT_CANNOT_POST)
            await _tell(where["response_url"], sentence)
            return
        await self._submit(
            Job(
                key=f"slack:shortcut:{workspace}:{view_id or posted['ts']}",
                question=Question(
                    thread=ThreadKey(PLATFORM, workspace, channel, root),
                    text=text,
                    user_id=user,
                    message_ref=str(posted["ts"]),
                ),
            )
        )


async def _refuse(ack: Ack, sentence: str) -> None:
    """Keep the modal open with ``sentence`` under the question field."""
    await ack(response_action="errors", errors={QUESTION_BLOCK: sentence})


async def _tell(response_url: str, sentence: str) -> None:
    """One ephemeral sentence to the person, through the shortcut's ``response_url``
    (valid for 30 minutes, reference/interaction-payloads/shortcuts)."""
    if not response_url:
        log.warning("slack.shortcut_no_response_url", sentence=sentence[:80])
        return
    message = render.text_message(sentence)
    try:
        await AsyncWebhookClient(response_url).send(
            response_type="ephemeral", replace_original=False, **message.as_kwargs()
        )
    except Exception:
        log.warning("slack.shortcut_note_failed", exc_info=True)
