"""Content search quality per language (`python -m bot eval-retrieval`): top-3 ≥ 0.9 in English and ≥ 0.8 in every
other language, on realistic questions written before the content (data/eval/retrieval/<lang>.yml)."""

from __future__ import annotations

import pytest

from bot.content.evaluation import evaluate_retrieval
from bot.settings import Settings
from tests.conftest import LANGUAGES


@pytest.fixture(scope="module")
def report() -> dict:
    return evaluate_retrieval(Settings(environment="test"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_top3_meets_the_target(report, lang):
    row = report[lang]
    assert row["n"] >= 20
    assert row["top3"] >= (0.9 if lang == "en" else 0.8), row["misses"]


def test_every_item_is_expected_by_some_question():
    import yaml

    from bot.content.library import load

    items, _ = load(Settings().root)
    slugs = {i.slug for i in items}
    for lang in LANGUAGES:
        questions = yaml.safe_load((Settings().root / "data" / "eval" / "retrieval" / f"{lang}.yml").read_text())
        assert {q["expect"] for q in questions["questions"]} == slugs, lang
