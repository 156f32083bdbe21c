"""Tables. Users are pseudonymous ids only; no table holds a platform id or a phone number."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

RISK_LEVELS = ("low", "moderate", "high", "imminent")
ESCALATION_STATUSES = ("open", "pending", "accepted", "resolved", "timed_out")


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A random, unguessable id."""
    return uuid.uuid4().hex


class Escalation(Base):
    """A detected crisis: what was detected, how risky, what the person agreed to, and where it stands.

    ``open``: detected, no human requested (yet); ``pending``: the person asked for a counsellor;
    ``accepted``/``resolved``/``timed_out`` are set by the handoff.
    """

    __tablename__ = "escalations"

    id = Column(String(32), primary_key=True, default=new_id)
    user_id = Column(String(64), nullable=False, index=True)
    channel = Column(String(32), nullable=False, default="unknown")
    language = Column(String(8), nullable=False)
    country = Column(String(2), nullable=True)
    risk_level = Column(String(16), nullable=False)
    reasons = Column(JSON, nullable=False, default=list)
    screening = Column(JSON, nullable=False, default=dict)
    consent_human = Column(Boolean, nullable=True)
    safety_plan = Column(JSON, nullable=True)
    status = Column(String(16), nullable=False, default="open", index=True)
    assigned_to = Column(String(64), nullable=True)
    notes = Column(Text, nullable=True)
    # the Rasa conversation (sender id) to pause, resume and reply to; channels use the pseudonymous id here
    conversation_id = Column(String(128), nullable=True, index=True)
    transcript = Column(JSON, nullable=True)  # the last messages when the person asked for a human
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    events = relationship(
        "EscalationEvent", back_populates="escalation", order_by="EscalationEvent.id", cascade="all, delete-orphan"
    )


class EscalationEvent(Base):
    """The audit trail: one row per change of an escalation."""

    __tablename__ = "escalation_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(String(32), ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    actor = Column(String(64), nullable=False)
    kind = Column(String(32), nullable=False)
    detail = Column(JSON, nullable=False, default=dict)
    escalation = relationship("Escalation", back_populates="events")


class ContentItem(Base):
    """One item of ``content/library/<locale>/<slug>.md`` as synced: a topic or an exercise in one language/locale.

    ``locale`` is ``""`` for the base language version. ``embedding`` holds float32 vectors (one per chunk: the
    title with the summary, then each message) computed at sync time, so a search embeds only the query.
    """

    __tablename__ = "content_items"
    __table_args__ = (UniqueConstraint("slug", "language", "locale", name="uq_content_item"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    slug = Column(String(64), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    topic = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False, index=True)
    locale = Column(String(16), nullable=False, default="")
    title = Column(String(200), nullable=False)
    summary = Column(Text, nullable=False)
    messages = Column(JSON, nullable=False, default=list)
    steps = Column(JSON, nullable=False, default=list)
    keywords = Column(JSON, nullable=False, default=list)
    related = Column(JSON, nullable=False, default=list)
    duration_minutes = Column(Integer, nullable=True)
    cultural_notes = Column(Text, nullable=False, default="")
    sources = Column(JSON, nullable=False, default=list)
    review_status = Column(String(16), nullable=False, default="draft")
    reviewer_role = Column(String(200), nullable=True)
    reviewed_on = Column(String(10), nullable=True)
    version = Column(Integer, nullable=False, default=1)
    path = Column(String(300), nullable=False)
    content_hash = Column(String(64), nullable=False)
    embedding_model = Column(String(64), nullable=True)
    embedding = Column(LargeBinary, nullable=True)
    synced_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class Feedback(Base):
    """A "did this help?" answer about one content item."""

    __tablename__ = "feedback"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(64), nullable=False, index=True)
    slug = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    helpful = Column(Boolean, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class MoodEntry(Base):
    """A mood check-in on the 1-5 scale."""

    __tablename__ = "mood_entries"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(64), nullable=False, index=True)
    score = Column(Integer, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)


class FollowUp(Base):
    """A next-day check-in the person agreed to: ``scheduled`` until it is ``sent`` or ``cancelled``."""

    __tablename__ = "follow_ups"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(64), nullable=False, index=True)
    due_at = Column(DateTime(timezone=True), nullable=False)
    status = Column(String(16), nullable=False, default="scheduled", index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


DELIVERY_STATUSES = ("pending", "delivered", "dead")


class HandoffDelivery(Base):
    """The transactional outbox of the handoff: one row per escalation and target (the team's webhook, the
    counsellors' Telegram group, a supervisor alert), written in the same transaction as the escalation change and
    delivered at least once by ``bot.handoff.dispatcher``. ``idempotency_key`` lets receivers deduplicate."""

    __tablename__ = "handoff_deliveries"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_handoff_delivery_key"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(String(32), ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True)
    target = Column(String(16), nullable=False)
    kind = Column(String(16), nullable=False, default="handoff")
    idempotency_key = Column(String(96), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    last_error = Column(String(200), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


class Counsellor(Base):
    """A console account. Passwords are stored as scrypt hashes only."""

    __tablename__ = "counsellors"

    username = Column(String(64), primary_key=True)
    password_hash = Column(String(256), nullable=False)
    role = Column(String(16), nullable=False, default="counsellor")  # counsellor | supervisor
    display_name = Column(String(100), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class RelayMessage(Base):
    """A message for a person that their channel cannot push (the REST channel): a counsellor's reply, a timeout
    notice, the check-in after a handoff. Handed out with the person's next request, then deleted."""

    __tablename__ = "relay_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    message = Column(JSON, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
