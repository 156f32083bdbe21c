"""Retention: conversation data older than ``AMANI_RETENTION_DAYS`` (90) is deleted, escalations anonymised.

``python -m bot privacy purge`` runs it once; ``make run`` runs it at start-up and then every
``AMANI_PURGE_INTERVAL_HOURS`` (24) inside the Rasa server (``start_schedule``). What goes:

* tracker events older than the period. The current session of a conversation that is still active (an event
  within the period) is kept whole, so a live conversation never loses its state mid-session;
* mood check-ins, feedback, follow-ups and undelivered counsellor messages (``relay_messages``) created before it;
* processed channel rows: inbox messages done or failed, outbox messages sent, failed or expired, and the reply
  addresses of people who have not written within the period (tables skipped when the channels are not migrated);
* escalations last changed before it are anonymised (``bot.privacy.erase`` explains the safeguarding policy).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import and_, delete, func, not_, or_, select

from bot.privacy.erase import ANONYMOUS_PREFIX, anonymise_escalations, existing_tables, lite_table
from bot.store.db import transaction
from bot.store.models import Escalation

logger = logging.getLogger(__name__)

_CREATED = (("mood_entries", "created_at"), ("feedback", "created_at"), ("follow_ups", "created_at"),
            ("relay_messages", "created_at"))


def purge(url: str, retention_days: float, now: Optional[datetime] = None) -> dict[str, int]:
    """Delete or anonymise what is older than ``retention_days``; rows affected per table."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    tables = existing_tables(url)
    counts: dict[str, int] = {}
    with transaction(url) as session:
        if "events" in tables:
            counts["events"] = _purge_events(session, cutoff.timestamp())
        for name, created in _CREATED:
            if name in tables:
                t = lite_table(name, created)
                counts[name] = _rows(session, delete(t).where(t.c[created] < cutoff))
        if "channel_inbox" in tables:
            t = lite_table("channel_inbox", "status", "received_at")
            counts["channel_inbox"] = _rows(session, delete(t).where(
                t.c.received_at < cutoff, t.c.status.in_(("done", "failed"))))
        if "channel_outbox" in tables:
            t = lite_table("channel_outbox", "status", "created_at")
            counts["channel_outbox"] = _rows(session, delete(t).where(
                t.c.created_at < cutoff, t.c.status.in_(("sent", "failed", "expired"))))
        if "channel_addresses" in tables:
            t = lite_table("channel_addresses", "updated_at", "last_inbound_at")
            counts["channel_addresses"] = _rows(session, delete(t).where(
                t.c.updated_at < cutoff, or_(t.c.last_inbound_at.is_(None), t.c.last_inbound_at < cutoff)))
        if "escalations" in tables:
            stale = and_(Escalation.updated_at < cutoff, or_(Escalation.conversation_id.isnot(None),
                                                             not_(Escalation.user_id.startswith(ANONYMOUS_PREFIX))))
            counts["escalations"] = anonymise_escalations(session, stale, "retention", tables)
    return counts


def _rows(session: Any, statement: Any) -> int:
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0)


def _purge_events(session: Any, cutoff: float) -> int:
    """Old tracker events, except the current session of a conversation with an event within the period."""
    events = lite_table("events", "id", "sender_id", "type_name", "timestamp")
    other = events.alias("other")
    active = select(other.c.id).where(other.c.sender_id == events.c.sender_id,
                                      other.c.timestamp >= cutoff).correlate(events).exists()
    session_start = select(func.max(other.c.timestamp)).where(
        other.c.sender_id == events.c.sender_id, other.c.type_name == "session_started"
    ).correlate(events).scalar_subquery()
    return _rows(session, delete(events).where(
        events.c.timestamp < cutoff,
        or_(not_(active), events.c.timestamp < func.coalesce(session_start, cutoff)),
    ))


async def run_schedule(settings: Any, stop: asyncio.Event) -> None:
    """Purge now and then every ``purge_interval_hours`` until ``stop`` is set (counts are logged, nothing else)."""
    while not stop.is_set():
        try:
            counts = await asyncio.to_thread(purge, settings.database_url, settings.retention_days)
            logger.info("retention purge (%s days): %s", settings.retention_days,
                        ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do")
        except Exception as error:  # noqa: BLE001 - the next run tries again
            logger.error("retention purge failed: %s", type(error).__name__)
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.purge_interval_hours * 3600)
        except asyncio.TimeoutError:
            pass


def start_schedule(app: Any, settings: Any) -> None:
    """Run ``run_schedule`` inside the Rasa server (from its ``before_server_start`` listener, ``bot/server.py``);
    off when the interval is 0. ``stop_schedule`` is its ``before_server_stop`` listener."""
    if settings.purge_interval_hours <= 0:
        return
    app.ctx.privacy_stop = asyncio.Event()
    app.ctx.privacy_task = asyncio.get_running_loop().create_task(run_schedule(settings, app.ctx.privacy_stop))


async def stop_schedule(app: Any, _loop: Any) -> None:
    """Stop the purge schedule (a purge in progress finishes first)."""
    if getattr(app.ctx, "privacy_stop", None) is not None:
        app.ctx.privacy_stop.set()
        await app.ctx.privacy_task
