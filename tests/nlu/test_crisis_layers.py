"""How the two model layers vote together (bot/nlu/crisis.py): each alone is noisy on hard negatives."""

from __future__ import annotations

import pytest

from bot.nlu.crisis import (
    JOINT_THRESHOLD,
    SOLO_INTENT_WITHOUT_SIMILARITY,
    SOLO_THRESHOLD,
    CrisisDetector,
    intent_probability,
)


@pytest.mark.parametrize("probability, similarity, expected", [
    (0.0, 0.0, []),
    (0.55, 0.2, []),  # a lukewarm intent alone is not enough any more
    (0.2, 0.71, []),  # nor a lukewarm neighbourhood
    (0.6, 0.5, ["intent", "similarity"]),  # both lean towards crisis
    (0.45, 0.58, ["similarity"]),  # they add up; the reason names the layer that carried it
    (0.97, 0.0, ["intent"]),  # one layer nearly certain
    (0.1, 0.99, ["similarity"]),
    (0.75, None, ["intent"]),  # a language the embedder does not serve: the intent alone, with a higher bar
    (0.6, None, []),
])
def test_model_layers_vote_together(probability, similarity, expected):
    assert CrisisDetector.model_reasons(probability, similarity) == expected


def test_thresholds_are_ordered():
    assert 0.5 < SOLO_INTENT_WITHOUT_SIMILARITY < SOLO_THRESHOLD <= 1.0 <= JOINT_THRESHOLD < 2.0


def test_intent_probability_reads_the_ranking():
    parse = {"intent": {"name": "share_mood", "confidence": 0.6},
             "intent_ranking": [{"name": "share_mood", "confidence": 0.6}, {"name": "crisis", "confidence": 0.3}]}
    assert intent_probability(parse) == pytest.approx(0.3)
    assert intent_probability({"intent": {"name": "crisis", "confidence": 0.8}}) == pytest.approx(0.8)
    assert intent_probability({}) == 0.0
