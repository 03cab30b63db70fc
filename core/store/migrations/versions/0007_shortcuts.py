"""Per-channel switch for "Ask Gloo about this" (message shortcut / message command).

Adds ``channel_settings.enable_shortcuts`` (boolean, not null); rows already stored get
``true``, the default, through the column's server default.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:40:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite and PostgreSQL both take NOT NULL with a default).
    op.add_column(
        "channel_settings",
        sa.Column("enable_shortcuts", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    with op.batch_alter_table("channel_settings", schema=None) as batch_op:
        batch_op.drop_column("enable_shortcuts")
