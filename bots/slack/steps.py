"""Where Slack refused task cards, remembered per workspace across restarts.

Slack documents ``task_update`` chunks on ``chat.startStream``/``appendStream``/
``stopStream`` (docs.slack.dev/reference/methods/chat.startStream, "Using the chunks
parameter"), but no error that says "no task cards here": a workspace (or an older Slack) may
answer a call carrying one with an error. The errors below name the content of a call
(published for ``chat.startStream``: ``invalid_blocks``, ``invalid_blocks_format``,
``msg_blocks_too_long``, ``invalid_arg_name``; and ``invalid_chunks``, ``invalid_arguments``,
unpublished but what a refused argument would plausibly be called). After one of them the
stream goes on without cards (the status and buttons as before), the refusal is logged once
as ``slack.steps_refused`` and recorded as a learned fact
(:class:`core.ports.FactStore`), so no process of the deployment tries cards there again.
A record that cannot be read or written is logged; the process goes on with what it knows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

import structlog

__all__ = ["CHUNK_REFUSALS", "StepsMemory", "steps_fact_name"]

log = structlog.get_logger(__name__)

CHUNK_REFUSALS: Final = frozenset(
    {
        "invalid_chunks",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
    }
)


def steps_fact_name(workspace: str) -> str:
    """The learned fact's name for one workspace (``ThreadKey.workspace``)."""
    return f"slack.steps_refused {workspace}"[:255]


class _Fact(Protocol):
    @property
    def value(self) -> str: ...


class FactRecords(Protocol):
    """What this needs of :class:`core.ports.FactStore`."""

    async def read_fact(self, name: str) -> _Fact | None: ...

    async def record_fact(self, name: str, value: str, seen_at: datetime | None = None) -> None: ...


class StepsMemory:
    """Which workspaces refused task cards: read once per workspace, written once."""

    def __init__(self, facts: FactRecords | None = None) -> None:
        self._facts = facts
        #: workspace → whether it refused cards (as read or seen by this process).
        self._refused: dict[str, bool] = {}

    async def allowed(self, workspace: str) -> bool:
        """Whether task cards may be tried in ``workspace``."""
        known = self._refused.get(workspace)
        if known is None:
            if self._facts is None:
                known = False
            else:
                try:
                    known = await self._facts.read_fact(steps_fact_name(workspace)) is not None
                except Exception as exc:  # tried again with the next answer
                    log.warning("slack.steps_fact_unread", reason=str(exc)[:200])
                    return True
            self._refused[workspace] = known
        return not known

    async def refused(self, workspace: str, error: str) -> None:
        """Slack refused a task card in ``workspace`` with ``error``: no cards there again."""
        if self._refused.get(workspace):
            return
        self._refused[workspace] = True
        log.warning(
            "slack.steps_refused",
            workspace=workspace,
            error=error,
            outcome="streams without task cards, status and buttons as before",
        )
        if self._facts is None:
            return
        try:
            await self._facts.record_fact(steps_fact_name(workspace), error)
        except Exception as exc:
            log.warning("slack.steps_fact_unrecorded", error=error, reason=str(exc)[:200])
