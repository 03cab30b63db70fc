"""The App Home: suggested prompts on the Messages tab, and the Home tab's conversations.

* ``app_home_opened`` with ``tab == "messages"`` (agent view): the suggested prompts are set
  with ``assistant.threads.setSuggestedPrompts`` and ``channel_id`` only, no greeting
  (docs.slack.dev/ai/migrating-to-agent-messaging/).
* ``tab == "home"``: ``views.publish`` of the person's recent conversations (first question,
  when, a ``chat.getPermalink`` link to the thread), each with **History** (a modal opened
  with ``views.open`` at once, as the click's ``trigger_id`` expires in 3 seconds, then filled
  with ``views.update`` once Gloo answered) and **Start over** (the reset, then the Home tab
  is published again). Workspace admins and owners (``users.info``) also see the stored
  settings, read-only.

Links come from ``chat.getPermalink`` (reference/methods/chat.getPermalink: "handles message
threads and all conversation types"), not built by hand: a built link needs the workspace's
domain, which the bot does not know. Every Slack call here degrades: a permalink Slack will
not give is left out, a failed ``users.info`` shows no admin part, and each failure is logged.
"""

from __future__ import annotations

import asyncio

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack import messages as sentences
from bots.slack import render
from bots.slack.access import SlackAdmins, requester
from bots.slack.clients import WebClients
from bots.slack.responder import slack_error
from core.access import NotAllowed
from core.service import AnswerFailed, ConversationService
from core.types import ChannelSettings, ThreadKey

log = structlog.get_logger(__name__)

PLATFORM = "slack"
#: How many conversations the Home tab lists.
HOME_CONVERSATIONS = 10


class HomeTab:
    def __init__(
        self, service: ConversationService, clients: WebClients, people: SlackAdmins
    ) -> None:
        self._service = service
        self._clients = clients
        #: users.info (cached): who is an admin, and each person's language.
        self._people = people

    # --- the Messages tab ------------------------------------------------------------------

    async def set_prompts(self, workspace: str, channel: str) -> None:
        client = await self._clients.for_workspace(workspace)
        try:
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                prompts=[{"title": t, "message": m} for t, m in sentences.ASSISTANT_PROMPTS],
            )
        except SlackApiError as exc:
            log.warning("slack.suggested_prompts_failed", error=slack_error(exc), channel=channel)

    # --- the Home tab ----------------------------------------------------------------------

    async def publish(self, workspace: str, user: str, note: str = "") -> None:
        client = await self._clients.for_workspace(workspace)
        summaries = await self._service.recent_conversations(
            PLATFORM, workspace, user, HOME_CONVERSATIONS
        )
        links, admin = await asyncio.gather(
            asyncio.gather(*(self._permalink(client, s.thread) for s in summaries)),
            self._admin_settings(workspace, user),
        )
        locale = await self._people.locale(workspace, user)  # the same users.info, cached
        conversations = [
            render.HomeConversation(
                channel=s.thread.channel,
                thread=s.thread.thread,
                first_question=s.first_question,
                started_at=s.started_at.timestamp(),
                questions=s.questions,
                permalink=link,
            )
            for s, link in zip(summaries, links, strict=True)
        ]
        view = render.home_view(conversations, admin, note, locale)
        await client.views_publish(user_id=user, view=view)
        log.info("slack.home_published", conversations=len(conversations), admin=admin is not None)

    async def _permalink(self, client: AsyncWebClient, thread: ThreadKey) -> str | None:
        if not thread.thread:
            return None  # a DM's one conversation (assistant view) has no thread to link
        try:
            response = await client.chat_getPermalink(
                channel=thread.channel, message_ts=thread.thread
            )
        except SlackApiError as exc:
            log.info("slack.permalink_unavailable", error=slack_error(exc), thread=thread.as_str())
            return None
        link = response.get("permalink")
        return str(link) if link else None

    async def _admin_settings(
        self, workspace: str, user: str
    ) -> list[tuple[str, list[tuple[str, str]]]] | None:
        """The workspace's settings for admins and owners; ``None`` for everyone else (and
        when ``users.info`` fails: it is logged)."""
        if not await self._people.is_admin(workspace, user):
            return None
        stored = await self._service.stored_settings(PLATFORM, workspace)
        workspace_settings = stored.pop("", self._service.defaults)
        # The scope labels are localized by render.home_view.
        scopes: list[tuple[str, ChannelSettings]] = [
            (sentences.HOME_ADMIN_WORKSPACE, workspace_settings)
        ]
        scopes += [(sentences.HOME_ADMIN_CHANNEL.format(id=c), s) for c, s in stored.items()]
        return [(label, self._service.describe_settings(s)) for label, s in scopes]

    # --- the buttons -------------------------------------------------------------------------

    async def _owned(self, workspace: str, user: str, value: str) -> ThreadKey | None:
        parsed = render.parse_thread_ref(value)
        if parsed is None:
            log.info("slack.home_bad_ref", value=value[:80])
            return None
        thread = ThreadKey(PLATFORM, workspace, *parsed)
        if await self._service.conversation_of(thread, user) is None:
            log.info("slack.home_unknown_conversation", thread=thread.as_str())
            return None
        return thread

    async def open_history(self, workspace: str, user: str, value: str, trigger_id: str) -> None:
        client = await self._clients.for_workspace(workspace)
        locale = await self._people.locale(workspace, user)
        # Open first: the trigger_id is only valid for 3 seconds, Gloo may take longer.
        opened = await client.views_open(
            trigger_id=trigger_id, view=render.notice_modal(sentences.HISTORY_LOADING, locale)
        )
        view_id = str((opened.get("view") or {}).get("id", ""))
        thread = await self._owned(workspace, user, value)
        if thread is None:
            view = render.notice_modal(sentences.HOME_UNKNOWN, locale)
        else:
            try:
                history = await self._service.history(
                    thread, requester=requester(thread.channel, user)
                )
            except (AnswerFailed, NotAllowed) as exc:
                view = render.notice_modal(exc.user_message, locale)
            else:
                if history is None or not history.messages:
                    view = render.notice_modal(sentences.NO_HISTORY, locale)
                else:
                    view = render.history_modal(history, viewer=user, locale=locale)
        await client.views_update(view_id=view_id, view=view)

    async def start_over(self, workspace: str, user: str, value: str) -> None:
        thread = await self._owned(workspace, user, value)
        if thread is None:
            await self.publish(workspace, user, note=sentences.HOME_UNKNOWN)
            return
        try:
            await self._service.reset(thread, requester=requester(thread.channel, user))
        except NotAllowed as exc:
            await self.publish(workspace, user, note=exc.user_message)
            return
        await self.publish(workspace, user, note=sentences.HOME_RESET_DONE)
