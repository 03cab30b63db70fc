"""People edit and delete the messages they asked the bot (issue 22, parts 1 and 2).

An adapter hands each edit or deletion of a person's message to :class:`QuestionChanges`,
named by the job key the message's question was accepted under (so a platform's
redelivery of the same change, or a change of a message that was never a question, does
nothing). What happens (the store's half is :mod:`core.store.changes`):

* **an edit before the answer has started** replaces the question that is asked (a part of
  a burst too);
* **an edit while it is being answered, or after**, keeps the answer and offers one small
  action beneath it, "You edited your question — ask this instead?", a suggestion button
  (:class:`EditOffers`, the platform's side) that asks the edited text in the same
  conversation when clicked, exactly as any suggestion is asked. Never a silent second
  answer; offered once;
* **a deletion of a question not answered yet** withdraws it (kept in the inbox as
  ``withdrawn``, never asked); while it is being answered the answer is stopped
  (:mod:`core.stopping`); an answered question stays answered;
* **a deleted thread root** withdraws the thread's open questions, stopping the one being
  written;
* **a deleted bot answer** is forgotten, so recovering a re-driven question never edits it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import structlog

from core import intake
from core.ports import Change, ChangeStore
from core.types import ThreadKey

__all__ = ["Answering", "EditOffers", "QuestionChanges"]

log = structlog.get_logger(__name__)


@runtime_checkable
class EditOffers(Protocol):
    """The optional capability of a platform's responder that offers edited questions."""

    async def offer_edit(
        self, thread: ThreadKey, user_id: str, text: str, ref: str, *, locale: str = ""
    ) -> None:
        """Post :data:`core.messages.EDIT_OFFER` (in ``locale``, the asker's language) in
        ``thread`` for ``user_id`` with one suggestion button showing ``text`` and carrying
        ``ref`` (a suggestion ref)."""
        ...


class Answering(Protocol):
    """What changes need of the answering side (:class:`core.delivery.Dispatcher`)."""

    def withdrawn(self, change: Change) -> None:
        """Stop the withdrawn question's answer if written here; start the thread's next."""
        ...

    def offer_soon(self, change: Change) -> None:
        """Offer ``change``'s edited question beneath its answer, in the background (the
        platform's event is acknowledged meanwhile)."""
        ...


class QuestionChanges:
    """Edits and deletions of asked messages, from any adapter."""

    def __init__(self, store: ChangeStore, dispatcher: Answering) -> None:
        self._store = store
        self._dispatcher = dispatcher

    async def edited(self, key: str, text: str) -> Change:
        """The message of job ``key`` now reads ``text`` (already without the bot's mention,
        as the adapter makes a question of it)."""
        text = intake.clean(text)
        if intake.is_blank(text):
            log.info("edit.blank_ignored", job=key)
            return Change("unchanged", key)
        change = await self._store.edit_question(key, text)
        log.info("edit.received", job=key, outcome=change.outcome, question=change.key)
        if change.outcome == "offer":
            self._dispatcher.offer_soon(change)
        return change

    async def deleted(self, key: str, *, root: ThreadKey | None = None) -> list[Change]:
        """The message of job ``key`` was deleted; with ``root``, it was the root of that
        thread, whose open questions are withdrawn too."""
        changes = [await self._store.delete_question(key)]
        if root is not None:
            changes.extend(await self._store.withdraw_thread(root))
        for change in changes:
            log.info("delete.received", job=key, outcome=change.outcome, question=change.key)
            if change.outcome in ("withdrawn", "stopped"):
                self._dispatcher.withdrawn(change)
        return changes

    async def answer_deleted(self, thread: ThreadKey, message_id: str) -> bool:
        """The bot's message ``message_id`` in ``thread`` was deleted: forget it."""
        forgot = await self._store.forget_posted(thread, message_id)
        log.info("delete.answer_message", thread=thread.as_str(), forgot=forgot)
        return forgot
