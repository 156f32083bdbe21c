"""Crisis actions with tracker fixtures in and exact events/responses out (no Rasa server), on a real SQLite
database and with a database that is down."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import crisis, support
from bot.settings import Settings
from bot.store.db import migrate, transaction
from bot.store.models import Escalation

DOMAIN: dict[str, Any] = {"responses": {"utter_skipped_step": [
    {"condition": [{"type": "slot", "name": "language", "value": "sw"}], "text": "imerukwa"},
    {"text": "skipped"}]}}


def tracker(sender: str = "user-1", *, intent: str = "crisis", text: str = "nataka kufa", slots: dict | None = None,
            entities: list | None = None, metadata: dict | None = None, active_loop: str | None = None,
            events: list | None = None) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots={"language": "sw", **(slots or {})},
        latest_message={"intent": {"name": intent, "confidence": 1.0}, "text": text, "metadata": metadata or {},
                        "entities": entities or []},
        events=events or [{"event": "user", "text": text}],
        paused=False, followup_action=None, active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'actions.db'}"
    migrate(url)
    monkeypatch.setattr(support, "settings", lambda: Settings(environment="test", database_url=url))
    return url


def run(action: Any, t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return events, dispatcher.messages


def slot_values(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_support_opens_an_escalation_and_gives_kenyan_lines(database):
    t = tracker(entities=[{"entity": "crisis_reason", "value": "lexicon:sw:kufa"},
                          {"entity": "crisis_category", "value": "suicidal_ideation"}],
                metadata={"country": "KE"})
    events, messages = run(crisis.ActionCrisisSupport(), t)
    slots = slot_values(events)
    assert slots["country"] == "KE" and slots["risk_level"] == "moderate"
    assert slots["crisis_categories"] == ["suicidal_ideation"]
    assert messages[0]["response"] == "utter_crisis_lines"
    assert "1199" in messages[0]["lines"] and messages[0]["emergency_number"] == "999, 112 or 911"
    with transaction(database) as session:
        escalation = session.get(Escalation, slots["escalation_id"])
        assert (escalation.language, escalation.country, escalation.reasons) == ("sw", "KE", ["lexicon:sw:kufa"])
        assert escalation.user_id != "user-1" and len(escalation.user_id) == 32  # pseudonymous


def test_a_child_abuse_disclosure_gets_the_abuse_response(database):
    t = tracker(entities=[{"entity": "crisis_reason", "value": "lexicon:sw:child"},
                          {"entity": "crisis_category", "value": "child_abuse"}])
    events, messages = run(crisis.ActionCrisisSupport(), t)
    assert [m["response"] for m in messages] == ["utter_abuse_support"]  # country unknown: the form will ask
    assert slot_values(events)["risk_level"] == "high"


def test_a_database_that_is_down_does_not_stop_the_crisis_flow(monkeypatch):
    down = "postgresql+psycopg2://nobody@127.0.0.1:1/nothing"
    monkeypatch.setattr(support, "settings", lambda: Settings(environment="test", database_url=down))
    events, messages = run(crisis.ActionCrisisSupport(), tracker(metadata={"country": "KE"}))
    assert messages[0]["response"] == "utter_crisis_lines"
    assert slot_values(events)["escalation_id"] is None
    # and the conclusion still stays with the person
    events, messages = run(crisis.ActionCrisisConclude(), tracker(intent="deny", text="/deny"))
    assert [m["response"] for m in messages] == ["utter_stay_with_you"]


def test_the_first_write_is_retried_by_a_later_action(database):
    t = tracker(intent="deny", text="/deny", slots={"risk_level": "high", "screen_wish_dead": "yes"})
    events, _ = run(crisis.ActionCrisisConclude(), t)
    escalation_id = slot_values(events)["escalation_id"]
    with transaction(database) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation.risk_level == "high" and escalation.screening["wish_dead"] == "yes"


def test_the_form_asks_only_what_applies():
    form = crisis.ValidateCrisisForm()
    dispatcher = CollectingDispatcher()

    def required(**slots: Any) -> list[str]:
        return asyncio.run(form.required_slots([], dispatcher, tracker(slots=slots), DOMAIN))

    assert required()[:3] == ["country_answer", "screen_wish_dead", "screen_thoughts"]
    assert "country_answer" not in required(country="KE")
    assert "screen_method" not in required(country="KE", screen_thoughts="no")
    abuse_only = required(country="KE", crisis_categories=["child_abuse"])
    assert abuse_only == ["human_consent"]
    assert required(country="KE", safety_plan_wanted="yes")[-5:] == list(crisis.PLAN_SLOTS)


def test_the_skipped_step_word_is_read_in_the_users_language():
    assert support.response_text(DOMAIN, "utter_skipped_step", "sw") == "imerukwa"
    assert support.response_text(DOMAIN, "utter_skipped_step", "xx") == "skipped"
