"""Per-user quotas count a person's questions across every workspace of a platform.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:30:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_inbox_user", "inbox", ["platform", "user_id", "accepted_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_user", table_name="inbox")
