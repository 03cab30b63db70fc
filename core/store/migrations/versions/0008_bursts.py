"""Bursts: an inbox row may be ``gathering`` (the first message of a burst whose window is
open), and the later messages of a burst wait in ``burst_parts`` until it closes.

Touches: ``inbox`` (its status CHECK, ``ck_inbox_status``, gains 'gathering') and the new
table ``burst_parts``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:50:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITH_GATHERING = "status IN ('gathering', 'pending', 'answering', 'answered', 'failed')"
_WITHOUT = "status IN ('pending', 'answering', 'answered', 'failed')"


def _inbox(check: str) -> sa.Table:
    """The inbox as revisions 0002 and 0003 left it, with the status CHECK ``check``: batch
    mode rebuilds it from this on SQLite, without reflecting it (so ``--sql`` works too)."""
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
    with op.batch_alter_table("inbox", schema=None, copy_from=_inbox(_WITHOUT)) as batch_op:
        batch_op.drop_constraint(op.f("ck_inbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_inbox_status"), _WITH_GATHERING)
    op.create_table(
        "burst_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("burst_key", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_ref", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_burst_parts")),
        sa.UniqueConstraint("key", name=op.f("uq_burst_parts_key")),
    )
    with op.batch_alter_table("burst_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_burst_parts_burst_key"), ["burst_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("burst_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_burst_parts_burst_key"))
    op.drop_table("burst_parts")
    # A burst still gathering is opened as it is (its later parts are dropped with the table).
    op.execute("UPDATE inbox SET status = 'pending' WHERE status = 'gathering'")
    with op.batch_alter_table("inbox", schema=None, copy_from=_inbox(_WITH_GATHERING)) as batch_op:
        batch_op.drop_constraint(op.f("ck_inbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_inbox_status"), _WITHOUT)
