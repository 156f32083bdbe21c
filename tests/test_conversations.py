"""Conversations in every language against the trained models, the real router and the real dialogue policy."""

from __future__ import annotations

import pytest

from tests.helpers import content_item, domain, text, variations

# What a person might type, per language: greeting, consent, mood, topic question, goodbye, crisis.
SCRIPTS = {
    "en": ["hi", "yes", "I'm feeling really stressed", "how can I sleep better", "bye", "I want to end my life"],
    "es": ["hola", "sí", "me siento muy estresada", "cómo puedo dormir mejor", "adiós",
           "ya no quiero vivir"],
    "pt": ["olá", "sim", "estou muito ansioso", "como posso dormir melhor", "tchau", "não quero mais viver"],
    "fr": ["bonjour", "oui", "je suis très stressé", "comment mieux dormir", "au revoir",
           "je veux mourir"],
    "sw": ["habari", "ndiyo", "nina wasiwasi sana", "nawezaje kulala vizuri", "kwaheri",
           "nataka kufa"],
    "hi": ["नमस्ते", "हाँ", "मुझे बहुत चिंता हो रही है", "अच्छी नींद कैसे आए", "अलविदा",
           "मैं मरना चाहता हूँ"],
    "hi-Latn": ["kaise ho", "haan", "mujhe bahut tension hai", "neend kaise aaye", "alvida",
                "main marna chahta hoon"],
    "ar": ["مرحبا", "نعم", "أشعر بقلق شديد", "كيف أنام بشكل أفضل", "مع السلامة", "أريد أن أموت"],
}


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", "") for m in messages]


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_check_in_conversation(chat, action_db, script):
    lang = script.split("-")[0]
    greet, consent, mood, topic, bye, _ = SCRIPTS[script]
    user = chat(script)

    assert texts(user.say(greet)) == [text("utter_greet", lang), text("utter_ask_consent_given", lang)]
    assert texts(user.say(consent)) == [text("utter_consent_thanks", lang), text("utter_ask_mood", lang)]
    assert user.tracker().get_slot("consent_given") is True

    replies = texts(user.say(mood))
    assert replies[0] in variations("utter_mood_response", lang)
    assert replies[1] == text("utter_offer_help", lang)
    assert user.tracker().get_slot("mood") in {"anxious", "stressed"}

    replies = texts(user.say(topic))
    assert replies == content_item(action_db, "sleep", lang).messages + [text("utter_ask_helpful", lang)]

    assert texts(user.say(bye)) == [text("utter_goodbye", lang)]
    assert user.tracker().get_slot("language") == lang


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_crisis_reaches_the_static_crisis_response(chat, script):
    lang = script.split("-")[0]
    user = chat(script)
    user.say(SCRIPTS[script][0])
    user.say(SCRIPTS[script][1])
    replies = texts(user.say(SCRIPTS[script][5]))
    assert replies[0] == text("utter_crisis", lang)
    parse = user.tracker().latest_message.parse_data
    assert parse["crisis"] is True and parse["crisis_reasons"]


@pytest.mark.parametrize("script", ["en", "es", "ar"])
def test_crisis_during_the_consent_form_interrupts_it(chat, script):
    lang = script.split("-")[0]
    user = chat(script)
    user.say(SCRIPTS[script][0])
    assert user.tracker().active_loop_name == "consent_form"
    replies = texts(user.say(SCRIPTS[script][5]))
    assert replies[0] == text("utter_crisis", lang)
    assert user.tracker().active_loop_name == "crisis_form"


def test_language_switch_mid_conversation(chat):
    user = chat()
    user.say("hi")
    user.say("yes")
    assert texts(user.say("can we speak in spanish please")) == [text("utter_language_changed", "es")]
    assert user.tracker().get_slot("language") == "es"
    assert texts(user.say("gracias")) == [text("utter_thanks", "es")]
    assert texts(user.say("ok")) != []  # a one-word reply never flips the language back
    assert user.tracker().get_slot("language") == "es"


def test_writing_in_another_language_switches(chat):
    user = chat()
    user.say("hello")
    user.say("yes")
    replies = texts(user.say("bonjour, je me sens très anxieux ces temps-ci"))
    assert replies[0] in variations("utter_mood_response", "fr")
    assert user.tracker().get_slot("language") == "fr"


def test_one_word_in_another_language_is_understood_but_does_not_switch(chat):
    user = chat()
    user.say("hola")
    user.say("sí")
    assert texts(user.say("thanks")) == [text("utter_thanks", "es")]
    assert user.tracker().get_slot("language") == "es"


def test_unsupported_language_gets_the_list_of_languages(chat):
    user = chat()
    replies = user.say("Ich bin heute sehr traurig und weiß nicht, was ich tun soll")
    assert texts(replies) == [text_any("utter_unsupported_language")]
    assert len(replies[0]["buttons"]) == 7


def text_any(key: str) -> str:
    return domain()["responses"][key][0]["text"]


@pytest.mark.parametrize("lang,message", [("en", "are you a real person?"), ("es", "eres un robot?"),
                                          ("sw", "wewe ni binadamu?"), ("ar", "هل انت انسان؟")])
def test_are_you_human_is_answered_honestly(chat, lang, message):
    user = chat(lang)
    assert texts(user.say(message)) == [text("utter_bot_challenge", lang)]


def test_gibberish_gets_a_clarifying_question_with_options(chat):
    user = chat()
    user.say("hello")
    user.say("yes")
    replies = user.say("asdf qwerty zxcv")
    assert replies and replies[0].get("buttons"), "low confidence must never be a dead end"


def test_clarify_offers_an_urgent_help_button_in_every_language():
    for variation in domain()["responses"]["utter_clarify"]:
        assert "/crisis" in [b["payload"] for b in variation["buttons"]]
