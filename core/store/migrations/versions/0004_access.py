"""Access lists per workspace and the audit trail of settings and access changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:50:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("effect", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('user', 'channel', 'role')", name=op.f("ck_access_rules_kind")
        ),
        sa.CheckConstraint("effect IN ('allow', 'block')", name=op.f("ck_access_rules_effect")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_rules")),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "kind",
            "subject",
            name=op.f("uq_access_rules_platform_workspace_kind_subject"),
        ),
    )
    op.create_table(
        "settings_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_audit")),
    )
    with op.batch_alter_table("settings_audit", schema=None) as batch_op:
        batch_op.create_index(
            "ix_settings_audit_where", ["platform", "workspace", "channel", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("settings_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_settings_audit_where")
    op.drop_table("settings_audit")
    op.drop_table("access_rules")
