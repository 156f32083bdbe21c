"""Human handoff: conversation and transcript on escalations, the delivery outbox, counsellors, relayed messages.

Revision ID: 0004
Revises: 0003
Created: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("transcript", sa.JSON(), nullable=True))
        batch.create_index("ix_escalations_conversation_id", ["conversation_id"])
    op.create_table(
        "handoff_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("escalation_id", sa.String(32), sa.ForeignKey("escalations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(96), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_handoff_delivery_key"),
    )
    op.create_table(
        "counsellors",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "relay_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("relay_messages", "counsellors", "handoff_deliveries"):
        op.drop_table(table)
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_conversation_id")
        batch.drop_column("transcript")
        batch.drop_column("conversation_id")
