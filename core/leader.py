"""Which process runs the once-per-deployment jobs (retention pruning).

On PostgreSQL the leader is whoever holds a session-level advisory lock, on a connection
kept open for that purpose: when the leader dies its connection closes, the lock is freed,
and the next process to try becomes the leader. SQLite deployments are one process (the
database is a local file), so that process leads.
"""

from __future__ import annotations

from typing import Final

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["LEADER_LOCK_ID", "Leadership"]

log = structlog.get_logger(__name__)

#: The advisory lock's key (any fixed 64-bit number; "gloo-bots" in ASCII, truncated).
LEADER_LOCK_ID: Final = 0x676C6F6F2D626F74


class Leadership:
    def __init__(self, engine: AsyncEngine, lock_id: int = LEADER_LOCK_ID) -> None:
        self._engine = engine
        self._lock_id = lock_id
        self._connection: AsyncConnection | None = None
        self._sqlite = engine.dialect.name == "sqlite"

    @property
    def is_leader(self) -> bool:
        return self._sqlite or self._connection is not None

    async def try_acquire(self) -> bool:
        """Become the leader if nobody is; True when this process leads (now or already)."""
        if self._sqlite:
            return True
        if self._connection is not None and await self._still_held():
            return True
        connection = await self._engine.connect()
        try:
            acquired = bool(
                (
                    await connection.execute(
                        text("SELECT pg_try_advisory_lock(:id)"), {"id": self._lock_id}
                    )
                ).scalar_one()
            )
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if not acquired:
            await connection.close()
            return False
        self._connection = connection
        log.info("leader.acquired")
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": self._lock_id})
            await connection.commit()
        except Exception:
            log.warning("leader.release_failed", exc_info=True)
        finally:
            await connection.close()

    async def _still_held(self) -> bool:
        """Check the lock's connection is alive; a lost connection means lost leadership."""
        assert self._connection is not None
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
            return True
        except Exception:
            log.warning("leader.lost", exc_info=True)
            connection, self._connection = self._connection, None
            try:
                await connection.invalidate()
                await connection.close()
            except Exception:
                log.debug("leader.close_failed", exc_info=True)
            return False
