"""Channels: durable inbox, outbox and encrypted reply addresses.

Revision ID: 0003
Revises: 0002
Created: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_message_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.UniqueConstraint("platform", "platform_message_id", name="uq_channel_inbox_platform_id"),
    )
    op.create_index("ix_channel_inbox_status", "channel_inbox", ["platform", "status", "id"])
    op.create_table(
        "channel_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("inbox_id", sa.Integer(), nullable=True, index=True),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_message_id", sa.String(128), nullable=True, index=True),
        sa.Column("delivery_status", sa.String(16), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_channel_outbox_status", "channel_outbox", ["platform", "status", "id"])
    op.create_table(
        "channel_addresses",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("address", sa.LargeBinary(), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("template_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_addresses")
    op.drop_index("ix_channel_outbox_status", table_name="channel_outbox")
    op.drop_table("channel_outbox")
    op.drop_index("ix_channel_inbox_status", table_name="channel_inbox")
    op.drop_table("channel_inbox")
