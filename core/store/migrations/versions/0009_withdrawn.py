"""Edits and deletions: an inbox question its asker deleted is ``withdrawn``, and an edit
that came while it was being answered waits in ``edited_text``.

Touches: ``inbox`` (its status CHECK, ``ck_inbox_status``, gains 'withdrawn'; the new
nullable column ``edited_text``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:59:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITH_WITHDRAWN = (
    "status IN ('gathering', 'pending', 'answering', 'answered', 'failed', 'withdrawn')"
)
_WITHOUT = "status IN ('gathering', 'pending', 'answering', 'answered', 'failed')"


def _inbox(check: str, *, edited: bool) -> sa.Table:
    """The inbox as revision 0008 left it, with the status CHECK ``check`` (and, with
    ``edited``, this revision's column): batch mode rebuilds it from this on SQLite, without
    reflecting it (so ``--sql`` works too)."""
    more = [sa.Column("edited_text", sa.Text(), nullable=True)] if edited else []
    table = sa.Table(
        "inbox",
        sa.MetaData(),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("thread", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("message_ref", sa.String(length=255), nullable=True),
        sa.Column("chat_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *more,
        sa.CheckConstraint(check, name="ck_inbox_status"),
        sa.PrimaryKeyConstraint("key", name="pk_inbox"),
    )
    sa.Index("ix_inbox_accepted_at", table.c.accepted_at)
    sa.Index("ix_inbox_next_attempt_at", table.c.next_attempt_at)
    sa.Index("ix_inbox_status", table.c.status)
    sa.Index(
        "ix_inbox_sender", table.c.platform, table.c.workspace, table.c.user_id, table.c.accepted_at
    )
    sa.Index(
        "ix_inbox_thread",
        table.c.platform,
        table.c.workspace,
        table.c.channel,
        table.c.thread,
        table.c.accepted_at,
    )
    sa.Index("ix_inbox_user", table.c.platform, table.c.user_id, table.c.accepted_at)
    return table


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a CHECK constraint, the table is rebuilt.
    with op.batch_alter_table(
        "inbox", schema=None, copy_from=_inbox(_WITHOUT, edited=False)
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_inbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_inbox_status"), _WITH_WITHDRAWN)
        batch_op.add_column(sa.Column("edited_text", sa.Text(), nullable=True))


def downgrade() -> None:
    # A withdrawn question was not answered: before this revision that is a failed one.
    op.execute("UPDATE inbox SET status = 'failed' WHERE status = 'withdrawn'")
    with op.batch_alter_table(
        "inbox", schema=None, copy_from=_inbox(_WITH_WITHDRAWN, edited=True)
    ) as batch_op:
        batch_op.drop_column("edited_text")
        batch_op.drop_constraint(op.f("ck_inbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_inbox_status"), _WITHOUT)
