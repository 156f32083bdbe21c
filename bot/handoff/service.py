"""What counsellors do with a handoff, and what that does to the conversation.

pending ──accept──▶ accepted ──resolve──▶ resolved
   │ (nobody accepts in time: the person is told, given crisis lines, asked whether to keep waiting; the supervisor
   │  is alerted; "stop waiting" → timed_out)
Accept assigns the escalation and pauses the bot for that person (``ConversationPaused``); replies are relayed into
the conversation on the person's channel; resolve resumes the bot (``ConversationResumed``) with a gentle check-in
in the person's language. Every change is audited (``escalation_events``) without message text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml
from babel import Locale
from sqlalchemy import select

from bot.handoff.auth import Identity
from bot.handoff.config import load as load_config
from bot.handoff.dispatcher import summary as delivery_summary
from bot.handoff.relay import Conversations, domain_text
from bot.safety import risk
from bot.safety.helplines import HelplineRegistry
from bot.settings import Settings
from bot.store.db import transaction
from bot.store.escalations import EscalationRepository
from bot.store.models import Counsellor, Escalation, EscalationEvent, HandoffDelivery

logger = logging.getLogger(__name__)
RISK_ORDER = {"imminent": 0, "high": 1, "moderate": 2, "low": 3}
QUEUE_STATUSES = ("pending", "accepted")
MAX_REPLY_CHARS = 4000


class HandoffError(Exception):
    """A request the console cannot honour; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=2)
def _domain(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class HandoffService:
    """Console operations on escalations; ``conversations`` is the running agent's side (None in tools)."""

    settings: Settings
    conversations: Optional[Conversations] = None

    @property
    def url(self) -> str:
        return self.settings.database_url

    @property
    def domain(self) -> dict[str, Any]:
        return _domain(self.settings.root / "domain.yml")

    # ---- reading -------------------------------------------------------------------------------------------

    def queue(self, now: Optional[datetime] = None) -> list[dict[str, Any]]:
        """Waiting and active handoffs: waiting first, then by risk, then longest waiting."""
        now = now or datetime.now(timezone.utc)
        with transaction(self.url) as session:
            rows = session.execute(select(Escalation).where(Escalation.status.in_(QUEUE_STATUSES))).scalars().all()
            items = [self._summary(session, e, now) for e in rows]
        return sorted(items, key=lambda i: (i["status"] != "pending", RISK_ORDER.get(i["risk_level"], 9),
                                            -i["waiting_seconds"]))

    def _summary(self, session: Any, escalation: Escalation, now: datetime) -> dict[str, Any]:
        events = session.execute(select(EscalationEvent).where(EscalationEvent.escalation_id == escalation.id)
                                 .order_by(EscalationEvent.id)).scalars().all()
        since = next((e.at for e in events if e.kind == "updated" and (e.detail or {}).get("status") == "pending"),
                     escalation.created_at)
        waiting = max(0, int((now - _aware(since)).total_seconds()))
        level = load_config(self.settings.handoff_file).service_level(escalation.risk_level)
        return {
            "id": escalation.id, "status": escalation.status, "risk_level": escalation.risk_level,
            "language": escalation.language, "country": escalation.country, "channel": escalation.channel,
            "reasons": list(escalation.reasons or []), "assigned_to": escalation.assigned_to,
            "waiting_since": _aware(since).isoformat(), "waiting_seconds": waiting,
            "service_level_minutes": level, "time_left_seconds": level * 60 - waiting,
            "overdue": escalation.status == "pending" and waiting > level * 60,
            "timeout_notified": any(e.kind == "timeout_notified" for e in events),
        }

    async def detail(self, escalation_id: str) -> dict[str, Any]:
        """Everything the console shows for one handoff: summary, screening, audit trail, deliveries, messages."""
        now = datetime.now(timezone.utc)
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            out = self._summary(session, escalation, now)
            events = session.execute(select(EscalationEvent).where(EscalationEvent.escalation_id == escalation_id)
                                     .order_by(EscalationEvent.id)).scalars().all()
            deliveries = session.execute(select(HandoffDelivery).where(
                HandoffDelivery.escalation_id == escalation_id)).scalars().all()
            out.update(
                screening=dict(escalation.screening or {}), consent_human=escalation.consent_human,
                safety_plan=escalation.safety_plan, notes=escalation.notes or "",
                events=[{"at": _aware(e.at).isoformat(), "actor": e.actor, "kind": e.kind, "detail": e.detail}
                        for e in events],
                deliveries=[delivery_summary(d) for d in deliveries],
                transcript=list(escalation.transcript or []),
            )
            conversation_id = escalation.conversation_id
        if self.conversations is not None and conversation_id:
            live = await self.conversations.recent(conversation_id,
                                                   load_config(self.settings.handoff_file).transcript_messages * 3)
            if live:
                out["transcript"] = live
        return out

    def dead_letters(self) -> list[dict[str, Any]]:
        """Deliveries that gave up: the supervisor's alert list."""
        with transaction(self.url) as session:
            rows = session.execute(select(HandoffDelivery).where(HandoffDelivery.status == "dead")).scalars().all()
            return [delivery_summary(d) | {"escalation_id": d.escalation_id} for d in rows]

    def counsellors(self) -> list[dict[str, str]]:
        """Active accounts (for transfers)."""
        with transaction(self.url) as session:
            return [{"username": c.username, "display_name": c.display_name, "role": c.role}
                    for c in session.execute(select(Counsellor).where(Counsellor.active.is_(True))).scalars()]

    # ---- acting --------------------------------------------------------------------------------------------

    async def accept(self, escalation_id: str, who: Identity) -> dict[str, Any]:
        """Take the handoff: assign it, pause the bot, tell the person a counsellor has joined."""
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            if escalation.status == "accepted" and escalation.assigned_to not in (None, who.username) \
                    and who.role != "supervisor":
                raise HandoffError(409, f"already accepted by {escalation.assigned_to}")
            if escalation.status not in ("open", "pending", "accepted"):
                raise HandoffError(409, f"cannot accept an escalation that is {escalation.status}")
            EscalationRepository(session).update(escalation, actor=who.username, status="accepted",
                                                 assigned_to=who.username)
            target = (escalation.conversation_id, escalation.channel, escalation.language)
        await self._pause(target[0])
        await self._say(target, "utter_human_joined")
        return await self.detail(escalation_id)

    async def reply(self, escalation_id: str, who: Identity, text: str) -> dict[str, Any]:
        """Relay a counsellor's message to the person, in the conversation, on their channel."""
        text = (text or "").strip()
        if not text:
            raise HandoffError(400, "empty reply")
        if len(text) > MAX_REPLY_CHARS:
            raise HandoffError(400, f"a reply can be at most {MAX_REPLY_CHARS} characters")
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            self._check_owner(escalation, who)
            EscalationRepository(session).record(escalation, who.username, "replied", {"characters": len(text)})
            target = (escalation.conversation_id, escalation.channel, escalation.language)
        await self._send(target, [{"text": text}])
        return {"ok": True}

    def note(self, escalation_id: str, who: Identity, text: str) -> dict[str, Any]:
        """Add a private note (visible to the team only)."""
        text = (text or "").strip()
        if not text:
            raise HandoffError(400, "empty note")
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            notes = (escalation.notes + "\n" if escalation.notes else "") + f"[{stamp} {who.username}] {text[:2000]}"
            EscalationRepository(session).update(escalation, actor=who.username, notes=notes)
        return {"ok": True}

    def transfer(self, escalation_id: str, who: Identity, to: str) -> dict[str, Any]:
        """Hand the conversation to another counsellor."""
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            self._check_owner(escalation, who)
            account = session.get(Counsellor, to)
            if account is None or not account.active:
                raise HandoffError(400, f"no active counsellor {to!r}")
            EscalationRepository(session).update(escalation, actor=who.username, assigned_to=to)
        return {"ok": True}

    async def resolve(self, escalation_id: str, who: Identity) -> dict[str, Any]:
        """Close the handoff: the bot resumes and checks in gently, in the person's language."""
        with transaction(self.url) as session:
            escalation = self._get(session, escalation_id)
            self._check_owner(escalation, who)
            EscalationRepository(session).update(escalation, actor=who.username, status="resolved")
            target = (escalation.conversation_id, escalation.channel, escalation.language)
        await self._resume(target[0])
        await self._say(target, "utter_human_resolved")
        return {"ok": True}

    async def notify_timeout(self, escalation: Escalation) -> None:
        """Nobody accepted in time: say so, give the local crisis lines again, ask whether to keep waiting."""
        target = (escalation.conversation_id, escalation.channel, escalation.language)
        messages = [m for m in (domain_text(self.domain, "utter_handoff_timeout", escalation.language),
                                self._lines_message(escalation.country, escalation.language),
                                domain_text(self.domain, "utter_handoff_keep_waiting_question",
                                            escalation.language)) if m]
        await self._send(target, messages, sender="bot")

    async def crisis_while_paused(self, conversation_id: str, result: dict[str, Any]) -> None:
        """A crisis message while a counsellor has the conversation: raise the risk and flag it in the console."""
        with transaction(self.url) as session:
            escalation = session.execute(select(Escalation).where(
                Escalation.conversation_id == conversation_id, Escalation.status == "accepted")).scalars().first()
            if escalation is None:
                return
            repository = EscalationRepository(session)
            categories = list(result.get("crisis_categories") or [])
            level = risk.higher(escalation.risk_level, risk.from_detection(categories))
            repository.update(escalation, actor="bot", risk_level=level,
                              reasons=sorted(set(escalation.reasons or []) | set(result.get("crisis_reasons") or [])))
            repository.record(escalation, "bot", "crisis_during_handoff", {"categories": categories})

    # ---- helpers -------------------------------------------------------------------------------------------

    def _lines_message(self, country: Optional[str], language: str) -> Optional[dict[str, Any]]:
        registry = HelplineRegistry.load(self.settings.helplines_file)
        english = Locale("en").languages.get(language)
        found = registry.for_country(country, language_name=english) if country else None
        if found and found.lines:
            rendered = "\n".join(line.render() for line in found.lines)
            template = domain_text(self.domain, "utter_crisis_lines", language)
            if template and found.emergency:
                name = Locale.parse(language).territories.get(country, country)
                return {"text": template["text"].replace("{country_name}", name).replace("{lines}", rendered)
                        .replace("{emergency_number}", found.emergency)}
            return {"text": rendered}
        return domain_text(self.domain, "utter_handoff_directory", language)

    def _get(self, session: Any, escalation_id: str) -> Escalation:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None:
            raise HandoffError(404, "no such escalation")
        return escalation

    @staticmethod
    def _check_owner(escalation: Escalation, who: Identity) -> None:
        if escalation.status != "accepted":
            raise HandoffError(409, f"the escalation is {escalation.status}; accept it first")
        if escalation.assigned_to != who.username and who.role != "supervisor":
            raise HandoffError(403, f"assigned to {escalation.assigned_to}")

    async def _pause(self, conversation_id: Optional[str]) -> None:
        if self.conversations is not None and conversation_id:
            await self.conversations.pause(conversation_id)

    async def _resume(self, conversation_id: Optional[str]) -> None:
        if self.conversations is not None and conversation_id:
            await self.conversations.resume(conversation_id)

    async def _say(self, target: tuple, response: str) -> None:
        message = domain_text(self.domain, response, target[2])
        if message:
            await self._send(target, [message], sender="bot")

    async def _send(self, target: tuple, messages: list[dict[str, Any]], sender: str = "counsellor") -> None:
        conversation_id, channel, _ = target
        if self.conversations is None or not conversation_id:
            logger.warning("handoff message not delivered: no conversation to reach")
            return
        await self.conversations.send(conversation_id, channel or "rest", messages, sender=sender)
