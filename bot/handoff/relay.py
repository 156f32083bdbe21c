"""Reaching the person from outside the dialogue: pausing and resuming their conversation, writing counsellors'
messages into it, and delivering those messages on their channel.

Channels that can push (Telegram, WhatsApp) register an output channel here (``register_output``); their durable
outbox sends the message. For channels that cannot push (REST), messages wait in ``relay_messages`` and are handed
out with the person's next request (``take_pending``).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa.shared.core.events import ActiveLoop, BotUttered, ConversationPaused, ConversationResumed, SlotSet
from sqlalchemy import delete, select

from bot.store.db import transaction
from bot.store.models import RelayMessage

logger = logging.getLogger(__name__)
_OUTPUTS: dict[str, Any] = {}


def register_output(channel: str, output: Any) -> None:
    """Let the handoff push messages on ``channel`` (an ``OutputChannel`` whose recipient is the conversation id)."""
    _OUTPUTS[channel] = output


def take_pending(url: str, conversation_id: str) -> list[dict[str, Any]]:
    """Messages waiting for a pull channel's user, oldest first; they are removed as they are handed out."""
    with transaction(url) as session:
        rows = session.execute(select(RelayMessage).where(RelayMessage.conversation_id == conversation_id)
                               .order_by(RelayMessage.id)).scalars().all()
        messages = [dict(r.message) for r in rows]
        if rows:
            session.execute(delete(RelayMessage).where(RelayMessage.id.in_([r.id for r in rows])))
    return messages


class Conversations:
    """The Rasa side of a handoff: the tracker store (and its lock store) of the running agent."""

    def __init__(self, tracker_store: Any, lock_store: Any, url: str) -> None:
        self.tracker_store = tracker_store
        self.lock_store = lock_store
        self.url = url

    @classmethod
    def of(cls, agent: Any, url: str) -> "Conversations":
        """The conversations of a loaded agent."""
        return cls(agent.tracker_store, agent.lock_store, url)

    async def _update(self, conversation_id: str, *events: Any) -> None:
        async with self.lock_store.lock(conversation_id):
            tracker = await self.tracker_store.get_or_create_tracker(conversation_id)
            for event in events:
                tracker.update(event)
            await self.tracker_store.save(tracker)

    async def pause(self, conversation_id: str) -> None:
        """The bot stops replying; messages are still recorded (and the crisis layer still reads them). A form the
        bot was running (the crisis screener) ends: the counsellor takes it from here."""
        await self._update(conversation_id, ActiveLoop(None), SlotSet("requested_slot", None),
                           ConversationPaused())

    async def resume(self, conversation_id: str) -> None:
        """The bot replies again."""
        await self._update(conversation_id, ConversationResumed())

    async def is_paused(self, conversation_id: str) -> bool:
        """Whether a human has the conversation."""
        tracker = await self.tracker_store.retrieve(conversation_id)
        return bool(tracker and tracker.is_paused())

    async def send(self, conversation_id: str, channel: str, messages: list[dict[str, Any]],
                   sender: str = "counsellor") -> None:
        """Write ``messages`` into the conversation and deliver them on its channel."""
        events = [BotUttered(m.get("text"), {"buttons": m.get("buttons"), "custom": {"from": sender}})
                  for m in messages]
        await self._update(conversation_id, *events)
        output = _OUTPUTS.get(channel)
        if output is not None:
            for message in messages:
                await output.send_response(conversation_id, message)
            return
        with transaction(self.url) as session:
            for message in messages:
                session.add(RelayMessage(conversation_id=conversation_id, message={**message, "from": sender}))

    async def recent(self, conversation_id: str, limit: int = 30) -> list[dict[str, Any]]:
        """The last messages of the conversation (user and bot) with who wrote them and when."""
        tracker = await self.tracker_store.retrieve(conversation_id)
        if tracker is None:
            return []
        out: list[dict[str, Any]] = []
        for event in tracker.events:
            if event.type_name == "user" and event.text and not event.text.startswith("/"):
                crisis = bool((event.parse_data or {}).get("crisis"))
                out.append({"from": "user", "text": event.text, "at": event.timestamp, "crisis": crisis})
            elif event.type_name == "bot" and event.text:
                custom = (event.data or {}).get("custom") or {}
                out.append({"from": custom.get("from", "bot"), "text": event.text, "at": event.timestamp})
        return out[-limit:]


def domain_text(domain: dict[str, Any], name: str, language: Optional[str]) -> Optional[dict[str, Any]]:
    """Response ``name`` in ``language`` as a message (text and buttons), from the domain's variations."""
    default = None
    for variation in (domain.get("responses") or {}).get(name) or []:
        conditions = variation.get("condition") or []
        message = {"text": variation.get("text")}
        if variation.get("buttons"):
            message["buttons"] = variation["buttons"]
        if not conditions:
            default = message
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return message
    return default
