"""Access lists and the settings audit trail, in SQL (:class:`core.ports.AccessStore`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sqlalchemy import delete, select
from sqlmodel import col

from core.store.base import SqlBase
from core.store.tables import AccessRuleRow, SettingsAuditRow, metadata, utcnow
from core.types import AccessRule, AuditEntry

__all__ = ["AccessQueries"]

_RULE_KEY: Final = ["platform", "workspace", "kind", "subject"]
_RULES: Final = metadata.tables[AccessRuleRow.__tablename__]
_AUDIT: Final = metadata.tables[SettingsAuditRow.__tablename__]


class AccessQueries(SqlBase):
    """:class:`core.ports.AccessStore` in SQL."""

    async def access_rules(self, platform: str, workspace: str) -> list[AccessRule]:
        async with self._read() as conn:
            result = await conn.execute(
                select(_RULES)
                .where(
                    col(AccessRuleRow.platform) == platform,
                    col(AccessRuleRow.workspace) == workspace,
                )
                .order_by(col(AccessRuleRow.added_at), col(AccessRuleRow.id))
            )
            rows = result.mappings().all()
        return [
            AccessRule(
                platform=row["platform"],
                workspace=row["workspace"],
                kind=row["kind"],
                subject=row["subject"],
                effect=row["effect"],
                added_by=row["added_by"],
                added_at=row["added_at"],
            )
            for row in rows
        ]

    async def save_access_rule(self, rule: AccessRule) -> None:
        insert = self._insert(AccessRuleRow).values(
            platform=rule.platform,
            workspace=rule.workspace,
            kind=rule.kind,
            subject=rule.subject,
            effect=rule.effect,
            added_by=rule.added_by,
            added_at=rule.added_at or utcnow(),
        )
        upsert = insert.on_conflict_do_update(
            index_elements=_RULE_KEY,
            set_={
                "effect": insert.excluded.effect,
                "added_by": insert.excluded.added_by,
                "added_at": insert.excluded.added_at,
            },
        )
        async with self._write() as conn:
            await conn.execute(upsert)

    async def delete_access_rule(
        self, platform: str, workspace: str, kind: str, subject: str
    ) -> bool:
        async with self._write() as conn:
            result = await conn.execute(
                delete(AccessRuleRow).where(
                    col(AccessRuleRow.platform) == platform,
                    col(AccessRuleRow.workspace) == workspace,
                    col(AccessRuleRow.kind) == kind,
                    col(AccessRuleRow.subject) == subject,
                )
            )
            return result.rowcount > 0

    async def add_audit_entry(self, entry: AuditEntry) -> None:
        insert = self._insert(SettingsAuditRow).values(
            platform=entry.platform,
            workspace=entry.workspace,
            channel=entry.channel,
            actor=entry.actor,
            action=entry.action,
            change=entry.change,
            at=entry.at or utcnow(),
        )
        async with self._write() as conn:
            await conn.execute(insert)

    async def audit_entries(
        self, platform: str, workspace: str, channels: Collection[str], limit: int
    ) -> list[AuditEntry]:
        async with self._read() as conn:
            result = await conn.execute(
                select(_AUDIT)
                .where(
                    col(SettingsAuditRow.platform) == platform,
                    col(SettingsAuditRow.workspace) == workspace,
                    col(SettingsAuditRow.channel).in_(list(channels)),
                )
                .order_by(col(SettingsAuditRow.at).desc(), col(SettingsAuditRow.id).desc())
                .limit(limit)
            )
            rows = result.mappings().all()
        return [
            AuditEntry(
                platform=row["platform"],
                workspace=row["workspace"],
                channel=row["channel"],
                actor=row["actor"],
                action=row["action"],
                change=row["change"],
                at=row["at"],
            )
            for row in rows
        ]
