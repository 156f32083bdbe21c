"""The crisis layer: runs on every message, before and beside the ML models, and can only add recall.

Layers, each recorded in ``crisis_reasons`` when it fires:
* ``lexicon:<lang>:<rule>`` — the deterministic per-language lexicon (content/crisis/<lang>.yml) of the message's
  language, plus English (code-switching into English is common in every language we serve). Scanning every
  language's lexicon was measured to add false alarms (words that are risky in one language are everyday in
  another) without adding recall on the development sets;
* ``intent`` and ``similarity`` — the two model layers: the ``crisis`` intent probability of the routed language's
  pipeline, and the crisis share of the message's nearest labelled exemplars in the multilingual e5 space
  (bot/nlu/similarity.py, where the embedding model serves the language). Each alone is noisy on hard negatives
  (sadness, films, "this meeting will kill me"), so they vote together: the models call a crisis when the sum of
  the two scores reaches ``JOINT_THRESHOLD``, or when one of them is nearly certain (``SOLO_THRESHOLD``). Where the
  embedder does not serve the language, the intent alone must reach ``SOLO_INTENT_WITHOUT_SIMILARITY``. The
  reasons name the layers that contributed (score ≥ 0.5; ``intent`` if neither did).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from bot.nlu.lexicon import CrisisLexicon
from bot.nlu.similarity import CrisisSimilarity

CRISIS_INTENT = "crisis"
# Chosen on the crisis exemplars and the development sets (README, "Crisis detection"): the joint vote halves the
# model layers' false alarms on hard negatives for a small loss of recall that the lexicons make up.
JOINT_THRESHOLD = 1.0
SOLO_THRESHOLD = 0.95
SOLO_INTENT_WITHOUT_SIMILARITY = 0.7
CONTRIBUTES = 0.5
CODE_SWITCH_LANGUAGE = "en"


class CrisisDetector:
    """Deterministic-first crisis detection."""

    def __init__(self, lexicons: Mapping[str, CrisisLexicon], similarity: Optional[CrisisSimilarity] = None) -> None:
        self.lexicons = dict(lexicons)
        self.similarity = similarity

    @classmethod
    def load(cls, directory: Path, languages: list[str]) -> "CrisisDetector":
        """Load ``<directory>/<lang>.yml`` for each language that has one."""
        return cls({lang: CrisisLexicon.load(directory / f"{lang}.yml") for lang in languages
                    if (directory / f"{lang}.yml").exists()})

    def scan(self, text: str, language: str) -> list[str]:
        """Lexicon reasons for ``text``: the message language's lexicon, then English. The guards of both read the
        signals of both, since a code-switched message may say in one language what makes the other's phrase
        harmless; a guard still removes only the exact match it covers."""
        order = [language] + ([CODE_SWITCH_LANGUAGE] if language != CODE_SWITCH_LANGUAGE else [])
        lexicons = [(lang, self.lexicons[lang]) for lang in order if lang in self.lexicons]
        reasons: list[str] = []
        for lang, lexicon in lexicons:
            others = [other for _, other in lexicons if other is not lexicon]
            reasons.extend(f"lexicon:{lang}:{hit.rule_id}" for hit in lexicon.scan(text, also_guarded_by=others))
        return reasons

    def masked(self, text: str, language: str) -> Optional[str]:
        """``text`` with the guard matches of the message's language and English blanked out (None: no guard)."""
        masked: Optional[str] = None
        for lang in [language] + ([CODE_SWITCH_LANGUAGE] if language != CODE_SWITCH_LANGUAGE else []):
            lexicon = self.lexicons.get(lang)
            if lexicon is not None:
                result = lexicon.mask(masked if masked is not None else text)
                masked = result if result is not None else masked
        return masked

    def categories(self, reasons: list[str]) -> list[str]:
        """The lexicon categories (suicidal_ideation, abuse, ...) behind ``reasons``, in order, without repeats."""
        found: list[str] = []
        for reason in reasons:
            parts = reason.split(":")
            if len(parts) == 3 and parts[0] == "lexicon" and parts[1] in self.lexicons:
                category = self.lexicons[parts[1]].category_of(parts[2])
                if category and category not in found:
                    found.append(category)
        return found

    def detect(self, text: str, language: str, parse: Mapping[str, Any], nlu_text: Optional[str] = None) -> list[str]:
        """All reasons that make this message a crisis (empty when none fired). ``nlu_text``: the part of a long
        message the models read (the lexicons always read all of it)."""
        reasons = self.scan(text, language)
        return reasons + self.model_reasons(intent_probability(parse), self.similarity_score(nlu_text or text,
                                                                                             language))

    def similarity_score(self, text: str, language: str) -> Optional[float]:
        """The similarity layer's score, or None where it does not serve the language."""
        if self.similarity is None or not self.similarity.embedder.serves(language):
            return None
        return self.similarity.score(text)

    @staticmethod
    def model_reasons(probability: float, similarity: Optional[float]) -> list[str]:
        """The model layers' joint vote (see the module docstring): [] or the layers that contributed."""
        if similarity is None:
            fired = probability >= SOLO_INTENT_WITHOUT_SIMILARITY
            similarity = 0.0
        else:
            fired = (probability + similarity >= JOINT_THRESHOLD or probability >= SOLO_THRESHOLD
                     or similarity >= SOLO_THRESHOLD)
        if not fired:
            return []
        reasons = (["intent"] if probability >= CONTRIBUTES else []) + (
            ["similarity"] if similarity >= CONTRIBUTES else [])
        return reasons or ["intent"]


def intent_probability(parse: Mapping[str, Any]) -> float:
    """The crisis intent's probability in a parse result (0 when it is not ranked)."""
    ranking = parse.get("intent_ranking") or [parse.get("intent") or {}]
    return max([float(i.get("confidence") or 0) for i in ranking if i.get("name") == CRISIS_INTENT] or [0.0])
