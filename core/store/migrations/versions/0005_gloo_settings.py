"""Per-channel Completions V2 settings: tradition and model_family.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:30:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tradition", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("model_family", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_settings", schema=None) as batch_op:
        batch_op.drop_column("model_family")
        batch_op.drop_column("tradition")
