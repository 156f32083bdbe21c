"""Delivering the handoff outbox at least once, and watching for handoffs nobody accepts.

A delivery is claimed by moving its ``next_attempt_at`` forward in one conditional UPDATE (safe with several
workers, on SQLite and PostgreSQL), attempted outside any transaction, then marked ``delivered`` or rescheduled
with exponential backoff. After ``handoff_max_attempts`` it is dead-lettered: logged at ERROR (the deployment's
alerting watches for it) and shown to supervisors in the console. A restart loses nothing: rows still ``pending``
are picked up again, and receivers deduplicate on the idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Optional, Protocol

from sqlalchemy import select, update

from bot.handoff import packet
from bot.handoff.config import load as load_config
from bot.handoff.outbox import configured_targets, enqueue
from bot.settings import Settings
from bot.store.db import transaction
from bot.store.escalations import EscalationRepository
from bot.store.models import Escalation, EscalationEvent, HandoffDelivery

logger = logging.getLogger(__name__)
CLAIM_SECONDS = 60


class DeliveryError(Exception):
    """A delivery attempt failed; ``retry`` is False for answers that will never succeed."""

    def __init__(self, reason: str, retry: bool = True, after: Optional[float] = None) -> None:
        super().__init__(reason)
        self.retry = retry
        self.after = after


class Target(Protocol):
    """Delivers one packet; raises ``DeliveryError`` on failure."""

    async def deliver(self, delivery: HandoffDelivery) -> None: ...


@dataclass
class WebhookTarget:
    """POST the signed packet to the team's system."""

    url: str
    secret: str
    timeout: float = 10.0

    async def deliver(self, delivery: HandoffDelivery) -> None:
        import httpx

        body = packet.encode(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            "X-Amani-Signature": packet.signature(body, self.secret),
            "Idempotency-Key": delivery.idempotency_key,
            "X-Amani-Delivery-Attempt": str(delivery.attempts + 1),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(type(error).__name__) from error
        if 200 <= response.status_code < 300:
            return
        retry = response.status_code >= 500 or response.status_code in (408, 409, 425, 429)
        after = _retry_after(response.headers.get("Retry-After"))
        raise DeliveryError(f"HTTP {response.status_code}", retry=retry, after=after)


@dataclass
class TelegramGroupTarget:
    """A notice with an Accept button in the counsellors' Telegram group. It names the risk, language, country and
    why, never the person's messages (those stay in the console)."""

    token: str
    chat_id: str
    base_url: str = "https://api.telegram.org"

    async def deliver(self, delivery: HandoffDelivery) -> None:
        from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.error import RetryAfter, TelegramError

        p = delivery.payload
        title = "⚠️ Not accepted in time" if p.get("type") == "alert" else "🆘 New handoff"
        text = (f"{title}\nRisk: {p['risk_level']}\nLanguage: {p['language']}  Country: {p.get('country') or '?'}\n"
                f"Why: {', '.join(p.get('reasons') or []) or '-'}\n{p['console_url']}")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Accept", callback_data=f"handoff:accept:"
                                                                                        f"{p['escalation_id']}")]])
        bot = Bot(self.token, base_url=f"{self.base_url.rstrip('/')}/bot")
        try:
            async with bot:
                await bot.send_message(chat_id=self.chat_id, text=text, reply_markup=keyboard)
        except RetryAfter as error:
            raise DeliveryError("RetryAfter", after=float(getattr(error, "retry_after", 5) or 5)) from error
        except TelegramError as error:
            raise DeliveryError(type(error).__name__) from error


def targets_for(settings: Settings) -> dict[str, Target]:
    """The configured targets, by name."""
    out: dict[str, Target] = {}
    if settings.crisis_webhook_url:
        out["webhook"] = WebhookTarget(settings.crisis_webhook_url, settings.crisis_webhook_secret or "")
    token = getattr(settings, "telegram_token", None)
    if settings.crisis_telegram_chat_id and token:
        out["telegram"] = TelegramGroupTarget(token, settings.crisis_telegram_chat_id,
                                              getattr(settings, "telegram_api_base_url", "https://api.telegram.org"))
    return out


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


Notifier = Callable[[Escalation], Awaitable[None]]


class Dispatcher:
    """Delivers due outbox rows and notices unaccepted handoffs."""

    def __init__(self, settings: Settings, targets: Optional[dict[str, Target]] = None,
                 on_timeout: Optional[Notifier] = None, clock: Callable[[], datetime] = _now) -> None:
        self.settings = settings
        self.clock = clock
        self.url = settings.database_url
        self.targets = targets if targets is not None else targets_for(settings)
        self.on_timeout = on_timeout
        config = load_config(settings.handoff_file)
        self.accept_timeout = settings.handoff_accept_timeout_seconds or config.accept_timeout_minutes * 60

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``."""
        return min(self.settings.handoff_retry_base_seconds * (2 ** max(attempts - 1, 0)),
                   self.settings.handoff_retry_max_seconds)

    async def run_once(self, now: Optional[datetime] = None) -> dict[str, int]:
        """One pass: deliver what is due, then check timeouts. Returns counts for logs and tests."""
        now = now or self.clock()
        counts = {"delivered": 0, "retried": 0, "dead": 0, "timeouts": 0}
        for delivery_id in self._claim(now):
            counts[await self._attempt(delivery_id)] += 1
        counts["timeouts"] = await self.check_timeouts(now)
        return counts

    def _claim(self, now: datetime, limit: int = 20) -> list[int]:
        claimed = []
        with transaction(self.url) as session:
            due = session.execute(
                select(HandoffDelivery.id).where(HandoffDelivery.status == "pending",
                                                 HandoffDelivery.next_attempt_at <= now)
                .order_by(HandoffDelivery.next_attempt_at).limit(limit)
            ).scalars().all()
        for delivery_id in due:
            with transaction(self.url) as session:
                result = session.execute(
                    update(HandoffDelivery)
                    .where(HandoffDelivery.id == delivery_id, HandoffDelivery.status == "pending",
                           HandoffDelivery.next_attempt_at <= now)
                    .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                )
                if result.rowcount == 1:
                    claimed.append(delivery_id)
        return claimed

    async def _attempt(self, delivery_id: int) -> str:
        with transaction(self.url) as session:
            delivery = session.get(HandoffDelivery, delivery_id)
            session.expunge(delivery)
        target = self.targets.get(delivery.target)
        error: Optional[DeliveryError] = None
        if target is None:
            error = DeliveryError(f"target {delivery.target!r} is not configured", retry=True)
        else:
            try:
                await target.deliver(delivery)
            except DeliveryError as failure:
                error = failure
            except Exception as failure:  # noqa: BLE001 - any failure is retried, never lost
                error = DeliveryError(type(failure).__name__)
        now = self.clock()
        with transaction(self.url) as session:
            row = session.get(HandoffDelivery, delivery_id)
            row.attempts += 1
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", now, None
                outcome = "delivered"
            elif not error.retry or row.attempts >= self.settings.handoff_max_attempts:
                row.status, row.last_error = "dead", str(error)[:200]
                outcome = "dead"
            else:
                row.last_error = str(error)[:200]
                row.next_attempt_at = now + timedelta(seconds=max(error.after or 0, self.backoff(row.attempts)))
                outcome = "retried"
            escalation = session.get(Escalation, row.escalation_id)
            EscalationRepository(session).record(escalation, "dispatcher", f"delivery_{outcome}", {
                "target": row.target, "kind": row.kind, "attempt": row.attempts,
                **({"error": row.last_error} if error else {})})
        if outcome == "dead":
            logger.error("handoff delivery dead-lettered: escalation %s, target %s, %s attempts, last error %s",
                         delivery.escalation_id, delivery.target, row.attempts, error)
        elif outcome == "retried":
            logger.warning("handoff delivery failed, will retry: escalation %s, target %s (%s)",
                           delivery.escalation_id, delivery.target, error)
        return outcome

    async def check_timeouts(self, now: Optional[datetime] = None) -> int:
        """Handoffs waiting longer than the accept timeout: tell the person (once), alert the supervisor."""
        now = now or self.clock()
        found = 0
        with transaction(self.url) as session:
            pending = session.execute(select(Escalation).where(Escalation.status == "pending")).scalars().all()
            overdue = []
            for escalation in pending:
                events = session.execute(select(EscalationEvent).where(
                    EscalationEvent.escalation_id == escalation.id).order_by(EscalationEvent.id)).scalars().all()
                if any(e.kind == "timeout_notified" for e in events):
                    continue
                since = next((e.at for e in reversed(events) if e.kind == "updated"
                              and (e.detail or {}).get("status") == "pending"), escalation.updated_at)
                if (now - _aware(since)).total_seconds() >= self.accept_timeout:
                    repository = EscalationRepository(session)
                    repository.record(escalation, "dispatcher", "timeout_notified",
                                      {"waited_seconds": int((now - _aware(since)).total_seconds())})
                    enqueue(session, escalation, configured_targets(self.settings), self.settings.public_url,
                            kind="alert")
                    overdue.append(escalation)
            for escalation in overdue:
                session.expunge(escalation)
        for escalation in overdue:
            found += 1
            logger.error("handoff not accepted in time: escalation %s (risk %s); supervisor alerted",
                         escalation.id, escalation.risk_level)
            if self.on_timeout is not None:
                try:
                    await self.on_timeout(escalation)
                except Exception as error:  # noqa: BLE001 - the alert is already recorded
                    logger.error("could not tell the person about the wait: %s", type(error).__name__)
        return found

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a failing pass is logged and the loop goes on."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as error:  # noqa: BLE001 - the worker must survive a database blip
                logger.error("handoff dispatcher pass failed: %s", type(error).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.handoff_poll_seconds)
            except asyncio.TimeoutError:
                pass


def summary(delivery: HandoffDelivery) -> dict[str, Any]:
    """A delivery as the console shows it."""
    return {"id": delivery.id, "target": delivery.target, "kind": delivery.kind, "status": delivery.status,
            "attempts": delivery.attempts, "last_error": delivery.last_error,
            "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None}
