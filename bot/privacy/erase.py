"""What Amani stores about one person, and erasing it: "delete my data" (``action_delete_my_data``) and
``python -m bot privacy report|erase``. The same functions run in the action server and the command line; both
reach the database through ``AMANI_DATABASE_URL``.

A person has two ids (``Person``): the Rasa conversation id (``sender_id``: the channels' pseudonym of the platform
id; a REST client's id as sent) and the pseudonymous user id of the content tables and escalations
(``pseudonymise(sender_id, AMANI_PSEUDONYM_KEY)``). Tables that do not exist are skipped (no channel migration
yet, a tracker store elsewhere).

Safeguarding policy: escalation records are not deleted but anonymised. The user id becomes a random token, the
conversation id, the transcript, the safety plan and counsellors' notes are cleared, ids and texts are removed from
their audit trail and from the handoff packets; channel, language, country, risk level, reasons, screening answers,
consent, status and times stay, so the crisis service can still count and review what happened.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import column, delete, func, inspect, or_, select, table
from sqlalchemy.orm import Session

from bot.identity import pseudonymise
from bot.store.db import engine_for, transaction
from bot.store.models import Escalation, EscalationEvent

logger = logging.getLogger(__name__)

SENDER, USER = "sender", "user"
# table, id column, which id. Escalations are anonymised, not deleted (module docstring).
PERSONAL_TABLES: tuple[tuple[str, str, str], ...] = (
    ("events", "sender_id", SENDER),  # Rasa's tracker store: the conversation
    ("mood_entries", "user_id", USER),
    ("feedback", "user_id", USER),
    ("follow_ups", "user_id", USER),
    ("relay_messages", "conversation_id", SENDER),  # counsellor messages waiting for a REST client
    ("channel_inbox", "user_id", SENDER),
    ("channel_outbox", "user_id", SENDER),
    ("channel_addresses", "user_id", SENDER),  # the encrypted reply address (Telegram chat id, WhatsApp number)
)
PLATFORMS = ("telegram", "telegram-group", "whatsapp", "webchat")
ANONYMOUS_PREFIX = "anon-"
_DETAIL_KEYS = ("conversation_id", "user_id", "sender_id", "transcript", "notes", "safety_plan", "text")
CHANNEL_GRACE = timedelta(seconds=60)  # the erasure turn's replies are queued right after it


@dataclass(frozen=True)
class Person:
    """The two ids a person's rows are stored under."""

    sender_id: str
    user_id: str

    @classmethod
    def of(cls, sender_id: str, key: str) -> "Person":
        """The person of Rasa conversation ``sender_id``."""
        return cls(sender_id, pseudonymise(sender_id, key))

    def id_for(self, which: str) -> str:
        """``sender_id`` or ``user_id``."""
        return self.sender_id if which == SENDER else self.user_id


def sender_for(platform_id: str, key: str) -> str:
    """The Rasa conversation id of a platform id: ``telegram:<chat id>``, ``whatsapp:<number>`` and
    ``webchat:<session>`` are pseudonymised as the channels do; ``rest:<id>`` or a bare id is a REST sender."""
    prefix, _, rest = platform_id.strip().partition(":")
    if rest and prefix in PLATFORMS:
        if prefix == "whatsapp":
            rest = re.sub(r"[\s+\-()]", "", rest)
        return pseudonymise(f"{prefix}:{rest.strip()}", key)
    if rest and prefix == "rest":
        return rest
    return platform_id


def existing_tables(url: str) -> set[str]:
    """Tables present in the database at ``url``."""
    return set(inspect(engine_for(url)).get_table_names())


def lite_table(name: str, *columns: str) -> Any:
    """A table construct naming only ``columns`` (no reflection, no model needed)."""
    return table(name, *(column(c) for c in columns))


def report(url: str, person: Person) -> dict[str, int]:
    """Rows stored for ``person``, per table (``escalations``: records still linked to them)."""
    tables = existing_tables(url)
    counts: dict[str, int] = {}
    with transaction(url) as session:
        for name, id_column, which in PERSONAL_TABLES:
            if name in tables:
                t = lite_table(name, id_column)
                counts[name] = session.execute(
                    select(func.count()).select_from(t).where(t.c[id_column] == person.id_for(which))).scalar_one()
        if "escalations" in tables:
            counts["escalations"] = session.execute(
                select(func.count()).select_from(Escalation).where(_linked(person))).scalar_one()
    return counts


def _linked(person: Person) -> Any:
    return or_(Escalation.user_id == person.user_id, Escalation.conversation_id == person.sender_id)


def erase(url: str, person: Person, keep_delivery: bool = False) -> dict[str, int]:
    """Delete ``person``'s rows and anonymise their escalations, in one transaction; counts per table.

    ``keep_delivery`` (the action server, mid-turn): the channel address and the messages still in flight stay so
    the confirmation can be delivered; the Rasa server removes them once it is sent (``finish_channel_erasure``).
    """
    tables = existing_tables(url)
    counts: dict[str, int] = {}
    with transaction(url) as session:
        for name, id_column, which in PERSONAL_TABLES:
            if name not in tables:
                continue
            if keep_delivery and name == "channel_addresses":
                counts[name] = 0
                continue
            t = lite_table(name, id_column, "status")
            query = delete(t).where(t.c[id_column] == person.id_for(which))
            if keep_delivery and name == "channel_inbox":
                query = query.where(t.c.status.notin_(("pending", "processing")))
            if keep_delivery and name == "channel_outbox":
                query = query.where(t.c.status != "pending")
            counts[name] = session.execute(query.execution_options(synchronize_session=False)).rowcount
        if "escalations" in tables:
            counts["escalations"] = anonymise_escalations(session, _linked(person), "erasure", tables)
    return counts


def anonymise_escalations(session: Session, where: Any, reason: str, tables: Optional[set[str]] = None) -> int:
    """Anonymise the escalations matching ``where`` (the safeguarding policy in the module docstring)."""
    escalations = session.execute(select(Escalation).where(where)).scalars().all()
    for escalation in escalations:
        escalation.user_id = ANONYMOUS_PREFIX + secrets.token_hex(16)
        escalation.conversation_id = None
        escalation.transcript = None
        escalation.safety_plan = None
        escalation.notes = None
        for event in escalation.events:
            if isinstance(event.detail, dict) and any(k in event.detail for k in _DETAIL_KEYS):
                event.detail = {k: ("(removed)" if k in _DETAIL_KEYS else v) for k, v in event.detail.items()}
        session.add(EscalationEvent(escalation_id=escalation.id, actor="privacy", kind="anonymised",
                                    detail={"reason": reason}))
    if escalations and "handoff_deliveries" in (tables or set(inspect(session.get_bind()).get_table_names())):
        from bot.store.models import HandoffDelivery

        deliveries = session.execute(select(HandoffDelivery).where(
            HandoffDelivery.escalation_id.in_([e.id for e in escalations]))).scalars()
        for delivery in deliveries:
            if isinstance(delivery.payload, dict) and delivery.payload.get("last_messages"):
                delivery.payload = {**delivery.payload, "last_messages": []}
    return len(escalations)


# --- channel rows of an erased conversation (run by the Rasa server, where the channels send) ---
def pending_channel_rows(url: str, sender_id: str, erased_at: datetime) -> int:
    """Messages of the conversation from before the erasure that are still being processed or sent."""
    tables = existing_tables(url)
    if not {"channel_inbox", "channel_outbox"} <= tables:
        return 0
    inbox = lite_table("channel_inbox", "user_id", "status", "received_at")
    outbox = lite_table("channel_outbox", "user_id", "status", "created_at")
    with transaction(url) as session:
        waiting = session.execute(select(func.count()).select_from(inbox).where(
            inbox.c.user_id == sender_id, inbox.c.status.in_(("pending", "processing")),
            inbox.c.received_at <= erased_at)).scalar_one()
        waiting += session.execute(select(func.count()).select_from(outbox).where(
            outbox.c.user_id == sender_id, outbox.c.status == "pending",
            outbox.c.created_at <= erased_at + CHANNEL_GRACE)).scalar_one()
    return int(waiting)


def forget_channel_rows(url: str, sender_id: str, erased_at: datetime) -> int:
    """Delete the conversation's channel rows from before the erasure (and its replies), and its address unless
    the person wrote again since."""
    tables = existing_tables(url)
    removed = 0
    with transaction(url) as session:
        if "channel_inbox" in tables:
            t = lite_table("channel_inbox", "user_id", "received_at")
            removed += session.execute(delete(t).where(t.c.user_id == sender_id, t.c.received_at <= erased_at)
                                       .execution_options(synchronize_session=False)).rowcount
        if "channel_outbox" in tables:
            t = lite_table("channel_outbox", "user_id", "created_at")
            removed += session.execute(delete(t).where(
                t.c.user_id == sender_id, t.c.created_at <= erased_at + CHANNEL_GRACE)
                .execution_options(synchronize_session=False)).rowcount
        if "channel_addresses" in tables:
            t = lite_table("channel_addresses", "user_id", "last_inbound_at")
            removed += session.execute(delete(t).where(
                t.c.user_id == sender_id, or_(t.c.last_inbound_at.is_(None), t.c.last_inbound_at <= erased_at))
                .execution_options(synchronize_session=False)).rowcount
    return removed


async def finish_channel_erasure(url: str, sender_id: str, erased_at: datetime, timeout: float = 600.0,
                                 poll: float = 1.0) -> None:
    """Wait (up to ``timeout`` s) until the erasure turn's replies have been sent, then forget the channel rows."""
    deadline = time.monotonic() + timeout
    try:
        while (await asyncio.to_thread(pending_channel_rows, url, sender_id, erased_at)
               and time.monotonic() < deadline):
            await asyncio.sleep(poll)
        await asyncio.to_thread(forget_channel_rows, url, sender_id, erased_at)
    except Exception as error:  # noqa: BLE001 - the retention purge removes what is left
        logger.error("channel rows of an erased conversation not removed: %s", type(error).__name__)
