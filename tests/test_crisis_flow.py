"""The crisis flow in every language, end to end: real router and models, real dialogue policy, the real action
server and its database (tests/conftest.py). What the person sees is checked against domain.yml's texts; what the
crisis team will receive is checked in the escalation table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.identity import pseudonymise
from bot.safety.helplines import HelplineRegistry
from bot.settings import Settings
from bot.store.db import transaction
from bot.store.models import Escalation
from tests.conftest import LANGUAGES
from tests.helpers import content_item, text

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = HelplineRegistry.load(ROOT / "content" / "helplines.yaml")

CRISIS = {
    "en": "i dont want to be alive anymore", "es": "ya no quiero vivir", "pt": "não quero mais viver",
    "fr": "je veux mourir", "sw": "nataka kufa", "hi": "मैं मरना चाहता हूँ", "ar": "أريد أن أموت",
}
HOME = {"en": "GB", "es": "MX", "pt": "BR", "fr": "FR", "sw": "KE", "hi": "IN", "ar": "EG"}
TYPED_COUNTRY = {"en": "United Kingdom", "es": "México", "pt": "Brasil", "fr": "France", "sw": "Kenya",
                 "hi": "भारत", "ar": "مصر"}


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", "") for m in messages]


def fill(key: str, lang: str, **values: str) -> str:
    template = text(key, lang)
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def escalation_of(sender: str, url: str) -> Escalation:
    with transaction(url) as session:
        user = pseudonymise(sender, Settings(environment="test").pseudonym_key)
        rows = session.execute(select(Escalation).where(Escalation.user_id == user)).scalars().all()
        assert len(rows) == 1, rows
        return rows[0]


def child_abuse_message(router, lang: str) -> str:
    """A must-fire fixture of this language that the lexicon files under child_abuse (and nothing else)."""
    fixtures = yaml.safe_load((ROOT / "tests" / "fixtures" / "lexicon" / f"{lang}.yml").read_text(encoding="utf-8"))
    for candidate in fixtures["must_fire"]:
        reasons = router.crisis.scan(candidate, lang)
        categories = set(router.crisis.categories(reasons))
        if "child_abuse" in categories and categories <= {"child_abuse", "abuse", "violence"}:
            return candidate
    pytest.fail(f"no child-abuse fixture for {lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_crisis_with_a_known_country_gives_local_lines_then_screens(chat, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    replies = texts(user.say(CRISIS[lang], metadata={"country": HOME[lang]}))
    help_ = REGISTRY.for_country(HOME[lang])
    assert replies[0] == text("utter_crisis", lang)
    lines = replies[1]
    assert all(phone in lines for line in help_.lines for phone in line.phones), lines
    assert help_.emergency in lines
    assert replies[-1] == text("utter_ask_screen_wish_dead", lang)

    assert texts(user.say("/affirm")) == [text("utter_ask_screen_thoughts", lang)]
    assert texts(user.say("/affirm")) == [text("utter_ask_screen_method", lang)]
    assert texts(user.say("/deny")) == [text("utter_ask_screen_intent", lang)]
    assert texts(user.say("/deny")) == [text("utter_ask_screen_plan", lang)]
    assert texts(user.say("/deny")) == [text("utter_ask_screen_behaviour", lang)]
    assert texts(user.say("/deny")) == [text("utter_screening_thanks", lang), text("utter_ask_human_consent", lang)]
    assert texts(user.say("/affirm")) == [text("utter_human_requested", lang),
                                          text("utter_ask_safety_plan_wanted", lang)]
    assert texts(user.say("/deny")) == [text("utter_stay_with_you", lang)]

    escalation = escalation_of(user.sender, action_db)
    assert (escalation.status, escalation.consent_human, escalation.language) == ("pending", True, lang)
    assert escalation.country == HOME[lang]
    assert escalation.risk_level == "moderate"  # suicidal ideation detected; screener: thoughts, no method/intent
    assert escalation.screening == {"wish_dead": "yes", "thoughts": "yes", "method": "no", "intent": "no",
                                    "plan": "no", "behaviour": "no"}
    assert any(r.startswith(f"lexicon:{lang}:") or r == "intent" for r in escalation.reasons)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unknown_country_is_asked_and_a_typed_name_gives_its_lines(chat, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    replies = texts(user.say(CRISIS[lang]))
    assert replies == [text("utter_crisis", lang), text("utter_ask_country_answer", lang)]
    replies = texts(user.say(TYPED_COUNTRY[lang]))
    code = "GB" if lang == "en" else HOME[lang]
    help_ = REGISTRY.for_country(code)
    assert any(line.phones[0] in replies[0] for line in help_.lines), replies
    assert replies[-1] == text("utter_ask_screen_wish_dead", lang)
    assert user.tracker().get_slot("country") == code


@pytest.mark.parametrize("lang", LANGUAGES)
def test_declining_to_say_the_country_gives_the_international_directory(chat, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    user.say(CRISIS[lang])
    replies = texts(user.say("/skip"))
    assert replies == [text("utter_country_unknown", lang), text("utter_ask_screen_wish_dead", lang)]
    assert "findahelpline.com" in replies[0]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_screening_can_be_skipped(chat, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    user.say(CRISIS[lang], metadata={"country": HOME[lang]})
    assert texts(user.say("/skip")) == [text("utter_screening_skipped", lang), text("utter_ask_human_consent", lang)]
    assert texts(user.say("/deny")) == [text("utter_human_declined", lang), text("utter_ask_safety_plan_wanted", lang)]
    assert texts(user.say("/deny")) == [text("utter_stay_with_you", lang)]
    escalation = escalation_of(user.sender, action_db)
    assert escalation.consent_human is False and escalation.status == "open"
    assert set(escalation.screening.values()) == {"skipped"}
    assert escalation.risk_level == "moderate"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_child_abuse_disclosure(chat, router, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    replies = texts(user.say(child_abuse_message(router, lang), metadata={"country": HOME[lang]}))
    assert replies[0] == text("utter_crisis", lang)
    assert text("utter_abuse_support", lang) in replies
    assert replies[-1] == text("utter_ask_human_consent", lang)  # no suicide screener for an abuse disclosure
    assert texts(user.say("/affirm")) == [text("utter_human_requested", lang), text("utter_stay_with_you", lang)]
    escalation = escalation_of(user.sender, action_db)
    assert escalation.risk_level == "high" and escalation.status == "pending"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_crisis_in_the_middle_of_an_exercise(chat, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    exercise = content_item(action_db, "grounding", lang)
    replies = texts(user.say('/ask_exercise{"exercise": "grounding"}'))
    assert replies[:len(exercise.messages)] == exercise.messages
    assert user.tracker().get_slot("exercise") == "grounding"
    replies = texts(user.say(CRISIS[lang], metadata={"country": HOME[lang]}))
    assert replies[0] == text("utter_crisis", lang)
    assert replies[-1] == text("utter_ask_screen_wish_dead", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_crisis_again_during_the_screening_counts_as_yes_and_raises_the_risk(chat, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    user.say(CRISIS[lang], metadata={"country": HOME[lang]})
    replies = texts(user.say(CRISIS[lang]))
    assert replies[0] == text("utter_crisis_short", lang)
    assert replies[-1] == text("utter_ask_screen_thoughts", lang)
    assert user.tracker().get_slot("screen_wish_dead") == "yes"


PLAN_ANSWERS = {
    "en": ["not sleeping, staying in my room", "music and a walk", "my doctor", "give my brother the car keys"],
    "sw": ["sipati usingizi na nakaa chumbani", "muziki na kutembea", "daktari wangu", "kumpa kaka yangu funguo"],
    "ar": ["قلة النوم والعزلة", "الموسيقى والمشي", "طبيبي", "أعطي أخي المفاتيح"],
}


@pytest.mark.parametrize("lang", list(PLAN_ANSWERS))
def test_safety_plan(chat, action_db, lang):
    signs, coping, professionals, environment = PLAN_ANSWERS[lang]
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    user.say(CRISIS[lang], metadata={"country": HOME[lang]})
    user.say("/skip")
    user.say("/deny")
    assert texts(user.say("/affirm")) == [text("utter_ask_sp_warning_signs", lang)]
    assert texts(user.say(signs)) == [text("utter_ask_sp_coping", lang)]
    assert texts(user.say(coping)) == [text("utter_ask_sp_people", lang)]
    assert texts(user.say("/skip")) == [text("utter_ask_sp_professionals", lang)]
    assert texts(user.say(professionals)) == [text("utter_ask_sp_environment", lang)]
    replies = texts(user.say(environment))
    assert replies == [
        fill("utter_safety_plan_summary", lang, sp_warning_signs=signs, sp_coping=coping,
             sp_people=text("utter_skipped_step", lang), sp_professionals=professionals, sp_environment=environment),
        text("utter_stay_with_you", lang),
    ]
    escalation = escalation_of(user.sender, action_db)
    assert escalation.safety_plan == {"warning_signs": signs, "coping": coping, "professionals": professionals,
                                      "environment": environment}


@pytest.mark.parametrize("lang", list(PLAN_ANSWERS))
def test_an_explicit_crisis_while_answering_the_safety_plan_is_still_answered(chat, action_db, lang):
    user = chat(lang)
    user.say(f"/change_language{{\"language\": \"{lang}\"}}")
    user.say(CRISIS[lang], metadata={"country": HOME[lang]})
    user.say("/skip")
    user.say("/deny")
    user.say("/affirm")
    assert texts(user.say(CRISIS[lang])) == [text("utter_crisis_short", lang), text("utter_ask_sp_coping", lang)]


def test_asking_for_a_human_during_the_screening(chat, action_db):
    user = chat()
    user.say(CRISIS["en"], metadata={"country": "GB"})
    replies = texts(user.say("/request_human"))
    assert replies == [text("utter_human_requested", "en"), text("utter_ask_screen_wish_dead", "en")]
    assert escalation_of(user.sender, action_db).status == "pending"


def test_a_plan_disclosed_in_screening_is_urgent(chat, action_db):
    user = chat()
    user.say(CRISIS["en"], metadata={"country": "GB"})
    for answer in ("/affirm", "/affirm", "/affirm", "/affirm", "/affirm"):
        user.say(answer)
    replies = texts(user.say("/affirm"))
    assert replies == [text("utter_risk_urgent", "en"), text("utter_ask_human_consent", "en")]
    assert escalation_of(user.sender, action_db).risk_level == "imminent"
