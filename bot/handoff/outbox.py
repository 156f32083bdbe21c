"""The transactional outbox: deliveries are rows written in the caller's transaction, next to the escalation
change that causes them, so an escalation is never committed without its deliveries (or the other way round)."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff import packet
from bot.settings import Settings
from bot.store.models import Escalation, HandoffDelivery

TARGETS = ("webhook", "telegram")


def configured_targets(settings: Settings) -> tuple[str, ...]:
    """The targets whose settings are present (the console needs none)."""
    targets = []
    if settings.crisis_webhook_url:
        targets.append("webhook")
    if settings.crisis_telegram_chat_id and getattr(settings, "telegram_token", None):
        targets.append("telegram")
    return tuple(targets)


def enqueue(session: Session, escalation: Escalation, targets: Sequence[str], public_url: str,
            kind: str = "handoff") -> list[HandoffDelivery]:
    """One delivery per target; enqueuing the same escalation and kind again is a no-op (idempotency key)."""
    rows = []
    for target in targets:
        key = f"{escalation.id}:{kind}:{target}"
        if session.execute(select(HandoffDelivery.id).where(HandoffDelivery.idempotency_key == key)).first():
            continue
        payload = packet.build(escalation, public_url, kind) | {"idempotency_key": key}
        row = HandoffDelivery(escalation_id=escalation.id, target=target, kind=kind, idempotency_key=key,
                              payload=payload, status="pending", attempts=0)
        session.add(row)
        rows.append(row)
    return rows
