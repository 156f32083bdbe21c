"""The warm handoff packet sent to a crisis team, and its signature.

The packet carries what a counsellor needs to pick up the conversation without asking again: language, country,
risk level, why the bot raised the alarm, the screening answers, consent, the last messages and a console link.
The body is signed: ``X-Amani-Signature: sha256=<hex HMAC-SHA256 of the raw body with CRISIS_WEBHOOK_SECRET>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from bot.store.models import Escalation

PACKET_VERSION = 1


def build(escalation: Escalation, public_url: str, kind: str = "handoff") -> dict[str, Any]:
    """The packet for ``escalation`` (``kind``: ``handoff`` or ``alert`` for a supervisor alert)."""
    return {
        "version": PACKET_VERSION,
        "type": kind,
        "escalation_id": escalation.id,
        "created_at": escalation.created_at.isoformat() if escalation.created_at else None,
        "channel": escalation.channel,
        "language": escalation.language,
        "country": escalation.country,
        "risk_level": escalation.risk_level,
        "reasons": list(escalation.reasons or []),
        "screening": dict(escalation.screening or {}),
        "consent_human": escalation.consent_human,
        "status": escalation.status,
        "last_messages": list(escalation.transcript or []),
        "console_url": f"{public_url.rstrip('/')}/console#/escalations/{escalation.id}",
    }


def encode(packet: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(packet, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(body: bytes, secret: str) -> str:
    """``sha256=<hex>`` of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str, secret: str) -> bool:
    """What a receiver does: constant-time comparison of the signature header."""
    return hmac.compare_digest(signature(body, secret), header or "")
