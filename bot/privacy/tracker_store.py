"""Rasa tracker stores that redact what they store and honour "delete my data".

``RedactingSQLTrackerStore`` is Rasa's ``SQLTrackerStore`` (same table, same queries) except that, when saving:

* user events are redacted (``bot.privacy.redact``): the ``text``, ``parse_data.text``, entity values that fall
  in (or contain) a redacted span, and the platform's message id (a WhatsApp ``wamid`` encodes the phone number)
  is replaced by a keyed hash;
* slots filled from free text (``from_text`` mappings) are redacted, except the safety-plan slots listed in
  ``AMANI_REDACTION_KEEP_SLOTS`` (the person's own plan, read back to them: "call my sister on 07...");
* bot messages are stored as they are (crisis-line numbers are not user data);
* a tracker in which an erasing action (``action_delete_my_data``, ``action_forget_conversation``) was followed by
  ``Restarted`` is not saved at all: every stored event of the conversation is deleted instead. Without this, Rasa
  would write the whole in-memory conversation back right after the action server deleted it.

The original text is what NLU and the crisis layer read (parsing happens before saving) and stays in the process
memory for the current turn only. ``RedactingInMemoryTrackerStore`` does the same for the in-memory store.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, Restarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.privacy.redact import Redactor, Span, apply

logger = logging.getLogger(__name__)

ERASING_ACTIONS = ("action_delete_my_data", "action_forget_conversation")


class EventRedactor:
    """Redacts event dictionaries (``Event.as_dict()``) before they are stored."""

    def __init__(self, redactor: Redactor, keep_slots: Iterable[str] = (), hash_key: str = "") -> None:
        self.redactor = redactor
        self.keep_slots = frozenset(keep_slots)
        self.hash_key = hash_key

    @classmethod
    def from_settings(cls, settings: Any) -> "EventRedactor":
        """From the privacy settings."""
        return cls(Redactor.from_settings(settings), settings.redaction_keep_slots, settings.pseudonym_key)

    def event(self, data: dict[str, Any], text_slots: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A redacted copy of one event (the same dict when nothing changes)."""
        if not self.redactor.enabled:
            return data
        kind = data.get("event")
        if kind == "user":
            return self._user(data)
        name = data.get("name")
        if kind == "slot" and isinstance(name, str) and name in text_slots and name not in self.keep_slots:
            value = self._value(data.get("value"))
            if value is not data.get("value"):
                return {**data, "value": value}
        return data

    def _user(self, data: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(data)
        text = data.get("text")
        spans: list[Span] = self.redactor.spans(text) if isinstance(text, str) else []
        if spans:
            data["text"] = apply(text, spans)
        parse = data.get("parse_data")
        if isinstance(parse, dict):
            parse_text = parse.get("text")
            parse_spans = self.redactor.spans(parse_text) if isinstance(parse_text, str) else []
            if parse_spans:
                parse["text"] = apply(parse_text, parse_spans)
            entities = parse.get("entities")
            for entity in entities if isinstance(entities, list) else []:
                if isinstance(entity, dict):
                    self._entity(entity, parse_spans)
            self._hash_message_id(parse)
        self._hash_message_id(data)
        return data

    def _hash_message_id(self, data: dict[str, Any]) -> None:
        """Platform message ids can encode the sender (a WhatsApp ``wamid`` holds the phone number): keyed hash."""
        message_id = data.get("message_id")
        if isinstance(message_id, str) and self.hash_key and not message_id.startswith("h:"):
            data["message_id"] = "h:" + hmac.new(self.hash_key.encode(), message_id.encode(),
                                                 hashlib.sha256).hexdigest()[:32]

    def _entity(self, entity: dict[str, Any], spans: list[Span]) -> None:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int):
            for span in spans:
                if start < span.end and span.start < end:
                    entity["value"] = f"[{span.kind}]"
                    return
        entity["value"] = self._value(entity.get("value"))

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            redacted = self.redactor.redact(value)
            return value if redacted == value else redacted
        if isinstance(value, list) and any(isinstance(v, str) for v in value):
            redacted = [self._value(v) for v in value]
            return value if all(a is b for a, b in zip(redacted, value)) else redacted
        return value


def erased(tracker: DialogueStateTracker) -> bool:
    """True when an erasing action ran and was followed by ``Restarted`` (the person's data was deleted)."""
    armed = False
    for event in tracker.events:
        if isinstance(event, ActionExecuted) and event.action_name in ERASING_ACTIONS:
            armed = True
        elif isinstance(event, UserUttered):
            armed = False
        elif armed and isinstance(event, Restarted):
            return True
    return False


def _text_slots(domain: Any) -> frozenset[str]:
    """Slots filled from free text (``from_text`` mappings)."""
    names = set()
    for slot in getattr(domain, "slots", []) or []:
        if any(isinstance(m, dict) and m.get("type") == "from_text" for m in getattr(slot, "mappings", None) or []):
            names.add(slot.name)
    return frozenset(names)


def _intent_name(data: dict[str, Any]) -> Optional[str]:
    intent = (data.get("parse_data") or {}).get("intent")
    return intent.get("name") if isinstance(intent, dict) else None


_TASKS: set[asyncio.Task] = set()  # running channel clean-ups (kept referenced until done)


def _default_redactor() -> EventRedactor:
    from bot.settings import get_settings

    return EventRedactor.from_settings(get_settings())


class _Redacting:
    """What both stores share: the redactor, the slots it reads, streaming to an event broker redacted."""

    event_redactor: EventRedactor

    def _redacted(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        text_slots = _text_slots(self.domain)  # type: ignore[attr-defined]
        return [self.event_redactor.event(event.as_dict(), text_slots) for event in events]

    async def _stream_new_events(self, event_broker: Any, new_events: list[Event], sender_id: str) -> None:
        for data in self._redacted(new_events):
            event_broker.publish({"sender_id": sender_id, **data})


class RedactingSQLTrackerStore(_Redacting, SQLTrackerStore):
    """Rasa's SQL tracker store, redacting user text and erasing conversations on request (module docstring)."""

    def __init__(self, *args: Any, event_redactor: Optional[EventRedactor] = None,
                 database_url: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_redactor = event_redactor or _default_redactor()
        self.database_url = database_url

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the new events of ``tracker`` redacted, or delete the conversation if it was erased."""
        if erased(tracker):
            await self._erase(tracker.sender_id)
            return
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            for event, data in zip(new_events, self._redacted(new_events)):
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                    intent_name=_intent_name(data), action_name=data.get("name"), data=json.dumps(data),
                ))
            session.commit()

    async def _erase(self, sender_id: str) -> None:
        with self.session_scope() as session:
            session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(
                synchronize_session=False)
            session.commit()
        if self.database_url:  # channel rows that delivered the confirmation go once it is sent
            from bot.privacy.erase import finish_channel_erasure

            task = asyncio.get_running_loop().create_task(
                finish_channel_erasure(self.database_url, sender_id, datetime.now(timezone.utc)))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)


class RedactingInMemoryTrackerStore(_Redacting, InMemoryTrackerStore):
    """Rasa's in-memory tracker store with the same redaction and erasure (tests, ``rasa shell``)."""

    def __init__(self, *args: Any, event_redactor: Optional[EventRedactor] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_redactor = event_redactor or _default_redactor()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store ``tracker`` redacted, or forget it if it was erased."""
        if erased(tracker):
            self.store.pop(tracker.sender_id, None)
            return
        await self.stream_events(tracker)
        dialogue = tracker.as_dialogue().as_dict()
        dialogue["events"] = self._redacted(tracker.events)
        self.store[tracker.sender_id] = json.dumps(dialogue)
