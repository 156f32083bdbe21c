"""The escalation repository: the one place that creates and changes escalation records (with their audit trail)."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.safety.risk import higher
from bot.store.models import RISK_LEVELS, Escalation, EscalationEvent

ACTIVE_STATUSES = ("open", "pending", "accepted")
_TEXT_FIELDS = ("transcript", "notes", "safety_plan")  # audited as changed, without their text


class EscalationRepository:
    """Escalations of pseudonymous users, read and changed inside the caller's transaction."""

    def __init__(self, session: Session, handoff_targets: Sequence[str] = (), public_url: str = "") -> None:
        self.session = session
        self.handoff_targets = tuple(handoff_targets)
        self.public_url = public_url

    def active_for(self, user_id: str) -> Optional[Escalation]:
        """The user's newest escalation that is not resolved or timed out."""
        query = (
            select(Escalation)
            .where(Escalation.user_id == user_id, Escalation.status.in_(ACTIVE_STATUSES))
            .order_by(Escalation.created_at.desc())
            .limit(1)
        )
        return self.session.execute(query).scalars().first()

    def get(self, escalation_id: str) -> Optional[Escalation]:
        """One escalation by id."""
        return self.session.get(Escalation, escalation_id)

    def record_detection(
        self,
        user_id: str,
        *,
        channel: str,
        language: str,
        country: Optional[str],
        risk_level: str,
        reasons: Iterable[str],
    ) -> Escalation:
        """Open an escalation for ``user_id`` or add this detection to the active one (risk never goes down)."""
        _check_level(risk_level)
        escalation = self.active_for(user_id)
        reasons = list(reasons)
        if escalation is None:
            escalation = Escalation(
                user_id=user_id, channel=channel, language=language, country=country, risk_level=risk_level,
                reasons=sorted(set(reasons)), screening={}, status="open",
            )
            self.session.add(escalation)
            self.session.flush()
            self._event(escalation, "bot", "opened", {"risk_level": risk_level, "reasons": sorted(set(reasons))})
            return escalation
        merged = sorted(set(escalation.reasons or []) | set(reasons))
        level = higher(escalation.risk_level, risk_level)
        changes: dict[str, Any] = {}
        if merged != list(escalation.reasons or []):
            escalation.reasons, changes["reasons"] = merged, merged
        if level != escalation.risk_level:
            escalation.risk_level, changes["risk_level"] = level, level
        if country and country != escalation.country:
            escalation.country, changes["country"] = country, country
        if language != escalation.language:
            escalation.language, changes["language"] = language, language
        if changes:
            self._event(escalation, "bot", "detected", changes)
        return escalation

    def update(self, escalation: Escalation, actor: str = "bot", **changes: Any) -> Escalation:
        """Change fields of ``escalation`` and audit what actually changed."""
        if "risk_level" in changes:
            _check_level(changes["risk_level"])
        changed = {k: v for k, v in changes.items() if getattr(escalation, k) != v}
        for key, value in changed.items():
            setattr(escalation, key, value)
        if changed:
            audited = {k: ("(text)" if k in _TEXT_FIELDS else v) for k, v in changed.items()}
            self._event(escalation, actor, "updated", audited)
        if changed.get("status") == "pending":  # the person asked for a human: deliver, in this same transaction
            from bot.handoff.outbox import enqueue

            self.session.flush()
            enqueue(self.session, escalation, self.handoff_targets, self.public_url)
        return escalation

    def record(self, escalation: Escalation, actor: str, kind: str, detail: Optional[dict[str, Any]] = None) -> None:
        """Add an audit event without changing fields (a reply sent, a timeout notice, ...)."""
        self._event(escalation, actor, kind, detail or {})

    def _event(self, escalation: Escalation, actor: str, kind: str, detail: dict[str, Any]) -> None:
        self.session.add(EscalationEvent(escalation_id=escalation.id, actor=actor, kind=kind, detail=detail))


def _check_level(level: str) -> None:
    if level not in RISK_LEVELS:
        raise ValueError(f"unknown risk level {level!r}; use one of {', '.join(RISK_LEVELS)}")
