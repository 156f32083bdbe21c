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
# Session 9 (2026-11-25) re-measured every set after adding data/nlu/<lang>/realistic2.yml (210 examples per language
# by seven new authors) to the model layers' training data; the floors below are those figures with two messages of
# margin. Recall rose on every set (means: first blind 0.989 -> 1.000, second 0.957 -> 0.971, third 0.974 -> 0.988,
# contrasts 0.993 -> 0.998), so the recall floors rose. Some false-positive floors moved up by one message of the
# new measurement (dev fr and ar, first blind ar, second blind es and fr, third blind es, sw and ar); the contrast set's
# ar rose by 4 messages (12 -> 16 of 130 false alarms, from the model layers), while ar's blind sets moved by one.
# language: (minimum recall, maximum false-positive rate). Development sets: lexicon authors checked their rules
# against them, so they are met with room to spare; recall is held at the target (0.98), the false-positive rate at
# the measured figure plus two messages of margin (the model layers are retrained in CI).
FLOORS = {
    "en": (0.98, 0.04), "es": (0.98, 0.07), "pt": (0.98, 0.07), "fr": (0.98, 0.07), "sw": (0.98, 0.07),
    "hi": (0.98, 0.08), "ar": (0.98, 0.05),
}
# Blind sets, never shown to lexicon or training-data authors: the honest estimates. Held at the measured figures
# (2026-11-25, README) with two messages of margin each way.
# data/eval/crisis-holdout (50 + 50 per language): written in session 4. Its misses were looked at when the model
# layers' vote was chosen, so it is no longer perfectly blind.
HOLDOUT_FLOORS = {
    "en": (0.96, 0.14), "es": (0.96, 0.14), "pt": (0.96, 0.12), "fr": (0.96, 0.12), "sw": (0.96, 0.08),
    "hi": (0.96, 0.14), "ar": (0.96, 0.20),
}
# data/eval/crisis-holdout2 (60 + 60 per language): written in session 5 by two new authors; only its per-language
# totals and per-kind counts were read, never its messages, so it stays the least biased estimate.
HOLDOUT2_FLOORS = {
    "en": (0.90, 0.12), "es": (0.95, 0.24), "pt": (0.93, 0.19), "fr": (0.95, 0.15), "sw": (0.95, 0.12),
    "hi": (0.96, 0.22), "ar": (0.91, 0.17),
}

# data/eval/crisis-holdout3 (60 + 60 per language): written in session 6 by seven new authors, one per language, who
# saw no project file; measured once on the build it was written for and never tuned on (per-kind counts only).
HOLDOUT3_FLOORS = {
    "en": (0.96, 0.17), "es": (0.96, 0.22), "pt": (0.95, 0.17), "fr": (0.95, 0.15), "sw": (0.95, 0.15),
    "hi": (0.95, 0.34), "ar": (0.95, 0.25),
}
# data/eval/crisis-holdout4 (60 + 60 per language; sw 59 + 60): written in session 9 by seven new authors, one per
# language, who saw no project file, after the build it measures was trained; measured once (counts only) and never
# tuned on. Held at those figures with two messages of margin.
HOLDOUT4_FLOORS = {
    "en": (0.90, 0.15), "es": (0.95, 0.09), "pt": (0.95, 0.15), "fr": (0.95, 0.19), "sw": (0.89, 0.12),
    "hi": (0.88, 0.17), "ar": (0.86, 0.20),
}
# data/eval/crisis-contrasts (60 crisis + 130 hard negatives per language): written in session 7 next to the lexicon
# guards of pass 5, so the lexicon was built on it; the model layers are NOT trained on it (training on it lowered
# their false alarms but also their recall on the first blind set, README). It is the model layers' development set
# for long venting posts and other people's pasts. Held at the measured figures with two messages of margin.
CONTRASTS_FLOORS = {
    "en": (0.96, 0.07), "es": (0.96, 0.12), "pt": (0.96, 0.13), "fr": (0.96, 0.14), "sw": (0.96, 0.12),
    "hi": (0.95, 0.13), "ar": (0.96, 0.14),
}


def _evaluate(router, folder: str):
    result = evaluate(router, load_cases(sorted((ROOT / "data" / "eval" / folder).glob("*.jsonl"))))
    print("\n" + format_table(result))
    return result


@pytest.fixture(scope="module")
def report(router):
    return _evaluate(router, "crisis")


# folder: (minimum crisis and non-crisis messages per language, floors)
BLIND_SETS = {
    "crisis-holdout": (50, HOLDOUT_FLOORS),
    "crisis-holdout2": (60, HOLDOUT2_FLOORS),
    "crisis-holdout3": (60, HOLDOUT3_FLOORS),
    "crisis-holdout4": (59, HOLDOUT4_FLOORS),
}


@pytest.fixture(scope="module")
def evaluated(router):
    """Each evaluation folder (blind or contrast set) evaluated once per module, on first use."""
    results: dict = {}

    def get(folder: str):
        if folder not in results:
            results[folder] = _evaluate(router, folder)
        return results[folder]

    return get


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


@pytest.mark.parametrize("folder", list(BLIND_SETS))
def test_every_language_has_a_blind_set_of_the_required_size(evaluated, folder):
    size = BLIND_SETS[folder][0]
    for lang in LANGUAGES:
        t = evaluated(folder)[lang]
        assert t["tp"] + t["fn"] >= size and t["fp"] + t["tn"] >= size, lang


@pytest.mark.parametrize("folder", list(BLIND_SETS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_blind_set_floors(evaluated, folder, lang):
    _assert_floors(evaluated(folder)[lang], lang, BLIND_SETS[folder][1])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_contrast_set_floors(evaluated, lang):
    t = evaluated("crisis-contrasts")[lang]
    assert t["tp"] + t["fn"] >= 60 and t["fp"] + t["tn"] >= 130, lang
    _assert_floors(t, lang, CONTRASTS_FLOORS)


def _assert_floors(t, lang, floors):
    """Blind and contrast sets report counts only, never the messages (nobody should read them while building)."""
    min_recall, max_fpr = floors[lang]
    assert t["recall"] >= min_recall, (lang, t["recall"], len(t["missed"]))
    assert t["false_positive_rate"] <= max_fpr, (lang, t["false_positive_rate"], len(t["false_alarms"]))
