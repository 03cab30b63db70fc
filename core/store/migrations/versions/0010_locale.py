"""The asker's language: an inbox row keeps the platform's locale tag of its question, so
the sentences posted later for it (a failure, a usage-limit note) are in that language.

Adds ``inbox.locale`` (a string, not null); rows already stored get ``''`` (English)
through the column's server default.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite and PostgreSQL both take NOT NULL with a default).
    op.add_column(
        "inbox",
        sa.Column("locale", sa.String(length=35), nullable=False, server_default=""),
    )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("locale")
