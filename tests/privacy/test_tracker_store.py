"""The redacting tracker stores: Rasa's real SQLTrackerStore on SQLite and PostgreSQL (built from bot.server's
endpoint config) and the in-memory store. Stored rows hold no phone number or e-mail; bot messages and mood
answers are untouched; "delete my data" leaves no event behind."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

from bot.privacy.redact import Redactor
from bot.privacy.tracker_store import EventRedactor, RedactingInMemoryTrackerStore, erased
from bot.store.db import engine_for
from tests.privacy.conftest import KEY, events_text, make_store

PHONE = "0712 345 678"
EMAIL = "amina.w@example.com"
WAMID = "whatsapp:wamid.HBgMMjU0NzEyMzQ1Njc4FQIAEhgg"


def conversation(domain: Any, sender: str = "person-1") -> DialogueStateTracker:
    """A turn with a phone number and an e-mail, a mood answer, a safety-plan answer, and bot replies."""
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    message = f"call me on {PHONE} or {EMAIL}"
    tracker.update(UserUttered(message, {"name": "share_mood", "confidence": 0.9}, [
        {"entity": "contact", "value": PHONE, "start": 11, "end": 23, "extractor": "CRFEntityExtractor"},
        {"entity": "language", "value": "en", "extractor": "LanguageRouter"},
    ], message_id=WAMID, input_channel="whatsapp", parse_data={
        "text": message, "intent": {"name": "share_mood", "confidence": 0.9}, "message_id": WAMID,
        "entities": [{"entity": "contact", "value": PHONE, "start": 11, "end": 23}]}))
    tracker.update(BotUttered("If you are in danger call 1199 or +254 722 178 177."))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("3", {"name": "rate_mood", "confidence": 1.0},
                               [{"entity": "mood_score", "value": "3"}]))
    tracker.update(SlotSet("mood_score", "3"))
    tracker.update(SlotSet("country_answer", f"Kenya, my number is {PHONE}"))
    tracker.update(SlotSet("sp_people", f"my sister {PHONE}"))
    return tracker


def stored(url: str, sender: str) -> list[dict[str, Any]]:
    with engine_for(url).connect() as connection:
        rows = connection.execute(text("select data from events where sender_id = :s order by id"),
                                  {"s": sender}).all()
    return [json.loads(row[0]) for row in rows]


def test_sql_store_redacts_user_text_on_sqlite_and_postgresql(url, domain):
    store = make_store(url, domain)
    tracker = conversation(domain)
    asyncio.run(store.save(tracker))
    rows = stored(url, "person-1")
    raw = events_text([r for r in rows if not (r["event"] == "slot" and r["name"] == "sp_people")])
    assert "0712" not in raw and "345 678" not in raw and EMAIL not in raw and "wamid" not in raw
    user = [r for r in rows if r["event"] == "user"]
    assert user[0]["text"] == "call me on [phone] or [email]"
    assert user[0]["parse_data"]["text"] == "call me on [phone] or [email]"
    assert user[0]["parse_data"]["entities"][0]["value"] == "[phone]"
    assert user[0]["message_id"].startswith("h:")
    assert user[1]["text"] == "3"  # a mood answer is not a phone number
    bot = next(r for r in rows if r["event"] == "bot")
    assert bot["text"] == "If you are in danger call 1199 or +254 722 178 177."  # crisis lines are not user data
    slots = {r["name"]: r["value"] for r in rows if r["event"] == "slot"}
    assert slots["mood_score"] == "3"
    assert slots["country_answer"] == "Kenya, my number is [phone]"
    assert slots["sp_people"] == f"my sister {PHONE}"  # the person's own safety plan, read back to them


def test_the_stored_conversation_still_works_and_later_turns_append(url, domain):
    store = make_store(url, domain)
    tracker = conversation(domain)
    asyncio.run(store.save(tracker))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("text me: +55 11 91234-5678", {"name": "inform", "confidence": 1.0}))
    asyncio.run(store.save(tracker))  # only the new events are appended (Rasa counts the stored ones)
    back = asyncio.run(store.retrieve("person-1"))
    assert len(back.events) == len(tracker.events)
    assert back.latest_message.text == "text me: [phone]"
    assert back.get_slot("mood_score") == "3"


def test_redaction_off_stores_the_text_as_it_was(url, domain):
    store = make_store(url, domain, enabled=False)
    asyncio.run(store.save(conversation(domain, "plain")))
    assert PHONE in json.dumps(stored(url, "plain"))


def test_an_erasing_action_followed_by_restarted_deletes_the_conversation(url, domain):
    store = make_store(url, domain)
    tracker = conversation(domain, "erase-me")
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(conversation(domain, "someone-else")))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("/delete_data_confirm", {"name": "delete_data_confirm", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_delete_my_data"))
    tracker.update(BotUttered("Done: I've deleted our conversation."))
    tracker.update(Restarted())
    tracker.update(ActionExecuted("action_listen"))
    assert erased(tracker)
    asyncio.run(store.save(tracker))
    assert stored(url, "erase-me") == []
    assert stored(url, "someone-else")  # nobody else's conversation is touched
    assert asyncio.run(store.retrieve("erase-me")) is None


def test_a_restart_alone_is_not_an_erasure(domain):
    tracker = conversation(domain)
    tracker.update(ActionExecuted("action_restart"))
    tracker.update(Restarted())
    assert not erased(tracker)
    tracker.update(ActionExecuted("action_delete_my_data"))
    tracker.update(UserUttered("hi"))
    tracker.update(Restarted())
    assert not erased(tracker)  # the erasing action belongs to an earlier turn


def test_in_memory_store_redacts_and_erases(domain):
    store = RedactingInMemoryTrackerStore(domain, event_redactor=EventRedactor(Redactor(), ["sp_people"], KEY))
    tracker = conversation(domain)
    asyncio.run(store.save(tracker))
    assert PHONE not in store.store["person-1"].replace(f"my sister {PHONE}", "")
    assert asyncio.run(store.retrieve("person-1")).latest_message.text == "3"
    tracker.update(ActionExecuted("action_forget_conversation"))
    tracker.update(Restarted())
    asyncio.run(store.save(tracker))
    assert "person-1" not in store.store


def test_events_streamed_to_a_broker_are_redacted(domain):
    published: list[dict] = []

    class Broker:
        def publish(self, event: dict) -> None:
            published.append(event)

    store = RedactingInMemoryTrackerStore(domain, event_broker=Broker(),
                                          event_redactor=EventRedactor(Redactor(), [], KEY))
    asyncio.run(store.save(conversation(domain)))
    assert published and PHONE not in json.dumps(published) and EMAIL not in json.dumps(published)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_bot_server_configures_the_redacting_store(kind, tmp_path, domain):
    from bot.privacy.tracker_store import RedactingSQLTrackerStore
    from bot.server import tracker_store_config
    from bot.settings import Settings
    from tests.privacy.conftest import make_url

    url = make_url(kind, tmp_path, "amani_privacy_wiring")
    store = TrackerStore.create(tracker_store_config(Settings(environment="test", database_url=url)), domain)
    assert isinstance(store, RedactingSQLTrackerStore) and store.database_url == url
    asyncio.run(store.save(conversation(domain, "wired")))
    assert "0712" not in events_text([r for r in stored(url, "wired") if r.get("name") != "sp_people"])
    engine_for(url).dispose()
    store.engine.dispose()
