"""The crisis layer on the shipped development sets (data/eval/crisis/<lang>.jsonl), with the trained models.

Targets from the crisis issue: recall ≥ 0.98 and false-positive rate ≤ 0.05 in every language. The floors below are
the numbers this build reaches (README, "Crisis detection"); the test fails if any language falls below them, so a
change can only keep or improve safety. Raise a floor when you improve a language; never lower one silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.crisis_eval import evaluate, format_table, load_cases
from tests.conftest import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
# language: (minimum recall, maximum false-positive rate). Development sets: lexicon authors checked their rules
# against them, so they are met with room to spare; recall is held at the target (0.98), the false-positive rate at
# the measured figure plus two messages of margin (the model layers are retrained in CI).
FLOORS = {
    "en": (0.98, 0.05), "es": (0.98, 0.07), "pt": (0.98, 0.07), "fr": (0.98, 0.05), "sw": (0.98, 0.05),
    "hi": (0.98, 0.13), "ar": (0.98, 0.04),
}
# Blind sets (data/eval/crisis-holdout, another author, never shown to lexicon authors or tuned on): the honest
# estimate. Held at the measured figures (2026-11-24, README) with two messages of margin each way.
HOLDOUT_FLOORS = {
    "en": (0.92, 0.16), "es": (0.94, 0.14), "pt": (0.94, 0.10), "fr": (0.86, 0.16), "sw": (0.86, 0.06),
    "hi": (0.92, 0.16), "ar": (0.92, 0.20),
}


def _evaluate(router, folder: str):
    result = evaluate(router, load_cases(sorted((ROOT / "data" / "eval" / folder).glob("*.jsonl"))))
    print("\n" + format_table(result))
    return result


@pytest.fixture(scope="module")
def report(router):
    return _evaluate(router, "crisis")


@pytest.fixture(scope="module")
def holdout(router):
    return _evaluate(router, "crisis-holdout")


def test_every_language_has_a_development_set_of_the_required_size(report):
    for lang in LANGUAGES:
        t = report[lang]
        assert t["tp"] + t["fn"] >= 40 and t["fp"] + t["tn"] >= 40, lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_recall_and_false_positive_rate_floors(report, lang):
    min_recall, max_fpr = FLOORS[lang]
    t = report[lang]
    assert t["recall"] >= min_recall, (lang, t["recall"], t["missed"][:10])
    assert t["false_positive_rate"] <= max_fpr, (lang, t["false_positive_rate"], t["false_alarms"][:10])


def test_every_language_has_a_blind_set(holdout):
    for lang in LANGUAGES:
        t = holdout[lang]
        assert t["tp"] + t["fn"] >= 50 and t["fp"] + t["tn"] >= 50, lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_blind_set_floors(holdout, lang):
    min_recall, max_fpr = HOLDOUT_FLOORS[lang]
    t = holdout[lang]
    assert t["recall"] >= min_recall, (lang, t["recall"], len(t["missed"]))
    assert t["false_positive_rate"] <= max_fpr, (lang, t["false_positive_rate"], len(t["false_alarms"]))
