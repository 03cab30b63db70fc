"""Slack requests in, jobs out: bolt listeners for events, buttons, ``/gloo`` and the assistant.

The app runs with ``process_before_response``: a listener's return is the acknowledgement.
Events are acknowledged once their question is committed to the dispatcher's inbox (a
quick database write; if it fails Slack gets an error and redelivers), so nothing
acknowledged is lost. Anything slow — Web API calls, Gloo — happens after the
acknowledgement, in :class:`~bots.slack.background.Background` tasks or in the dispatcher.
Answers always go through :meth:`core.delivery.Dispatcher.submit`.

Thread keys: ``ThreadKey("slack", team (or enterprise:team), channel, thread_ts)``. A
channel mention starts (or continues) the thread of its message. In direct messages it
depends on the app's messaging experience (``SLACK_MESSAGING``):

* **agent view** (``features.agent_view``, every new app): each top-level DM message is a
  thread root and is answered in that thread (``thread_ts = event.thread_ts or event.ts``,
  docs.slack.dev/ai/migrating-to-agent-messaging/); a reply in the thread continues its
  chat. ``message.im`` is handled here directly: bolt's ``Assistant`` only serves the older
  view. Suggested prompts are set when the Messages tab opens (``app_home_opened``).
* **assistant view** (``features.assistant_view``, older apps): bolt's ``Assistant`` handles
  its threads (greeting and prompts on ``assistant_thread_started``); a top-level DM
  continues the DM's one conversation (thread ``""``) until ``/gloo reset``.

``app_home_opened`` with ``tab == "home"`` publishes the Home tab (:mod:`bots.slack.home`).
The message shortcut "Ask Gloo about this" is :mod:`bots.slack.shortcuts`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Final

import structlog
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.ignoring_self_events.async_ignoring_self_events import (
    AsyncIgnoringSelfEvents,
)
from slack_sdk.errors import SlackApiError

from bots.slack import messages as sentences
from bots.slack import render
from bots.slack.access import SlackAdmins, SlackGate, access_command, requester, with_history
from bots.slack.background import Background
from bots.slack.clients import WebClients, workspace_id
from bots.slack.commands import parse_command, parse_settings_change, readable_question
from bots.slack.home import HomeTab
from bots.slack.responder import slack_error
from bots.slack.shortcuts import SlackShortcuts
from core.access import NotAllowed
from core.bursts import Burst, burst_scope
from core.delivery import Dispatcher, Job
from core.edits import QuestionChanges
from core.i18n import localize
from core.service import AnswerFailed, ClickElsewhere, ConversationService, UnknownSuggestion
from core.types import Question, ThreadKey

log = structlog.get_logger(__name__)

PLATFORM = "slack"
#: Seconds a question waits for its asker's language (users.info, Tier 4) before it goes on
#: in English: the answer must not wait long for the bot's own words.
LOCALE_BUDGET_S: Final = 1.0
#: Message subtypes that are still a person writing to us.
USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})

Respond = Callable[..., Awaitable[Any]]


def workspace_of(context: AsyncBoltContext) -> str:
    return workspace_id(context.enterprise_id, context.team_id)


def clean_text(text: str, bot_user_id: str | None) -> str:
    """The question without the bot's own mention, with Slack's escapes undone."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split(" ")).strip()


def message_job_key(workspace: str, channel: str, ts: str) -> str:
    """One key per Slack message, so redeliveries and app_mention + message dedupe."""
    return f"slack:{workspace}:{channel}:{ts}"


class KeepOwnDeletions(AsyncIgnoringSelfEvents):
    """Bolt's filter of the bot's own events (they never reach a listener), except that a
    deletion of one of the bot's messages does: an answer someone deleted is forgotten
    (core/edits.py). Registered in place of bolt's built-in one."""

    @classmethod
    def _is_self_event(
        cls,
        auth_result: AuthorizeResult,
        user_id: str | None,
        bot_id: str | None,
        body: dict[str, Any],
    ) -> bool:
        event = body.get("event")
        if isinstance(event, dict) and event.get("subtype") == "message_deleted":
            return False
        return bool(super()._is_self_event(auth_result, user_id, bot_id, body))


class SlackHandlers:
    def __init__(
        self,
        dispatcher: Dispatcher,
        service: ConversationService,
        clients: WebClients,
        background: Background,
        *,
        messaging: str = "agent",
        changes: QuestionChanges | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        #: Edits and deletions of asked messages (core/edits.py); None: they are ignored.
        self._changes = changes
        self._service = service
        self._clients = clients
        self._background = background
        #: "agent" (agent view) or "assistant" (the older assistant view).
        self._messaging = messaging
        #: users.info (admins, and each person's language), cached for a minute.
        self._admins = SlackAdmins(clients)
        self._home = HomeTab(service, clients, self._admins)
        self._gate = SlackGate(service, clients, background, self._admins)
        self._shortcuts = SlackShortcuts(
            service, clients, background, self._gate, self._submit, language=self.locale
        )

    @property
    def agent_view(self) -> bool:
        return self._messaging == "agent"

    def register(self, app: AsyncApp, *, assistant: bool = True) -> None:
        app.use(KeepOwnDeletions(base_logger=app.logger))
        if assistant and not self.agent_view:
            view = AsyncAssistant()
            view.thread_started(self.on_assistant_thread_started)
            view.thread_context_changed(self.on_assistant_context_changed)
            view.user_message(self.on_assistant_message)
            app.assistant(view)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        app.action(re.compile(rf"^{render.SUGGEST_ACTION}:"))(self.on_suggestion)
        # gloo_feedback: the native feedback_buttons; gloo_feedback:up/down: older messages.
        app.action(re.compile(rf"^{render.FEEDBACK_ACTION}(?::(?:up|down))?$"))(self.on_feedback)
        app.action(render.HOME_HISTORY_ACTION)(self.on_home_history)
        app.action(render.HOME_RESET_ACTION)(self.on_home_reset)
        app.action(re.compile(rf"^{render.SOURCE_ACTION}:"))(self.on_source)
        app.command("/gloo")(self.on_command)
        self._shortcuts.register(app)  # "Ask Gloo about this" (bots/slack/shortcuts.py)

    # --- events ------------------------------------------------------------------------------

    async def on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
            return
        if not event.get("user") or event.get("user") == context.bot_user_id:
            return
        ts = str(event["ts"])
        thread_ts = event.get("thread_ts")
        workspace = workspace_of(context)
        # A mention in a thread may join a burst there (the channel window: off by default);
        # a top-level mention starts a thread of its own.
        burst = _burst(workspace, event, str(thread_ts), direct=False) if thread_ts else None
        await self._submit_message(
            workspace, event, thread=str(thread_ts or ts), context=context, burst=burst
        )

    async def on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        subtype = event.get("subtype")
        if subtype == "message_changed":
            await self._edited(event, context)
            return
        if subtype == "message_deleted":
            await self._deleted(event, context)
            return
        if not _from_a_person(event, context):
            log.debug("slack.message_ignored", subtype=event.get("subtype"))
            return
        thread_ts = event.get("thread_ts")
        if event.get("channel_type") == "im":
            # Agent view: a top-level DM is the root of its own thread, answered there.
            root = str(event["ts"]) if self.agent_view else ""
            workspace = workspace_of(context)
            # A burst of top-level DMs (each its own thread in agent view) is one question,
            # answered in the first one's thread; replies in a thread burst in that thread.
            burst = _burst(workspace, event, str(thread_ts or TOP_LEVEL), direct=True)
            await self._submit_message(
                workspace, event, thread=str(thread_ts or root), context=context, burst=burst
            )
            return
        if not thread_ts:
            return  # top-level channel chatter; mentions arrive as app_mention
        if context.bot_user_id and f"<@{context.bot_user_id}" in str(event.get("text", "")):
            return  # a mention: app_mention answers it (same job key anyway)
        await self._follow_up(workspace_of(context), event, str(thread_ts), context.bot_user_id)

    # --- edits and deletions (core/edits.py) -----------------------------------------------

    async def _edited(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """``message_changed`` (docs.slack.dev/reference/events/message/message_changed):
        ``message`` is the message now, ``previous_message`` as it was. Only a person's
        changed text is an edit: a bot's (our own answers streaming) and changes that keep
        the text (a reply added under a root, an unfurl) are ignored before any read. A root
        with replies that is deleted becomes a ``tombstone``: a deletion."""
        message = event.get("message")
        if self._changes is None or not isinstance(message, dict) or message.get("bot_id"):
            return
        ts, channel = str(message.get("ts") or ""), str(event.get("channel") or "")
        if not ts or not channel:
            return
        if message.get("subtype") == "tombstone":
            await self._question_deleted(workspace_of(context), channel, ts)
            return
        user = message.get("user")
        previous = event.get("previous_message")
        before = previous.get("text") if isinstance(previous, dict) else None
        if not user or user == context.bot_user_id or before == message.get("text"):
            return
        workspace = workspace_of(context)
        text = clean_text(str(message.get("text", "")), context.bot_user_id)
        await self._changes.edited(message_job_key(workspace, channel, ts), text)

    async def _deleted(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """``message_deleted`` (docs.slack.dev/reference/events/message/message_deleted):
        ``deleted_ts`` names the message, ``previous_message`` is what it was. The bot's own
        message (an answer) is forgotten; a person's withdraws its question and, if it was a
        thread's root, the thread's open questions."""
        deleted, channel = str(event.get("deleted_ts") or ""), str(event.get("channel") or "")
        if self._changes is None or not deleted or not channel:
            return
        workspace = workspace_of(context)
        previous = event.get("previous_message")
        previous = previous if isinstance(previous, dict) else {}
        if previous.get("bot_id") or (
            context.bot_user_id and previous.get("user") == context.bot_user_id
        ):
            thread = ThreadKey(PLATFORM, workspace, channel, str(previous.get("thread_ts") or ""))
            await self._changes.answer_deleted(thread, deleted)
            return
        await self._question_deleted(workspace, channel, deleted)

    async def _question_deleted(self, workspace: str, channel: str, ts: str) -> None:
        assert self._changes is not None
        await self._changes.deleted(
            message_job_key(workspace, channel, ts),
            root=ThreadKey(PLATFORM, workspace, channel, ts),
        )

    async def _follow_up(
        self, workspace: str, event: dict[str, Any], thread_ts: str, bot_user_id: str | None
    ) -> None:
        thread = ThreadKey(PLATFORM, workspace, str(event["channel"]), thread_ts)
        if not await self._dispatcher.is_active(thread):
            log.debug("slack.unrelated_thread_ignored", thread=thread.as_str())
            return
        key = message_job_key(workspace, thread.channel, str(event["ts"]))
        user = str(event.get("user", ""))
        language = self._locale_soon(workspace, user)
        if await self._gate.refused(workspace, thread.channel, user, key=key, thread_ts=thread_ts):
            language.cancel()
            return
        await self._submit(
            Job(
                key=key,
                question=Question(
                    thread=thread,
                    text=clean_text(str(event.get("text", "")), bot_user_id),
                    user_id=str(event.get("user", "")),
                    message_ref=str(event["ts"]),
                ),
            ),
            _burst(workspace, event, thread_ts, direct=False),
            language=language,
        )

    async def _submit_message(
        self,
        workspace: str,
        event: dict[str, Any],
        *,
        thread: str,
        context: AsyncBoltContext,
        burst: Burst | None = None,
    ) -> None:
        channel, ts = str(event["channel"]), str(event["ts"])
        key, user = message_job_key(workspace, channel, ts), str(event.get("user", ""))
        in_thread = str(event["thread_ts"]) if event.get("thread_ts") else None
        language = self._locale_soon(workspace, user)
        if await self._gate.refused(workspace, channel, user, key=key, thread_ts=in_thread):
            language.cancel()
            return
        await self._submit(
            Job(
                key=key,
                question=Question(
                    thread=ThreadKey(PLATFORM, workspace, channel, thread),
                    text=clean_text(str(event.get("text", "")), context.bot_user_id),
                    user_id=str(event.get("user", "")),
                    message_ref=ts,
                ),
            ),
            burst,
            language=language,
        )

    def _locale_soon(self, workspace: str, user: str) -> asyncio.Task[str]:
        """:meth:`locale`, started now: Slack's answer overlaps the access check."""
        return asyncio.ensure_future(self.locale(workspace, user))  # no user: "" at once

    async def _submit(
        self, job: Job, burst: Burst | None = None, *, language: asyncio.Task[str] | None = None
    ) -> bool:
        question = job.question
        if not question.locale and (question.user_id or language is not None):
            # The asker's Slack language, for the bot's own words about this question.
            if language is not None:
                locale = await language
            else:
                locale = await self.locale(question.thread.workspace, question.user_id)
            job = replace(job, question=replace(question, locale=locale))
        try:
            return await self._dispatcher.submit(job, burst=burst)
        except RuntimeError:  # shutting down: Slack was acknowledged, say so in the log
            log.warning("slack.job_dropped_at_shutdown", job=job.key)
            return False

    async def locale(self, workspace: str, user: str) -> str:
        """``user``'s Slack language (``users.info``, cached), within
        :data:`LOCALE_BUDGET_S`; ``""`` (English) when Slack does not say in time."""
        try:
            return await asyncio.wait_for(self._admins.locale(workspace, user), LOCALE_BUDGET_S)
        except TimeoutError:
            log.info("slack.locale_unknown", workspace=workspace, user=user)
            return ""
        except Exception:  # the language is a nicety: never the reason a question is lost
            log.warning("slack.locale_failed", workspace=workspace, user=user, exc_info=True)
            return ""

    # --- assistant view ------------------------------------------------------------------------

    async def on_assistant_thread_started(
        self,
        say: Callable[..., Awaitable[Any]],
        set_suggested_prompts: Callable[..., Awaitable[Any]],
    ) -> None:
        async def welcome() -> None:
            await say(text=sentences.ASSISTANT_GREETING)
            await set_suggested_prompts(
                prompts=[{"title": t, "message": m} for t, m in sentences.ASSISTANT_PROMPTS]
            )

        self._background.spawn(welcome(), "assistant_thread_started")

    async def on_assistant_context_changed(self) -> None:
        """We do not use the channel the user is viewing; nothing to store."""

    async def on_assistant_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        if not _from_a_person(event, context):
            return
        workspace, thread_ts = workspace_of(context), str(event.get("thread_ts") or "")
        burst = _burst(workspace, event, thread_ts or TOP_LEVEL, direct=True)
        await self._submit_message(workspace, event, thread=thread_ts, context=context, burst=burst)

    # --- the App Home ----------------------------------------------------------------------------

    async def on_home_opened(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
        workspace = workspace_of(context)
        if event.get("tab") == "messages":
            if self.agent_view and channel:
                self._background.spawn(self._home.set_prompts(workspace, channel), "prompts")
            return
        if event.get("tab") == "home" and user:
            self._background.spawn(self._home.publish(workspace, user), "home_opened")

    async def on_home_history(
        self,
        ack: Callable[[], Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        work = self._home.open_history(
            workspace_of(context),
            str((body.get("user") or {}).get("id", "")),
            str(action.get("value") or ""),
            str(body.get("trigger_id") or ""),
        )
        self._background.spawn(work, "home_history")

    async def on_home_reset(
        self,
        ack: Callable[[], Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        work = self._home.start_over(
            workspace_of(context),
            str((body.get("user") or {}).get("id", "")),
            str(action.get("value") or ""),
        )
        self._background.spawn(work, "home_reset")

    # --- buttons -------------------------------------------------------------------------------

    async def on_suggestion(
        self,
        ack: Callable[[], Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        self._background.spawn(
            self._suggestion(body, action, respond, workspace_of(context)), "suggestion_click"
        )

    async def _suggestion(
        self, body: dict[str, Any], action: dict[str, Any], respond: Respond, workspace: str
    ) -> None:
        ref = str(action.get("value") or "")
        user = str(body.get("user", {}).get("id", ""))
        channel = _clicked_in(body)
        refusal = await self._gate.refusal(workspace, channel, user)
        if refusal is not None:
            await _ephemeral(respond, refusal)
            return
        try:
            click = await self._service.resolve_suggestion(
                ref, where=ThreadKey(PLATFORM, workspace, channel)
            )
        except UnknownSuggestion as exc:
            await respond(text=exc.user_message, response_type="ephemeral", replace_original=False)
            return
        client = await self._clients.for_workspace(click.thread.workspace)
        asked = render.asked_message(user, click.text, await self.locale(workspace, user))
        posted = await client.chat_postMessage(
            channel=click.thread.channel, thread_ts=click.thread.thread or None, **asked.as_kwargs()
        )
        container = body.get("container") or {}
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts", "")
        await self._submit(
            Job(
                key=f"slack:action:{message_ts}:{action.get('action_ts', '')}",
                question=Question(
                    thread=click.thread,
                    text=click.text,
                    user_id=user,
                    message_ref=str(posted["ts"]),
                ),
                chat_id=click.chat_id,
            )
        )

    async def on_feedback(
        self,
        ack: Callable[[], Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        self._background.spawn(
            self._feedback(body, action, respond, workspace_of(context)), "feedback_click"
        )

    async def _feedback(
        self, body: dict[str, Any], action: dict[str, Any], respond: Respond, workspace: str
    ) -> None:
        action_id, raw = str(action.get("action_id", "")), str(action.get("value", ""))
        if action_id == render.FEEDBACK_ACTION:  # feedback_buttons: "up:<id>" / "down:<id>"
            vote, _, answer_id = raw.partition(":")
        else:  # the two buttons of older messages: "gloo_feedback:up", value "<id>"
            vote, answer_id = action_id.rpartition(":")[2], raw
        user = str(body.get("user", {}).get("id", ""))
        if vote not in ("up", "down") or not answer_id:
            log.info("slack.feedback_malformed", action_id=action_id, value=raw[:80])
            known = False
        else:
            value = 1 if vote == "up" else -1
            where = ThreadKey(PLATFORM, workspace, _clicked_in(body))
            try:
                known = await self._service.record_feedback(
                    answer_id, user, value, where=where, requester=requester(where.channel, user)
                )
            except (ClickElsewhere, NotAllowed) as exc:
                locale = await self.locale(workspace, user)
                await _ephemeral(respond, localize(exc.user_message, locale))
                return
        sentence = sentences.FEEDBACK_THANKS if known else sentences.FEEDBACK_UNKNOWN
        text = localize(sentence, await self.locale(workspace, user))
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def on_source(self, ack: Callable[[], Awaitable[Any]]) -> None:
        """Link buttons open in the browser; Slack still sends the click, which needs an ack."""
        await ack()

    # --- /gloo ---------------------------------------------------------------------------------

    async def on_command(
        self,
        ack: Callable[..., Awaitable[Any]],
        command: dict[str, Any],
        respond: Respond,
        context: AsyncBoltContext,
    ) -> None:
        parsed = parse_command(str(command.get("text", "")))
        if parsed.name == "help":
            await ack(text=sentences.HELP, response_type="ephemeral")
            return
        await ack()
        self._background.spawn(
            self._command(parsed.name, parsed.argument, command, respond, workspace_of(context)),
            f"command_{parsed.name}",
        )

    async def _command(
        self, name: str, argument: str, command: dict[str, Any], respond: Respond, workspace: str
    ) -> None:
        channel = str(command.get("channel_id", ""))
        user = str(command.get("user_id", ""))
        in_dm = channel.startswith("D")
        conversation = ThreadKey(PLATFORM, workspace, channel, "")
        locale = await self.locale(workspace, user) if name in ("reset", "history") else ""
        if name == "ask":
            await self._command_ask(argument, command, respond, workspace, in_dm)
        elif name == "reset":
            if in_dm and self.agent_view:
                await _ephemeral(respond, sentences.RESET_DM_AGENT, locale=locale)
                return
            try:
                await self._service.reset(conversation, requester=requester(channel, user))
            except NotAllowed as exc:
                await _ephemeral(respond, exc.user_message, locale=locale)
                return
            await _ephemeral(
                respond, sentences.RESET_DM if in_dm else sentences.RESET_CHANNEL, locale=locale
            )
        elif name == "history":
            if in_dm and self.agent_view:
                await _ephemeral(respond, sentences.HISTORY_DM_AGENT, locale=locale)
                return
            if not in_dm:
                await _ephemeral(respond, sentences.HISTORY_IN_CHANNEL, locale=locale)
                return
            try:
                history = await self._service.history(
                    conversation, requester=requester(channel, user)
                )
            except (AnswerFailed, NotAllowed) as exc:
                await _ephemeral(respond, exc.user_message, locale=locale)
                return
            if history is None or not history.messages:
                await _ephemeral(respond, sentences.NO_HISTORY, locale=locale)
                return
            await _ephemeral(respond, message=render.history_message(history, viewer=user))
        elif name == "settings":
            await self._command_settings(argument, respond, workspace, channel, user)
        elif name == "access":
            message = await access_command(
                self._service, self._admins, argument, workspace, channel, user
            )
            await _ephemeral(respond, message=message)
        else:  # pragma: no cover - parse_command only returns known names
            log.warning("slack.unknown_command", name=name, user=user)

    async def _command_ask(
        self,
        question: str,
        command: dict[str, Any],
        respond: Respond,
        workspace: str,
        in_dm: bool,
    ) -> None:
        # Gloo reads people, channels and links as a person sees them, not Slack's tokens.
        question = readable_question(question).strip()
        if not question:
            locale = await self.locale(workspace, str(command.get("user_id", "")))
            await _ephemeral(respond, sentences.ASK_WHAT, locale=locale)
            return
        channel, user = str(command["channel_id"]), str(command.get("user_id", ""))
        refusal = await self._gate.refusal(workspace, channel, user)
        if refusal is not None:
            await _ephemeral(respond, refusal)
            return
        client = await self._clients.for_workspace(workspace)
        asked = render.asked_message(user, question, await self.locale(workspace, user))
        try:
            posted = await client.chat_postMessage(channel=channel, **asked.as_kwargs())
        except SlackApiError as exc:
            log.info("slack.command_ask_cannot_post", error=slack_error(exc), channel=channel)
            locale = await self.locale(workspace, user)
            await _ephemeral(respond, localize(sentences.NOT_IN_CHANNEL, locale))
            return
        ts = str(posted["ts"])
        thread = ThreadKey(
            PLATFORM, workspace, channel, "" if in_dm and not self.agent_view else ts
        )
        await self._submit(
            Job(
                key=message_job_key(workspace, channel, ts),
                question=Question(thread=thread, text=question, user_id=user, message_ref=ts),
            )
        )

    async def _command_settings(
        self, argument: str, respond: Respond, workspace: str, channel: str, user: str
    ) -> None:
        note = ""
        if argument:
            try:
                changes = parse_settings_change(argument)
                await self._service.update_settings(
                    PLATFORM, workspace, channel, by=user, admins=self._admins, **changes
                )
            except ValueError as exc:
                await _ephemeral(respond, sentences.SETTINGS_BAD.format(reason=exc))
                return
            except NotAllowed as exc:
                note = exc.user_message
            else:
                note = sentences.SETTINGS_SAVED
        current = await self._service.settings_for(PLATFORM, workspace, channel)
        lines = self._service.describe_settings(current)
        history = await self._service.access.history(PLATFORM, workspace, [channel])
        await _ephemeral(
            respond, message=with_history(render.settings_message(lines, note), history)
        )


def _clicked_in(body: dict[str, Any]) -> str:
    """The channel a block action was clicked in (``channel.id``, else the container's)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel or "")


#: The conversation of top-level DMs in :func:`_burst` (a thread's is its ``thread_ts``).
TOP_LEVEL: Final = "@top"


def _burst(workspace: str, event: dict[str, Any], conversation: str, *, direct: bool) -> Burst:
    """The burst ``event``'s message may join: its sender's in ``conversation``."""
    scope = burst_scope(
        PLATFORM, workspace, f"{event['channel']}:{conversation}", str(event.get("user", ""))
    )
    return Burst(scope, direct)


def _from_a_person(event: dict[str, Any], context: AsyncBoltContext) -> bool:
    """A new message by a person: no edits, deletions, joins, bots or our own posts."""
    if event.get("subtype") not in USER_SUBTYPES or event.get("bot_id"):
        return False
    user = event.get("user")
    return bool(user) and user != context.bot_user_id


async def _ephemeral(
    respond: Respond,
    text: str = "",
    *,
    message: render.SlackMessage | None = None,
    locale: str = "",
) -> None:
    """One ephemeral reply: ``text`` (in ``locale``, the person's) or a built ``message``."""
    message = message or render.text_message(localize(text, locale))
    await respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
