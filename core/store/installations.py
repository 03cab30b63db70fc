"""Platform app installations and OAuth states (multi-workspace installs), in SQL.

The platform's installation data is kept as an opaque JSON document: the core stores and
finds it by platform, enterprise, team and user, and never reads inside it. It holds the
workspace's bot token, so with ``ENCRYPTION_KEYS`` set it is stored sealed
(:class:`core.crypto.SecretBox`: Fernet, the first key encrypting). A document stored in
plain text (before a key was set) or under an older key is sealed again with the first key
when it is read, and by :meth:`InstallationQueries.reseal_installations`
(``gloo-bots db reencrypt``). A document no configured key opens is logged and treated as
no installation, so the workspace is asked to reinstall rather than the process failing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import structlog
from sqlalchemy import delete, select, update
from sqlmodel import col

from core.crypto import SecretBox, Unreadable
from core.store.base import SqlBase
from core.store.tables import InstallationRow, OAuthStateRow, utcnow

__all__ = ["InstallationQueries"]

log = structlog.get_logger(__name__)

_KEY: Final = ["platform", "enterprise_id", "team_id", "user_id"]


class InstallationQueries(SqlBase):
    """:class:`core.ports.InstallationStore` in SQL."""

    #: Seals installation documents; without keys they are stored as they are.
    _secret_box: SecretBox = SecretBox()

    def use_encryption_keys(self, keys: tuple[str, ...]) -> None:
        """Seal installations with ``keys`` (the first encrypts, all decrypt)."""
        self._secret_box = SecretBox(keys)

    async def save_installation(
        self,
        platform: str,
        enterprise_id: str,
        team_id: str,
        user_id: str,
        data: dict[str, Any],
    ) -> None:
        """Store (or replace) one installation; ``""`` stands for an absent id."""
        if not self._secret_box.enabled:
            log.warning(
                "installations.stored_unencrypted",
                platform=platform,
                team=team_id,
                fix="set ENCRYPTION_KEYS (see the README) so tokens are encrypted at rest",
            )
        insert = self._insert(InstallationRow).values(
            platform=platform,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            data=self._secret_box.seal(data),
            installed_at=utcnow(),
        )
        upsert = insert.on_conflict_do_update(
            index_elements=_KEY,
            set_={"data": insert.excluded.data, "installed_at": insert.excluded.installed_at},
        )
        async with self._write() as conn:
            await conn.execute(upsert)

    async def find_installation(
        self, platform: str, enterprise_id: str, team_id: str, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """The installation's data; with ``user_id=None``, the team's newest installation."""
        query = select(col(InstallationRow.id), col(InstallationRow.data)).where(
            col(InstallationRow.platform) == platform,
            col(InstallationRow.enterprise_id) == enterprise_id,
            col(InstallationRow.team_id) == team_id,
        )
        if user_id is not None:
            query = query.where(col(InstallationRow.user_id) == user_id)
        query = query.order_by(
            col(InstallationRow.installed_at).desc(), col(InstallationRow.id).desc()
        ).limit(1)
        async with self._read() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        try:
            unsealed = self._secret_box.open(row.data)
        except Unreadable as exc:
            log.error(
                "installations.unreadable",
                platform=platform,
                team=team_id,
                reason=str(exc),
                fix="put the key it was encrypted with back in ENCRYPTION_KEYS, or reinstall",
            )
            return None
        if unsealed.stale:
            await self._reseal(row.id, row.data, unsealed.data)
        return unsealed.data

    async def reseal_installations(self) -> int:
        """Seal every installation stored in plain text or under an older key with the first
        key; how many were sealed again (``gloo-bots db reencrypt``)."""
        if not self._secret_box.enabled:
            return 0
        async with self._read() as conn:
            rows = (
                await conn.execute(select(col(InstallationRow.id), col(InstallationRow.data)))
            ).all()
        resealed = 0
        for row in rows:
            try:
                unsealed = self._secret_box.open(row.data)
            except Unreadable as exc:
                log.error("installations.unreadable", id=row.id, reason=str(exc))
                continue
            if unsealed.stale and await self._reseal(row.id, row.data, unsealed.data):
                resealed += 1
        return resealed

    async def _reseal(self, row_id: int, stored: dict[str, Any], data: dict[str, Any]) -> bool:
        """Replace the row's document with ``data`` sealed under the first key, unless it
        changed since it was read (a concurrent install wins)."""
        sealed = self._secret_box.seal(data)
        async with self._write() as conn:
            current = (
                await conn.execute(
                    select(col(InstallationRow.data)).where(col(InstallationRow.id) == row_id)
                )
            ).scalar_one_or_none()
            if current != stored:
                return False
            await conn.execute(
                update(InstallationRow).where(col(InstallationRow.id) == row_id).values(data=sealed)
            )
        log.info("installations.resealed", id=row_id)
        return True

    async def delete_installations(
        self, platform: str, enterprise_id: str, team_id: str, user_id: str | None = None
    ) -> int:
        """Forget a team's installations (one user's, or all with ``user_id=None``)."""
        statement = delete(InstallationRow).where(
            col(InstallationRow.platform) == platform,
            col(InstallationRow.enterprise_id) == enterprise_id,
            col(InstallationRow.team_id) == team_id,
        )
        if user_id is not None:
            statement = statement.where(col(InstallationRow.user_id) == user_id)
        async with self._write() as conn:
            return (await conn.execute(statement)).rowcount

    async def save_oauth_state(self, state: str, expires_at: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                self._insert(OAuthStateRow)
                .values(state=state, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["state"])
            )

    async def prune_oauth_states(self) -> int:
        """Delete the OAuth states that expired (install pages opened and abandoned)."""
        async with self._write() as conn:
            result = await conn.execute(
                delete(OAuthStateRow).where(col(OAuthStateRow.expires_at) < utcnow())
            )
            return result.rowcount

    async def consume_oauth_state(self, state: str) -> bool:
        """True exactly once for a state that was issued and has not expired."""
        now = utcnow()
        async with self._write() as conn:
            await conn.execute(delete(OAuthStateRow).where(col(OAuthStateRow.expires_at) < now))
            result = await conn.execute(
                delete(OAuthStateRow).where(col(OAuthStateRow.state) == state)
            )
            return result.rowcount > 0
