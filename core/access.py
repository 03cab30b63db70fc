"""Who may change and use what: admin rules, access lists and the audit trail.

* **Settings and access lists** are changed only by a workspace's administrators — what an
  administrator is, each platform says through an :class:`AdminCheck` (Slack: workspace
  admins and owners from ``users.info``; Discord: members with Manage Server) — or by the
  people named in the ``SETTINGS_ADMINS`` setting. In a direct message outside any
  organisation (Discord's ``"@dm"``) the person is the only one concerned and may change it.
  Every change is stored with who made it and when (:class:`~core.types.AuditEntry`).
* **Access lists** per workspace allow or block users, channels and (Discord) roles. A blocked
  user, role or channel is always refused; when a workspace allows some users or roles, only
  they are answered, and when it allows some channels, only those channels are (direct
  messages are not channels: only the people lists apply there). A refused person gets one
  polite sentence and Gloo is never asked.

Rules are read from the store and cached for :data:`CACHE_SECONDS` per process, so a change
made in another process applies within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Protocol

import structlog

from core import messages
from core.notices import RefusalNotes
from core.ports import AccessStore
from core.text import ellipsize
from core.types import ACCESS_EFFECTS, ACCESS_KINDS, PERSONAL_PREFIX, AccessRule, AuditEntry

__all__ = [
    "CACHE_SECONDS",
    "MAX_RULES",
    "AccessLists",
    "AccessPolicy",
    "AdminCheck",
    "NotAllowed",
    "Requester",
    "describe_audit",
]

log = structlog.get_logger(__name__)

#: Seconds a process keeps a workspace's access lists before reading them again.
CACHE_SECONDS: Final = 5.0
#: Entries a workspace's access lists can hold (all kinds together).
MAX_RULES: Final = 500
#: Characters of one change shown in a list of recent changes (the store keeps it whole).
CHANGE_SHOWN_CHARS: Final = 200


class AdminCheck(Protocol):
    """A platform's answer to "is this person an administrator of this workspace?"."""

    async def is_admin(self, workspace: str, user_id: str) -> bool: ...


class NotAllowed(Exception):
    """The person may not do this; ``user_message`` is the sentence to show."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where: what the access lists are checked against.

    ``channels`` holds the conversation's channel and its parents (a Discord thread and the
    channel it belongs to); it is empty for a direct message. ``roles`` are Discord role ids.
    """

    user_id: str
    channels: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessLists:
    """A workspace's access rules, and the decision they make."""

    rules: tuple[AccessRule, ...] = ()

    def subjects(self, kind: str, effect: str) -> list[str]:
        return [r.subject for r in self.rules if r.kind == kind and r.effect == effect]

    @property
    def empty(self) -> bool:
        return not self.rules

    def refusal(self, requester: Requester) -> str | None:
        """``None`` when ``requester`` may ask, else the sentence to tell them."""
        if not self.rules:
            return None
        blocked_users = set(self.subjects("user", "block"))
        blocked_roles = set(self.subjects("role", "block"))
        if requester.user_id in blocked_users or blocked_roles.intersection(requester.roles):
            return messages.ACCESS_USER_REFUSED
        if set(self.subjects("channel", "block")).intersection(requester.channels):
            return messages.ACCESS_CHANNEL_REFUSED
        allowed_users = set(self.subjects("user", "allow"))
        allowed_roles = set(self.subjects("role", "allow"))
        if (allowed_users or allowed_roles) and not (
            requester.user_id in allowed_users or allowed_roles.intersection(requester.roles)
        ):
            return messages.ACCESS_USER_REFUSED
        allowed_channels = set(self.subjects("channel", "allow"))
        if (
            allowed_channels
            and requester.channels
            and not allowed_channels.intersection(requester.channels)
        ):
            return messages.ACCESS_CHANNEL_REFUSED
        return None


class AccessPolicy:
    """The admin rules and access lists of every workspace (see the module docstring)."""

    def __init__(
        self,
        store: AccessStore,
        *,
        settings_admins: Collection[str] = (),
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        notes: RefusalNotes | None = None,
    ) -> None:
        #: Who was told of a refusal lately (:mod:`core.notices`), shared with the quotas.
        self.notes = notes or RefusalNotes(clock=clock)
        self._store = store
        self._settings_admins = frozenset(settings_admins)
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, AccessLists]] = {}

    # --- administrators ------------------------------------------------------------------

    async def may_administer(self, workspace: str, user_id: str, admins: AdminCheck) -> bool:
        """True for people named in ``SETTINGS_ADMINS``, the platform's administrators, and
        anyone in a direct message that belongs to no organisation."""
        if workspace.startswith(PERSONAL_PREFIX):
            return True
        if user_id and user_id in self._settings_admins:
            return True
        if not user_id:
            return False
        return await admins.is_admin(workspace, user_id)

    async def require_admin(
        self, platform: str, workspace: str, user_id: str, admins: AdminCheck
    ) -> None:
        """Raise :class:`NotAllowed` unless ``user_id`` may administer ``workspace``."""
        if not await self.may_administer(workspace, user_id, admins):
            log.info("access.not_an_admin", platform=platform, workspace=workspace, user=user_id)
            raise NotAllowed(messages.ADMINS_ONLY)

    # --- access lists --------------------------------------------------------------------

    async def lists(self, platform: str, workspace: str) -> AccessLists:
        key = (platform, workspace)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = AccessLists(tuple(await self._store.access_rules(platform, workspace)))
        self._cache[key] = (now + self._cache_seconds, found)
        return found

    async def check(self, platform: str, workspace: str, requester: Requester) -> str | None:
        """``None`` when ``requester`` may ask here, else the sentence to tell them."""
        refusal = (await self.lists(platform, workspace)).refusal(requester)
        if refusal is not None:
            log.info(
                "access.refused",
                platform=platform,
                workspace=workspace,
                user=requester.user_id,
                channels=list(requester.channels),
            )
        return refusal

    async def change(
        self,
        platform: str,
        workspace: str,
        *,
        by: str,
        admins: AdminCheck,
        kind: str,
        subject: str,
        effect: str | None,
    ) -> AccessLists:
        """Allow (``effect="allow"``), block (``"block"``) or clear (``None``) one subject.

        Only administrators may (raises :class:`NotAllowed`); the change is audited.
        """
        if kind not in ACCESS_KINDS or (effect is not None and effect not in ACCESS_EFFECTS):
            raise ValueError(f"unknown access rule {kind!r}/{effect!r}")
        if not subject:
            raise ValueError("an access rule needs a subject")
        await self.require_admin(platform, workspace, by, admins)
        if effect is None:
            removed = await self._store.delete_access_rule(platform, workspace, kind, subject)
            change = f"{kind} {subject}: off the access lists" if removed else ""
        else:
            current = await self._store.access_rules(platform, workspace)
            known = any(r.kind == kind and r.subject == subject for r in current)
            if not known and len(current) >= MAX_RULES:
                raise ValueError(messages.too_many_access_rules(MAX_RULES))
            await self._store.save_access_rule(
                AccessRule(platform, workspace, kind, subject, effect, added_by=by)
            )
            change = f"{kind} {subject}: {'allowed' if effect == 'allow' else 'blocked'}"
        self._cache.pop((platform, workspace), None)
        if change:
            await self.record(AuditEntry(platform, workspace, "", by, "access", change))
        return await self.lists(platform, workspace)

    # --- the audit trail -----------------------------------------------------------------

    async def record(self, entry: AuditEntry) -> None:
        await self._store.add_audit_entry(entry)
        log.info(
            "audit.recorded",
            platform=entry.platform,
            workspace=entry.workspace,
            channel=entry.channel,
            actor=entry.actor,
            action=entry.action,
            change=entry.change,
        )

    async def history(
        self, platform: str, workspace: str, channels: Collection[str], limit: int = 5
    ) -> list[AuditEntry]:
        """The newest changes made in ``channels`` (``""``: workspace-wide), newest first."""
        return await self._store.audit_entries(platform, workspace, channels, limit)


def describe_audit(entries: Collection[AuditEntry], actor: Callable[[str], str]) -> list[str]:
    """Audit entries as lines for people; ``actor`` renders a user id natively."""
    lines = []
    for entry in entries:
        when = entry.at.strftime("%Y-%m-%d %H:%M UTC") if entry.at else "earlier"
        lines.append(f"{when}, {actor(entry.actor)}: {ellipsize(entry.change, CHANGE_SHOWN_CHARS)}")
    return lines
