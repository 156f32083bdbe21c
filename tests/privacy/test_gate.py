"""Where messages enter (bot.privacy.gate): the length limit keeps crisis sentences, the rate limit never stops a
crisis message, the kind replies come in the person's language; fuzzed, admit never fails."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.privacy import gate as gate_module
from bot.privacy.gate import RATE_LIMITED, TOO_LONG, Admission, CrisisScan, Gate, notice_messages, render
from bot.privacy.ratelimit import MemoryLimiter
from bot.settings import Settings
from tests.conftest import LANGUAGES
from tests.helpers import domain as project_domain

PRIVACY_RESPONSES = ["utter_ask_delete_data", "utter_data_deleted", "utter_delete_data_cancelled",
                     "utter_delete_data_failed", "utter_rate_limited", "utter_message_too_long"]


@pytest.fixture(scope="module")
def scan(crisis_detector) -> CrisisScan:
    scan = CrisisScan(Settings(environment="test"))
    scan.use(crisis_detector)  # the lexicons, loaded once for the session
    return scan


def make_gate(scan: CrisisScan, limit: int = 3, max_chars: int = 500) -> Gate:
    return Gate(MemoryLimiter(limit, 60.0), max_chars, "k" * 20, scan)


def test_a_long_message_is_cut_but_its_crisis_sentence_is_kept(scan):
    gate = make_gate(scan)
    filler = "Work has been busy and the bus was late again today. " * 40
    text = filler + "I have decided to kill myself tonight. " + filler
    admission = gate.admit("p", text)
    assert admission.allowed and admission.truncated and admission.notices == (TOO_LONG,)
    assert len(admission.text) <= 500 and admission.text.startswith("Work has been busy")
    assert "I have decided to kill myself tonight." in admission.text
    assert scan._detector.scan(admission.text, "en")  # the crisis layer still sees it


def test_a_long_message_without_crisis_is_simply_cut(scan):
    admission = make_gate(scan).admit("p", "x" * 2_000)
    assert admission.text == "x" * 500 and admission.notices == (TOO_LONG,)


def test_over_the_limit_messages_are_dropped_with_one_kind_reply(scan):
    gate = make_gate(scan, limit=2)
    results = [gate.admit("p", f"message {i}", now=100 + i) for i in range(5)]
    assert [r.allowed for r in results] == [True, True, False, False, False]
    assert [r.notices for r in results[2:]] == [(RATE_LIMITED,), (), ()]
    assert gate.admit("other", "hello", now=104).allowed


@pytest.mark.parametrize("text", ["quiero suicidarme", "nataka kujiua", "I want to end my life",
                                  "मैं आत्महत्या करना चाहता हूँ", "أريد أن أنتحر"])
def test_a_crisis_message_always_passes_the_rate_limit(scan, text):
    gate = make_gate(scan, limit=1)
    gate.admit("p", "hi", now=1)
    admission = gate.admit("p", text, now=2)
    assert admission.allowed and admission.crisis_bypass and admission.notices == ()


def test_limits_are_keyed_by_pseudonym():
    seen = []

    class Recording(MemoryLimiter):
        def hit(self, key, now=None):
            seen.append(key)
            return super().hit(key, now)

    Gate(Recording(5, 60), 500, "k" * 20, lambda _: False).admit("telegram:12345", "hi")
    assert seen and "12345" not in seen[0] and len(seen[0]) == 32


def test_render_picks_the_language_variation_or_the_default():
    responses = {"utter_x": [
        {"condition": [{"type": "slot", "name": "language", "value": "sw"}], "text": "pole"},
        {"text": "sorry", "buttons": [{"title": "ok", "payload": "/affirm"}]}]}
    assert render(responses, "utter_x", "sw") == {"text": "pole"}
    assert render(responses, "utter_x", "fr") == {"text": "sorry", "buttons": [{"title": "ok", "payload": "/affirm"}]}
    assert render(responses, "utter_missing", "sw") is None


def merged() -> bool:
    return any(name in project_domain()["responses"] for name in PRIVACY_RESPONSES)


needs_merge = pytest.mark.skipif(not merged(), reason="privacy responses not merged into domain.yml yet")


@needs_merge
@pytest.mark.parametrize("name", PRIVACY_RESPONSES)
def test_privacy_responses_exist_in_every_language(name):
    variations = project_domain()["responses"][name]
    languages = {c["value"] for v in variations for c in v.get("condition") or [] if c["name"] == "language"}
    assert languages == set(LANGUAGES) and any(not v.get("condition") for v in variations)
    texts = [v["text"] for v in variations]
    assert len(set(texts)) >= len(LANGUAGES)  # really translated, not copied


@needs_merge
@pytest.mark.parametrize("language", LANGUAGES)
def test_notices_come_in_the_channel_language(language, monkeypatch):
    monkeypatch.setattr(gate_module, "_agent", None)
    admission = Admission(False, "", (RATE_LIMITED,), rate_limited=True)
    messages = asyncio.run(notice_messages(admission, "nobody-yet", {"language": f"{language}-XX"}))
    expected = next(v["text"] for v in project_domain()["responses"][RATE_LIMITED]
                    if {"type": "slot", "name": "language", "value": language} in (v.get("condition") or []))
    assert messages == [{"text": expected}]


FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.text(max_size=40), st.text(max_size=1_500))
def test_admit_never_fails_and_bounds_the_text(scan, sender, text):
    admission = make_gate(scan, limit=1_000).admit(sender, text)
    assert admission.allowed and len(admission.text) <= 500
    assert admission.truncated == (len(text) > 500)
