"""Platform app installations and OAuth states (multi-workspace installs), in SQL.

The platform's installation data is kept as an opaque JSON document: the core stores and
finds it by platform, enterprise, team and user, and never reads inside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, select
from sqlmodel import col

from core.store.base import SqlBase
from core.store.tables import InstallationRow, OAuthStateRow, utcnow

__all__ = ["InstallationQueries"]

_KEY: Final = ["platform", "enterprise_id", "team_id", "user_id"]


class InstallationQueries(SqlBase):
    """:class:`core.ports.InstallationStore` in SQL."""

    async def save_installation(
        self,
        platform: str,
        enterprise_id: str,
        team_id: str,
        user_id: str,
        data: dict[str, Any],
    ) -> None:
        """Store (or replace) one installation; ``""`` stands for an absent id."""
        insert = self._insert(InstallationRow).values(
            platform=platform,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            data=data,
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
        query = select(col(InstallationRow.data)).where(
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
            data: dict[str, Any] | None = (await conn.execute(query)).scalar_one_or_none()
        return data

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
