"""Risk levels from detection categories and the C-SSRS-style screener."""

from __future__ import annotations

import pytest

from bot.safety import risk

NO_ALL = {q: "no" for q in risk.SCREENING_QUESTIONS}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({**NO_ALL, "wish_dead": "yes"}, "low"),
        ({**NO_ALL, "wish_dead": "yes", "thoughts": "yes"}, "low"),
        ({**NO_ALL, "thoughts": "yes", "method": "yes"}, "moderate"),
        ({**NO_ALL, "thoughts": "yes", "intent": "yes"}, "high"),
        ({**NO_ALL, "thoughts": "yes", "plan": "yes"}, "high"),
        ({**NO_ALL, "behaviour": "yes"}, "high"),
        ({**NO_ALL, "thoughts": "yes", "intent": "yes", "plan": "yes", "behaviour": "yes"}, "imminent"),
        (NO_ALL, "low"),
    ],
)
def test_screener_triage(answers, expected):
    assert risk.from_screening(answers) == expected


def test_a_detected_plan_with_intent_is_imminent():
    answers = {**NO_ALL, "thoughts": "yes", "intent": "yes"}
    assert risk.assess(["plan_or_goodbye"], answers) == "imminent"


def test_screening_never_lowers_what_detection_saw():
    assert risk.assess(["child_abuse"], NO_ALL) == "high"
    assert risk.assess(["suicidal_ideation"], NO_ALL) == "moderate"


def test_skipped_screening_is_at_least_moderate():
    skipped = {q: "skipped" for q in risk.SCREENING_QUESTIONS}
    assert risk.from_screening(skipped) is None
    assert risk.assess([], skipped) == "moderate"
    assert risk.assess(["plan_or_goodbye"], skipped) == "high"


def test_model_only_detection_before_screening_is_low():
    assert risk.assess([], {}) == "low"


def test_abuse_only_disclosures_skip_the_suicide_screener():
    assert not risk.needs_screening(["child_abuse"])
    assert not risk.needs_screening(["abuse", "violence"])
    assert risk.needs_screening(["abuse", "self_harm"])
    assert risk.needs_screening([])


def test_higher():
    assert risk.higher("low", "imminent") == "imminent"
    assert risk.higher("high", "moderate") == "high"
