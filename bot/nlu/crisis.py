"""The crisis layer: runs on every message, before and beside the ML models, and can only add recall.

Layers, each recorded in ``crisis_reasons`` when it fires:
* ``lexicon:<lang>:<rule>`` — the deterministic per-language lexicon (content/crisis/<lang>.yml) of the message's
  language, plus English (code-switching into English is common in every language we serve). Scanning every
  language's lexicon was measured to add false alarms (words that are risky in one language are everyday in
  another) without adding recall on the development sets;
* ``intent`` — the ``crisis`` intent of the routed language's pipeline (probability ≥ 0.5);
* ``similarity`` — the message's nearest labelled exemplars in the multilingual e5 space (bot/nlu/similarity.py),
  where the embedding model serves the language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from bot.nlu.lexicon import CrisisLexicon
from bot.nlu.similarity import CrisisSimilarity

CRISIS_INTENT = "crisis"
INTENT_THRESHOLD = 0.5
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
        """Lexicon reasons for ``text``: the message language's lexicon, then English."""
        order = [language] + ([CODE_SWITCH_LANGUAGE] if language != CODE_SWITCH_LANGUAGE else [])
        reasons: list[str] = []
        for lang in order:
            lexicon = self.lexicons.get(lang)
            if lexicon is not None:
                reasons.extend(f"lexicon:{lang}:{hit.rule_id}" for hit in lexicon.scan(text))
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
        ranking = parse.get("intent_ranking") or [parse.get("intent") or {}]
        if any(i.get("name") == CRISIS_INTENT and (i.get("confidence") or 0) >= INTENT_THRESHOLD for i in ranking):
            reasons.append("intent")
        if self.similarity is not None and self.similarity.fires(nlu_text or text, language):
            reasons.append("similarity")
        return reasons
