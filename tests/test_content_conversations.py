"""A conversation per language from a topic question through a guided exercise to the helpfulness question and a
follow-up offer, against the trained models, the real dialogue policy, the real action server and its content store
(tests/conftest.py). Expected texts come from domain.yml and the synced content items."""

from __future__ import annotations

import pytest

from tests.conftest import LANGUAGES
from tests.helpers import content_item, filled, text

# (topic question, a typed "yes", a typed "next", a typed "stop"), as people write them
TYPED = {
    "en": ("how can i sleep better", "yes please", "next", "stop"),
    "es": ("cómo puedo dormir mejor", "sí, claro", "siguiente", "para"),
    "pt": ("como posso dormir melhor", "sim, quero", "próximo", "parar"),
    "fr": ("comment mieux dormir", "oui d'accord", "suivant", "stop"),
    "sw": ("nawezaje kulala vizuri", "ndiyo", "endelea", "acha"),
    "hi": ("अच्छी नींद कैसे आए", "हाँ", "aage", "बंद करो"),
    "ar": ("كيف أنام بشكل أفضل", "نعم", "التالي", "توقف"),
}


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", "") for m in messages]


def step(lang: str, exercise, index: int) -> str:
    key = "utter_exercise_last_step" if index == len(exercise.steps) - 1 else "utter_exercise_step"
    return filled(key, lang, step_number=index + 1, step_total=len(exercise.steps), step_text=exercise.steps[index])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_topic_then_exercise_then_did_this_help(chat, action_db, lang):
    question, yes, next_, stop = TYPED[lang]
    user = chat(lang)
    user.say(f'/change_language{{"language": "{lang}"}}')

    sleep = content_item(action_db, "sleep", lang)
    assert texts(user.say(question)) == sleep.messages + [text("utter_ask_helpful", lang)]

    exercise = next(content_item(action_db, s, lang) for s in sleep.related
                    if content_item(action_db, s, lang).kind == "exercise")
    assert texts(user.say("/affirm")) == [
        text("utter_feedback_yes", lang),
        filled("utter_offer_related_exercise", lang, exercise_title=exercise.title,
               exercise_minutes=exercise.duration_minutes)]

    assert texts(user.say(yes)) == exercise.messages + [step(lang, exercise, 0)]
    assert texts(user.say(next_)) == [step(lang, exercise, 1)]
    assert texts(user.say("/exercise_repeat")) == [step(lang, exercise, 1)]
    for index in range(2, len(exercise.steps)):
        assert texts(user.say("/exercise_next")) == [step(lang, exercise, index)]
    assert texts(user.say("/exercise_next")) == [text("utter_exercise_done", lang), text("utter_ask_helpful", lang)]

    assert texts(user.say("/affirm")) == [text("utter_feedback_yes", lang), text("utter_ask_followup", lang)]
    assert texts(user.say(yes)) == [text("utter_followup_scheduled", lang)]
    assert texts(user.say(stop)) == [text("utter_stopped", lang)]


@pytest.mark.parametrize("lang", ["en", "sw", "ar"])
def test_mood_check_in_by_number_then_history(chat, lang):
    user = chat(lang)
    user.say(f'/change_language{{"language": "{lang}"}}')
    assert texts(user.say("/mood_checkin")) == [text("utter_ask_mood_score", lang)]
    assert texts(user.say("4")) == [filled("utter_mood_saved", lang, mood_score=4), text("utter_ask_followup", lang)]
    assert texts(user.say("/deny")) == [text("utter_followup_declined", lang)]
    replies = user.say("/show_mood")
    assert replies[0]["text"].startswith(text("utter_mood_history", lang).split("{")[0])
    assert "🙂 4/5" in replies[0]["text"]
