"""The language router's order of decisions, with the real language identifier and crisis lexicons.

NLU here is a stand-in that returns a fixed intent, so each routing rule is tested on its own; the trained models
are exercised in tests/test_conversations.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.nlu.router import MAX_NLU_CHARS, LanguageRouter
from bot.runtime import load_crisis_detector, load_identifier


class StubNLU:
    """Answers every text with one intent; remembers what it was asked."""

    def __init__(self, language: str, intent: str = "share_mood") -> None:
        self.language, self.intent, self.seen = language, intent, []

    async def parse_message(self, text: str) -> dict[str, Any]:
        self.seen.append(text)
        intent = {"name": self.intent, "confidence": 0.9}
        return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}


@pytest.fixture(scope="module")
def parts(settings, registry):
    return load_identifier(settings, registry), load_crisis_detector(settings)


def make_router(registry, parts, intent: str = "share_mood") -> LanguageRouter:
    identifier, crisis = parts
    parsers = {code: StubNLU(code, intent) for code in registry.codes}
    return LanguageRouter(registry, identifier, parsers, crisis, known_intents={"share_mood", "change_language",
                                                                               "greet", "affirm"})


def parse(router: LanguageRouter, text: str, **kwargs: Any) -> dict[str, Any]:
    return asyncio.run(router.parse_text(text, **kwargs))


@pytest.mark.parametrize(
    "text,language",
    [("hi", "en"), ("hola", "es"), ("olá", "pt"), ("bonjour", "fr"), ("habari", "sw"), ("नमस्ते", "hi"),
     ("kaise ho", "hi"), ("مرحبا", "ar")],
)
def test_first_message_is_identified(registry, parts, text, language):
    result = parse(make_router(registry, parts), text)
    assert result["language"] == language
    # English words turn up in every language's chats, so a lone "hi" may fall through to the English default
    assert result["language_source"] in ({"autodetect", "default"} if language == "en" else {"autodetect"})


@pytest.mark.parametrize(
    "text,language",
    [
        ("I have been feeling really anxious about work lately", "en"),
        ("no puedo dormir, estoy muy preocupada por mi familia", "es"),
        ("tô muito ansioso com a faculdade, não consigo dormir", "pt"),
        ("jsuis trop stressé en ce moment, j'arrive pas à dormir", "fr"),
        ("nimekuwa na wasiwasi mwingi kuhusu kazi", "sw"),
        ("मुझे आजकल बहुत चिंता हो रही है", "hi"),
        ("mujhe aajkal bahut tension ho rahi hai yaar", "hi"),
        ("main theek nahi hoon, neend nahi aati", "hi"),
        ("أشعر بالقلق طوال الوقت ولا أستطيع النوم", "ar"),
        ("انا تعبان اوي ومش قادر انام", "ar"),
    ],
)
def test_sentences_are_identified(registry, parts, text, language):
    assert parse(make_router(registry, parts), text)["language"] == language


@pytest.mark.parametrize("text", ["ok", "yes", "👍", "3", "no", "hmm", "jaja", "...", "🙏🙏"])
def test_short_replies_keep_the_conversation_language(registry, parts, text):
    result = parse(make_router(registry, parts), text, current="es")
    assert (result["language"], result["language_source"]) == ("es", "conversation")


def test_confident_sentence_in_another_language_switches(registry, parts):
    result = parse(make_router(registry, parts), "hola, me siento muy triste y sola hoy", current="en")
    assert (result["language"], result["language_source"]) == ("es", "autodetect")


def test_channel_hint_decides_when_text_is_ambiguous(registry, parts):
    result = parse(make_router(registry, parts), "ok", metadata={"language": "pt-BR"})
    assert (result["language"], result["language_source"]) == ("pt", "channel")


def test_confident_text_beats_channel_hint(registry, parts):
    result = parse(make_router(registry, parts), "bonjour, je me sens très seul", metadata={"language": "en"})
    assert (result["language"], result["language_source"]) == ("fr", "autodetect")


def test_unsupported_hint_is_ignored(registry, parts):
    result = parse(make_router(registry, parts), "👍", metadata={"language": "de"})
    assert (result["language"], result["language_source"]) == ("en", "default")


def test_command_sets_language_explicitly(registry, parts):
    result = parse(make_router(registry, parts), "/language sw", current="en")
    assert (result["language"], result["language_source"]) == ("sw", "explicit")
    assert result["intent"]["name"] == "change_language"


def test_button_payload_sets_language_explicitly(registry, parts):
    result = parse(make_router(registry, parts), '/change_language{"language": "ar"}', current="en")
    assert (result["language"], result["language_source"]) == ("ar", "explicit")


@pytest.mark.parametrize(
    "text,language",
    [("can we talk in spanish please", "es"), ("en français s'il te plaît", "fr"), ("hindi mein baat karo", "hi"),
     ("tuongee kwa kiswahili", "sw"), ("quero falar em português", "pt"), ("تكلم معي بالعربية", "ar"),
     ("switch to english", "en")],
)
def test_change_language_intent_naming_a_language(registry, parts, text, language):
    router = make_router(registry, parts, intent="change_language")
    result = parse(router, text, current="en" if language != "en" else "es")
    assert (result["language"], result["language_source"]) == (language, "explicit")
    assert result["intent"]["name"] == "change_language"


def test_change_language_without_a_name_asks_which(registry, parts):
    result = parse(make_router(registry, parts, intent="change_language"), "change language", current="en")
    assert result["intent"]["name"] == "choose_language"
    assert result["language"] == "en"


@pytest.mark.parametrize(
    "text",
    ["Ich bin heute sehr traurig und weiß nicht, was ich tun soll",
     "Привет, мне очень плохо сегодня",
     "今日はとても悲しいです",
     "Sono molto stanco e non riesco a dormire la notte"],
)
def test_unsupported_language_gets_the_unsupported_intent(registry, parts, text):
    result = parse(make_router(registry, parts), text)
    assert result["intent"]["name"] == "unsupported_language"
    assert result["unsupported_language"]
    assert result["language"] == "en"


def test_emoji_only_first_message_uses_the_default(registry, parts):
    result = parse(make_router(registry, parts), "🙂")
    assert (result["language"], result["language_source"]) == ("en", "default")


def test_payload_with_entities(registry, parts):
    result = parse(make_router(registry, parts), '/share_mood{"mood": "low"}', current="fr")
    assert result["intent"]["name"] == "share_mood"
    assert {"entity": "mood", "value": "low", "extractor": "payload"} in result["entities"]
    assert result["language"] == "fr"


def test_unknown_payload_intent_goes_through_nlu(registry, parts):
    router = make_router(registry, parts)
    result = parse(router, "/drop_tables", current="en")
    assert result["intent"]["name"] == "share_mood"
    assert router.parsers["en"].seen == ["/drop_tables"]


def test_language_entity_fills_the_slot_and_result_says_why(registry, parts):
    result = parse(make_router(registry, parts), "hola", metadata={"country": "mx"})
    assert {"entity": "language", "value": "es", "extractor": "LanguageRouter"} in result["entities"]
    assert {"entity": "country", "value": "MX", "extractor": "LanguageRouter"} in result["entities"]
    assert set(result) >= {"language", "language_source", "crisis", "crisis_reasons"}


def test_crisis_lexicon_overrides_the_model(registry, parts):
    result = parse(make_router(registry, parts, intent="greet"), "hi. i want to kill myself")
    assert result["intent"]["name"] == "crisis"
    assert result["crisis"] is True
    assert any(r.startswith("lexicon:en:") for r in result["crisis_reasons"])


class RankingNLU:
    """Answers every text with a fixed intent ranking."""

    def __init__(self, ranking: list[tuple[str, float]]) -> None:
        self.ranking = [{"name": name, "confidence": confidence} for name, confidence in ranking]

    async def parse_message(self, text: str) -> dict[str, Any]:
        return {"text": text, "intent": dict(self.ranking[0]), "intent_ranking": [dict(i) for i in self.ranking],
                "entities": []}


@pytest.mark.parametrize("ranking, expected", [
    # the classifier leans to crisis but the crisis layer (here: no lexicon signal, intent below the solo bar) says no
    ([("crisis", 0.45), ("share_mood", 0.35), ("greet", 0.2)], "share_mood"),
    ([("crisis", 0.55), ("share_mood", 0.25), ("greet", 0.2)], "nlu_fallback"),  # nothing else is sure enough
    ([("crisis", 0.6), ("nlu_fallback", 0.4)], "nlu_fallback"),
])
def test_a_crisis_intent_the_crisis_layer_did_not_confirm_never_reaches_the_dialogue(registry, parts, ranking,
                                                                                      expected):
    identifier, crisis = parts
    router = LanguageRouter(registry, identifier, {code: RankingNLU(ranking) for code in registry.codes}, crisis,
                            known_intents={"share_mood", "greet"})
    result = parse(router, "the train is late again", explicit="en")
    assert result["crisis"] is False and result["crisis_reasons"] == []
    assert result["intent"]["name"] == expected
    assert all(i["name"] != "crisis" for i in result["intent_ranking"])
    # the same classifier output on a message the lexicon reads as a crisis
    confirmed = parse(router, "the train is late again and i want to kill myself", explicit="en")
    assert confirmed["crisis"] is True and confirmed["intent"]["name"] == "crisis"


def test_crisis_at_the_end_of_a_very_long_message(registry, parts):
    router = make_router(registry, parts)
    text = "today was long and work was busy. " * 300 + " honestly i just want to die"
    assert len(text) > 10_000
    result = parse(router, text)
    assert result["crisis"] is True
    assert len(router.parsers[result["language"]].seen[-1]) <= MAX_NLU_CHARS
    assert result["text"] == text


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_does_not_crash(registry, parts, text):
    result = parse(make_router(registry, parts), text)
    assert result["language"] == "en" and result["crisis"] is False
