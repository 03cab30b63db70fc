"""Initial schema: thread→chat bindings, answers, feedback, channel settings.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "thread_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("thread", sa.String(length=255), nullable=False),
        sa.Column("chat_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_thread_chats"),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "channel",
            "thread",
            name="uq_thread_chats_platform_workspace_channel_thread",
        ),
    )

    op.create_table(
        "answers",
        sa.Column("answer_id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("thread", sa.String(length=255), nullable=False),
        sa.Column("chat_id", sa.String(length=255), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("gloo_message_id", sa.String(length=255), nullable=True),
        sa.Column("gloo_query_id", sa.String(length=255), nullable=True),
        sa.Column("platform_message_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("answer_id", name="pk_answers"),
    )
    op.create_index("ix_answers_chat_id", "answers", ["chat_id"])
    op.create_index("ix_answers_created_at", "answers", ["created_at"])

    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answer_feedback"),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.answer_id"],
            name="fk_answer_feedback_answer_id_answers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("answer_id", "user_id", name="uq_answer_feedback_answer_id_user_id"),
        sa.CheckConstraint("value IN (-1, 1)", name="ck_answer_feedback_value"),
    )

    op.create_table(
        "channel_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("publishers", sa.JSON(), nullable=False),
        sa.Column("character_limit", sa.Integer(), nullable=True),
        sa.Column("sources_limit", sa.Integer(), nullable=True),
        sa.Column("intent", sa.Integer(), nullable=True),
        sa.Column("enable_sources", sa.Boolean(), nullable=False),
        sa.Column("enable_suggestions", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_settings"),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "channel",
            name="uq_channel_settings_platform_workspace_channel",
        ),
    )


def downgrade() -> None:
    op.drop_table("channel_settings")
    op.drop_table("answer_feedback")
    op.drop_index("ix_answers_created_at", table_name="answers")
    op.drop_index("ix_answers_chat_id", table_name="answers")
    op.drop_table("answers")
    op.drop_table("thread_chats")
