"""What the service learned about unpublished contracts (e.g. whether Gloo's streams name
their chat), shared by every process and kept across restarts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:45:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learned_facts",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_learned_facts")),
    )


def downgrade() -> None:
    op.drop_table("learned_facts")
