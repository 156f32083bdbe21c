"""Delete my data, end to end below the dialogue model: a person's rows in every table (tracker events through the
real redacting SQL tracker store, wellbeing, channels, relay, an escalation with its audit trail and handoff
packet), the real action run as the action server runs it, its events applied to the Rasa tracker and saved as the
processor does, then the privacy report: zero rows, on SQLite and on PostgreSQL. Escalations stay, anonymised."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions import privacy as privacy_actions
from bot.actions import support
from bot.identity import pseudonymise
from bot.privacy.erase import Person, erase, finish_channel_erasure, report, sender_for
from bot.settings import Settings
from bot.store.channel_models import ChannelAddress, InboxMessage, OutboxMessage
from bot.store.db import transaction
from bot.store.models import (
    Escalation,
    EscalationEvent,
    Feedback,
    FollowUp,
    HandoffDelivery,
    MoodEntry,
    RelayMessage,
)
from tests.privacy.conftest import KEY, make_store
from tests.privacy.test_tracker_store import conversation

NOW = datetime.now(timezone.utc)


def populate(url: str, person: Person, platform: str = "whatsapp") -> str:
    """One row of everything Amani can store about ``person``; returns the escalation id."""
    with transaction(url) as session:
        session.add_all([
            MoodEntry(user_id=person.user_id, score=2),
            Feedback(user_id=person.user_id, slug="sleep", language="sw", helpful=True),
            FollowUp(user_id=person.user_id, due_at=NOW + timedelta(days=1), status="scheduled"),
            RelayMessage(conversation_id=person.sender_id, message={"text": "a counsellor's words"}),
            InboxMessage(platform=platform, platform_message_id=f"m-{person.sender_id[:6]}", user_id=person.sender_id,
                         text=None, meta={}, status="done", attempts=1),
            OutboxMessage(platform=platform, user_id=person.sender_id, method="text", body=None, status="sent"),
            ChannelAddress(platform=platform, user_id=person.sender_id, address=b"encrypted", last_inbound_at=NOW),
        ])
        escalation = Escalation(
            user_id=person.user_id, channel=platform, language="sw", country="KE", risk_level="high",
            reasons=["lexicon:sw:kujiua"], screening={"thoughts": "yes"}, status="pending",
            safety_plan={"people": "dada 0712345678"}, notes="called back", conversation_id=person.sender_id,
            transcript=[{"from": "user", "text": "nataka kufa"}],
        )
        session.add(escalation)
        session.flush()
        session.add_all([
            EscalationEvent(escalation_id=escalation.id, actor="bot", kind="updated",
                            detail={"status": "pending", "conversation_id": person.sender_id,
                                    "transcript": "(text)"}),
            HandoffDelivery(escalation_id=escalation.id, target="webhook", kind="handoff",
                            idempotency_key=f"{escalation.id}:handoff:webhook", status="delivered", attempts=1,
                            payload={"risk_level": "high", "last_messages": [{"text": "nataka kufa"}]}),
        ])
        return escalation.id


def confirmed(domain: Any, sender: str) -> DialogueStateTracker:
    """A conversation that reached the confirmation question and the person pressed "yes, delete"."""
    tracker = conversation(domain, sender)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("futa data yangu", {"name": "delete_data", "confidence": 0.97}))
    tracker.update(ActionExecuted("utter_ask_delete_data"))
    tracker.update(BotUttered("Unataka nifute data yako?", metadata={"utter_action": "utter_ask_delete_data"}))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("/delete_data_confirm", {"name": "delete_data_confirm", "confidence": 1.0}))
    return tracker


def run_action(action: Any, tracker: DialogueStateTracker) -> tuple[list[dict], list[dict]]:
    """Run ``action`` on what Rasa sends the action server."""
    dispatcher = CollectingDispatcher()
    sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    events = asyncio.run(action.run(dispatcher, sdk_tracker, {}))
    return events, dispatcher.messages


def apply_like_the_processor(tracker: DialogueStateTracker, name: str, events: list[dict],
                             messages: list[dict]) -> None:
    """What rasa.core.processor does with a custom action's answer: ActionExecuted, the uttered messages, the
    returned events, then the follow-up action it asked for."""
    tracker.update(ActionExecuted(name))
    tracker.update_with_events([BotUttered(metadata={"utter_action": m["response"]}) for m in messages]
                               + deserialise_events(events), None)
    if tracker.followup_action:
        tracker.update(ActionExecuted(tracker.followup_action))


@pytest.fixture
def configured(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(support, "settings", lambda: Settings(environment="test", database_url=url,
                                                              pseudonym_key=KEY))
    return url


def test_delete_my_data_leaves_nothing_but_an_anonymous_escalation(configured, domain):
    url = configured
    store = make_store(url, domain)
    sender = sender_for("whatsapp:+254 712 345 678", KEY)
    person, other = Person.of(sender, KEY), Person.of("someone-else", KEY)
    tracker = confirmed(domain, sender)
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(conversation(domain, other.sender_id)))
    escalation_id = populate(url, person)
    populate(url, other)
    before = report(url, person)
    assert all(before[t] >= 1 for t in before), before

    events, messages = run_action(privacy_actions.ActionDeleteMyData(), tracker)
    assert [m["response"] for m in messages] == ["utter_data_deleted"]
    assert [e["event"] for e in events] == ["restart", "followup"]
    apply_like_the_processor(tracker, "action_delete_my_data", events, messages)
    asyncio.run(store.save(tracker))  # the Rasa server saves the turn: the store erases instead
    asyncio.run(finish_channel_erasure(url, sender, datetime.now(timezone.utc), timeout=5, poll=0.05))

    assert report(url, person) == {table: 0 for table in before}
    assert all(report(url, other)[t] >= 1 for t in before)  # nobody else's data is touched
    with transaction(url) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation.user_id.startswith("anon-") and escalation.conversation_id is None
        assert (escalation.transcript, escalation.safety_plan, escalation.notes) == (None, None, None)
        assert (escalation.risk_level, escalation.status, escalation.country) == ("high", "pending", "KE")
        details = [e.detail for e in escalation.events]
        assert sender not in json.dumps(details) and details[-1] == {"reason": "erasure"}
        delivery = session.execute(select(HandoffDelivery).where(
            HandoffDelivery.escalation_id == escalation_id)).scalar_one()
        assert delivery.payload["last_messages"] == [] and delivery.payload["risk_level"] == "high"


def test_the_confirmation_can_still_be_delivered_then_channel_rows_go(configured, domain):
    url = configured
    sender = sender_for("telegram:4242", KEY)
    person = Person.of(sender, KEY)
    populate(url, person, platform="telegram")
    with transaction(url) as session:  # the message being processed and an earlier reply not yet sent
        session.add(InboxMessage(platform="telegram", platform_message_id="in-flight", user_id=sender, text="/x",
                                 meta={}, status="processing", attempts=1))
        session.add(OutboxMessage(platform="telegram", user_id=sender, method="sendMessage", body={"text": "hi"},
                                  status="pending"))
    counts = erase(url, person, keep_delivery=True)
    assert counts["channel_addresses"] == 0
    left = report(url, person)
    assert (left["channel_inbox"], left["channel_outbox"], left["channel_addresses"]) == (1, 1, 1)
    erased_at = datetime.now(timezone.utc)

    async def deliver_then_finish() -> None:
        task = asyncio.ensure_future(finish_channel_erasure(url, sender, erased_at, timeout=10, poll=0.05))
        await asyncio.sleep(0.3)
        assert not task.done()  # waits while the reply is unsent
        with transaction(url) as session:
            for row in session.execute(select(OutboxMessage).where(OutboxMessage.user_id == sender)).scalars():
                row.status, row.body = "sent", None
            for row in session.execute(select(InboxMessage).where(InboxMessage.user_id == sender)).scalars():
                row.status = "done"
        await asyncio.wait_for(task, 5)

    asyncio.run(deliver_then_finish())
    assert sum(report(url, person).values()) == 0


def test_an_old_yes_button_asks_again_and_deletes_nothing(configured, domain):
    url = configured
    tracker = conversation(domain, "early-yes")
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("/delete_data_confirm", {"name": "delete_data_confirm", "confidence": 1.0}))
    populate(url, Person.of("early-yes", KEY))
    events, messages = run_action(privacy_actions.ActionDeleteMyData(), tracker)
    assert (events, [m["response"] for m in messages]) == ([], ["utter_ask_delete_data"])
    assert report(url, Person.of("early-yes", KEY))["mood_entries"] == 1


def test_a_database_that_is_down_is_said_and_nothing_restarts(monkeypatch, domain):
    monkeypatch.setattr(support, "settings", lambda: Settings(
        environment="test", database_url="postgresql+psycopg2://nobody@127.0.0.1:1/nothing", pseudonym_key=KEY))
    events, messages = run_action(privacy_actions.ActionDeleteMyData(), confirmed(domain, "unlucky"))
    assert (events, [m["response"] for m in messages]) == ([], ["utter_delete_data_failed"])


def test_declined_consent_is_forgotten_silently(configured, domain):
    url = configured
    store = make_store(url, domain)
    tracker = conversation(domain, "declined")
    asyncio.run(store.save(tracker))
    events, messages = run_action(privacy_actions.ActionForgetConversation(), tracker)
    assert messages == [] and [e["event"] for e in events] == ["restart", "followup"]
    apply_like_the_processor(tracker, "action_forget_conversation", events, messages)
    asyncio.run(store.save(tracker))
    assert report(url, Person.of("declined", KEY))["events"] == 0


def test_platform_ids_map_to_the_channels_pseudonyms():
    assert sender_for("telegram:4242", KEY) == pseudonymise("telegram:4242", KEY)
    assert sender_for("whatsapp:+254 712-345-678", KEY) == pseudonymise("whatsapp:254712345678", KEY)
    assert sender_for("webchat:abcdef12", KEY) == pseudonymise("webchat:abcdef12", KEY)
    assert sender_for("rest:me", KEY) == sender_for("me", KEY) == "me"


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AMANI_DATABASE_URL": url, "AMANI_PSEUDONYM_KEY": KEY, "AMANI_ENVIRONMENT": "test"}
    return subprocess.run([sys.executable, "-m", "bot", "privacy", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Settings().root)


def test_cli_report_and_erase(url, domain):
    store = make_store(url, domain)
    sender = sender_for("telegram:777", KEY)
    asyncio.run(store.save(conversation(domain, sender)))
    populate(url, Person.of(sender, KEY), platform="telegram")
    shown = cli(url, "report", "--user", "telegram:777", "--json")
    counts = json.loads(shown.stdout)
    assert shown.returncode == 0 and counts["events"] > 0 and counts["escalations"] == 1 and counts["feedback"] == 1
    assert "777" not in shown.stdout + shown.stderr
    refused = cli(url, "erase", "--user", "telegram:777")
    assert refused.returncode == 2
    assert json.loads(cli(url, "report", "--user", "telegram:777", "--json").stdout) == counts
    assert cli(url, "erase", "--user", "telegram:777", "--yes").returncode == 0
    assert set(json.loads(cli(url, "report", "--sender", sender, "--json").stdout).values()) == {0}
