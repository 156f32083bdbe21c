"""Tables. Users are pseudonymous ids only; no table holds a platform id or a phone number."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, String, Text
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
