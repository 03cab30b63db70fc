"""One refusal note per person per window: a refused or over-quota person is told once.

Someone the access lists refuse, or who is over a usage limit, used to get the refusal
sentence for every message they sent: a person (or a script) writing fifty messages got
fifty replies. The first refusal in :data:`NOTE_WINDOW_SECONDS` is told; later ones in the
window are ignored quietly, with a ``refusal.note_suppressed`` log line. Explicit slash
commands and button clicks still get their one ephemeral reply (the platform waits for an
answer to an interaction, and only the person sees it).

The state is kept in memory, per process (at most :data:`MAX_PEOPLE` people, the oldest
forgotten first): with several processes a person may be told once by each, and a restart
forgets who was told. That bounds the notes without a database write per refusal.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import structlog

__all__ = ["MAX_PEOPLE", "NOTE_WINDOW_SECONDS", "RefusalNotes"]

log = structlog.get_logger(__name__)

#: Seconds after a refusal note during which the same person is not told again.
NOTE_WINDOW_SECONDS: Final = 600.0
#: People remembered per process.
MAX_PEOPLE: Final = 10_000


class RefusalNotes:
    """Decides whether a refusal is told (:meth:`due`) or ignored quietly."""

    def __init__(
        self,
        *,
        window: float = NOTE_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_people: int = MAX_PEOPLE,
    ) -> None:
        self._window = window
        self._clock = clock
        self._max_people = max_people
        self._told: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def due(self, platform: str, workspace: str, user_id: str, reason: str) -> bool:
        """True when this person gets a note now (and it is remembered), False when one was
        given within the window (logged as suppressed)."""
        now = self._clock()
        while self._told:  # oldest first: forget everyone whose window has passed
            person, at = next(iter(self._told.items()))
            if now - at < self._window:
                break
            del self._told[person]
        person = (platform, workspace, user_id)
        if person in self._told:
            log.info(
                "refusal.note_suppressed",
                platform=platform,
                workspace=workspace,
                user=user_id,
                reason=reason,
            )
            return False
        self._told[person] = now
        while len(self._told) > self._max_people:
            self._told.popitem(last=False)
        return True
