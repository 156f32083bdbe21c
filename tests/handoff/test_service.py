"""The handoff state machine and what it does to the conversation, with Rasa's real tracker and lock stores:
accept pauses the bot and tells the person, replies are relayed (REST: handed out with the next request),
resolve resumes with a check-in in the person's language; wrong transitions and wrong people are refused;
the queue is ordered by risk then waiting time; an unaccepted handoff is noticed once; a crisis message while a
counsellor has the conversation raises the risk."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from bot.handoff.auth import Identity
from bot.handoff.dispatcher import Dispatcher
from bot.handoff.relay import Conversations, take_pending
from bot.handoff.service import HandoffError, HandoffService
from bot.settings import Settings
from bot.store.db import migrate, transaction
from bot.store.escalations import EscalationRepository
from bot.store.models import Escalation, HandoffDelivery
from tests.helpers import ROOT, text

SAM = Identity("sam", "counsellor")
ALEX = Identity("alex", "counsellor")
BOSS = Identity("pat", "supervisor")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def env(tmp_path, domain):
    url = f"sqlite:///{tmp_path / 'amani.db'}"
    migrate(url)
    settings = Settings(environment="test", database_url=url)
    conversations = Conversations(InMemoryTrackerStore(domain), InMemoryLockStore(), url)
    with transaction(url) as session:
        from bot.handoff.auth import add_counsellor
        for who in (SAM, ALEX, BOSS):
            add_counsellor(session, who.username, "correct horse battery", who.role)
    return settings, conversations, HandoffService(settings, conversations)


def waiting(url: str, conversation: str, language: str = "sw", country: str = "KE", risk: str = "high") -> str:
    with transaction(url) as session:
        repo = EscalationRepository(session)
        escalation = repo.record_detection(f"p-{conversation}", channel="rest", language=language, country=country,
                                           risk_level=risk, reasons=["intent"])
        repo.update(escalation, status="pending", conversation_id=conversation, consent_human=True)
        return escalation.id


def run(coroutine):
    return asyncio.run(coroutine)


def test_accept_reply_resolve(env):
    settings, conversations, service = env
    escalation_id = waiting(settings.database_url, "conv-1", language="sw")
    detail = run(service.accept(escalation_id, SAM))
    assert (detail["status"], detail["assigned_to"]) == ("accepted", "sam")
    assert run(conversations.is_paused("conv-1"))
    assert [m["text"] for m in take_pending(settings.database_url, "conv-1")] == [text("utter_human_joined", "sw")]

    run(service.reply(escalation_id, SAM, "Habari, mimi ni Sam. Niko hapa nawe."))
    assert take_pending(settings.database_url, "conv-1") == [
        {"text": "Habari, mimi ni Sam. Niko hapa nawe.", "from": "counsellor"}]
    assert take_pending(settings.database_url, "conv-1") == []  # handed out once

    run(service.resolve(escalation_id, SAM))
    assert not run(conversations.is_paused("conv-1"))
    assert [m["text"] for m in take_pending(settings.database_url, "conv-1")] == [
        text("utter_human_resolved", "sw")]
    tracker = run(conversations.tracker_store.retrieve("conv-1"))
    kinds = [e.type_name for e in tracker.events]
    assert kinds.index("pause") < kinds.index("resume")
    bot_texts = [(e.text, (e.data.get("custom") or {}).get("from")) for e in tracker.events if e.type_name == "bot"]
    assert ("Habari, mimi ni Sam. Niko hapa nawe.", "counsellor") in bot_texts
    with transaction(settings.database_url) as session:
        events = [(e.actor, e.kind) for e in session.get(Escalation, escalation_id).events]
    assert ("sam", "replied") in events and events[-1] == ("sam", "updated")
    assert all("Habari" not in str(e) for e in events)  # the audit trail holds no message text


def test_wrong_people_and_wrong_states_are_refused(env):
    settings, _, service = env
    escalation_id = waiting(settings.database_url, "conv-2")
    with pytest.raises(HandoffError) as error:
        run(service.reply(escalation_id, SAM, "hi"))
    assert error.value.status == 409  # not accepted yet
    run(service.accept(escalation_id, SAM))
    with pytest.raises(HandoffError) as error:
        run(service.accept(escalation_id, ALEX))
    assert error.value.status == 409
    with pytest.raises(HandoffError) as error:
        run(service.reply(escalation_id, ALEX, "hi"))
    assert error.value.status == 403
    service.transfer(escalation_id, SAM, "alex")
    run(service.reply(escalation_id, ALEX, "hi, I'm Alex"))  # now Alex's
    run(service.reply(escalation_id, BOSS, "supervisor here"))  # supervisors may step in
    with pytest.raises(HandoffError) as error:
        service.transfer(escalation_id, ALEX, "nobody")
    assert error.value.status == 400
    run(service.resolve(escalation_id, ALEX))
    with pytest.raises(HandoffError) as error:
        run(service.accept(escalation_id, SAM))
    assert error.value.status == 409
    with pytest.raises(HandoffError) as error:
        run(service.detail("nope"))
    assert error.value.status == 404


def test_the_queue_is_ordered_by_risk_then_waiting_time(env):
    settings, _, service = env
    url = settings.database_url
    low = waiting(url, "a", risk="low")
    high_later = waiting(url, "b", risk="high")
    imminent = waiting(url, "c", risk="imminent")
    high_earlier = waiting(url, "d", risk="high")
    with transaction(url) as session:  # d has been waiting longer than b
        for event in session.get(Escalation, high_earlier).events:
            event.at = event.at - timedelta(minutes=4)
    accepted = waiting(url, "e", risk="imminent")
    run(service.accept(accepted, SAM))
    queue = service.queue()
    assert [q["id"] for q in queue] == [imminent, high_earlier, high_later, low, accepted]
    first = queue[1]
    assert first["service_level_minutes"] == 5 and 230 < first["waiting_seconds"] < 260
    assert first["time_left_seconds"] == 300 - first["waiting_seconds"] and not first["overdue"]


def test_an_unaccepted_handoff_is_noticed_once(env):
    settings, conversations, service = env
    url = settings.database_url
    escalation_id = waiting(url, "conv-3", language="sw", country="KE")
    timed = Settings(environment="test", database_url=url, handoff_accept_timeout_seconds=600,
                     crisis_webhook_url="http://127.0.0.1:9/unused", crisis_webhook_secret="x" * 20)
    dispatcher = Dispatcher(timed, targets={}, on_timeout=service.notify_timeout,
                            clock=lambda: __import__("datetime").datetime.now(
                                __import__("datetime").timezone.utc) + timedelta(minutes=11))
    assert run(dispatcher.check_timeouts()) == 1
    assert run(dispatcher.check_timeouts()) == 0  # once
    messages = take_pending(url, "conv-3")
    assert messages[0]["text"] == text("utter_handoff_timeout", "sw")
    assert "1199" in messages[1]["text"]  # Kenya's lines, from the verified registry
    assert messages[2]["text"] == text("utter_handoff_keep_waiting_question", "sw")
    assert [b["payload"] for b in messages[2]["buttons"]] == ["/handoff_keep_waiting", "/handoff_stop_waiting"]
    with transaction(url) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation.status == "pending"  # stays open
        alerts = [d.idempotency_key for d in session.query(HandoffDelivery).all()]
    assert alerts == [f"{escalation_id}:alert:webhook"]


def test_a_crisis_message_during_the_human_conversation_raises_the_risk(env):
    settings, _, service = env
    escalation_id = waiting(settings.database_url, "conv-4", risk="moderate")
    run(service.crisis_while_paused("conv-4", {"crisis_categories": ["suicidal_ideation"],
                                               "crisis_reasons": ["lexicon:sw:kujiua"]}))
    with transaction(settings.database_url) as session:
        assert session.get(Escalation, escalation_id).risk_level == "moderate"  # not with a human yet: unchanged
    run(service.accept(escalation_id, SAM))
    run(service.crisis_while_paused("conv-4", {"crisis_categories": ["plan_or_goodbye"],
                                               "crisis_reasons": ["lexicon:sw:plan"]}))
    with transaction(settings.database_url) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation.risk_level in ("high", "imminent")
        assert "lexicon:sw:plan" in escalation.reasons
        assert "crisis_during_handoff" in [e.kind for e in escalation.events]


def test_accept_button_in_the_counsellors_telegram_group(env):
    from types import SimpleNamespace

    from bot.handoff.telegram_group import accept_from_group, is_group_accept

    settings, conversations, _ = env
    settings = settings.copy(update={"crisis_telegram_chat_id": "-100123"})
    escalation_id = waiting(settings.database_url, "conv-5")
    press = {"update_id": 7, "callback_query": {
        "id": "q1", "data": f"handoff:accept:{escalation_id}", "from": {"id": 42, "username": "sam"},
        "message": {"message_id": 3, "chat": {"id": -100123, "type": "supergroup"}}}}
    elsewhere = {**press, "callback_query": {**press["callback_query"],
                                             "message": {"chat": {"id": 555, "type": "private"}}}}
    assert is_group_accept(press, settings) and not is_group_accept(elsewhere, settings)
    agent = SimpleNamespace(tracker_store=conversations.tracker_store, lock_store=conversations.lock_store)
    answer = run(accept_from_group(press, settings, agent))
    assert answer == {"method": "answerCallbackQuery", "callback_query_id": "q1",
                      "text": "Accepted by sam. Continue in the console."}
    assert run(conversations.is_paused("conv-5"))
    again = run(accept_from_group({**press, "callback_query": {**press["callback_query"],
                                                               "from": {"id": 43, "username": "alex"}}},
                                  settings, agent))
    assert again["text"] == "Not accepted: already accepted by sam"
