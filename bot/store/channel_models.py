"""Channel tables: the durable inbox, the outbox and the encrypted reply addresses (``channels/inbox.py``).

No table holds a platform user id or a phone number in clear: rows are keyed by the pseudonymous user id
(``bot.identity``); the address a reply needs is stored encrypted in ``channel_addresses``. Message texts stay in
the inbox only until the message is processed, and in the outbox only until the reply is sent.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint

from bot.store.models import Base, utcnow

INBOX_STATUSES = ("pending", "processing", "done", "failed")
OUTBOX_STATUSES = ("pending", "sent", "failed", "expired")


class InboxMessage(Base):
    """One verified inbound platform message, stored before the webhook is acknowledged.

    ``(platform, platform_message_id)`` is unique (Telegram ``update_id``, WhatsApp message ``id``), so a
    redelivery is recognised and acknowledged without being processed again.
    """

    __tablename__ = "channel_inbox"
    __table_args__ = (
        UniqueConstraint("platform", "platform_message_id", name="uq_channel_inbox_platform_id"),
        Index("ix_channel_inbox_status", "platform", "status", "id"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    platform = Column(String(16), nullable=False)
    platform_message_id = Column(String(128), nullable=False)
    user_id = Column(String(64), nullable=False, index=True)
    text = Column(Text, nullable=True)  # cleared once processed
    meta = Column(JSON, nullable=False, default=dict)  # hints only: language, country, kind
    sent_at = Column(DateTime(timezone=True), nullable=True)  # the platform's timestamp of the message
    received_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    lease_until = Column(DateTime(timezone=True), nullable=True)
    processed_at = Column(DateTime(timezone=True), nullable=True)
    error = Column(String(200), nullable=True)  # exception class only, never a message text


class OutboxMessage(Base):
    """One platform API call to make for a user (a text part, a keyboard, a list...), sent in ``id`` order."""

    __tablename__ = "channel_outbox"
    __table_args__ = (Index("ix_channel_outbox_status", "platform", "status", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    platform = Column(String(16), nullable=False)
    user_id = Column(String(64), nullable=False, index=True)
    inbox_id = Column(Integer, nullable=True, index=True)  # the message this replies to (None: proactive)
    method = Column(String(32), nullable=False)
    body = Column(JSON, nullable=True)  # cleared once sent
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    sent_at = Column(DateTime(timezone=True), nullable=True)
    platform_message_id = Column(String(128), nullable=True, index=True)
    delivery_status = Column(String(16), nullable=True)  # WhatsApp status callbacks: sent, delivered, read, failed
    error = Column(String(200), nullable=True)


class ChannelAddress(Base):
    """Where to send a pseudonymous user's replies: the platform address, encrypted (Fernet)."""

    __tablename__ = "channel_addresses"

    platform = Column(String(16), primary_key=True)
    user_id = Column(String(64), primary_key=True)
    address = Column(LargeBinary, nullable=False)
    last_inbound_at = Column(DateTime(timezone=True), nullable=True)  # the person's last message (WhatsApp window)
    template_sent_at = Column(DateTime(timezone=True), nullable=True)  # last re-engagement template
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
