"""Automatic language identification for short, informal chat messages.

Two signals are combined:

* a character n-gram classifier trained at start-up on our own NLU examples (so it knows chat-style messages,
  romanised Hindi and one-word greetings that general detectors get wrong), and
* lingua, a general language detector, restricted to our languages plus a probe set of other languages, so that a
  message in a language we do not support can be recognised as such.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

import regex
from lingua import Language, LanguageDetectorBuilder
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from bot.nlu.textnorm import normalise

_LETTER = regex.compile(r"\p{L}")
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’]*")


@dataclass(frozen=True)
class Guess:
    """The outcome of identification: a supported language, an unsupported one, or no signal."""

    language: Optional[str]
    confidence: float
    unsupported: Optional[str] = None  # lingua's name for a language we do not serve, when that is the verdict
    words: int = 0


def script_of(text: str) -> Optional[str]:
    """The dominant script of the letters in ``text`` ("Latin", "Devanagari", "Arabic", ...), or None."""
    counts: dict[str, int] = {}
    for ch in _LETTER.findall(text):
        name = unicodedata.name(ch, "")
        script = name.split(" ")[0] if name else "?"
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    top = max(counts, key=counts.__getitem__)
    return {"LATIN": "Latin", "DEVANAGARI": "Devanagari", "ARABIC": "Arabic"}.get(top, top.title())


class LanguageIdentifier:
    """Identify which supported language a message is in."""

    def __init__(
        self,
        examples: Mapping[str, Iterable[str]],
        scripts: Mapping[str, Iterable[str]],
        lingua_names: Mapping[str, str],
        probe_languages: Iterable[str],
    ) -> None:
        self._scripts = {lang: set(s) for lang, s in scripts.items()}
        # lingua knows a language only in its first script (not romanised Hindi)
        self._native_script = {lang: list(s)[0] for lang, s in scripts.items()}
        self._lingua_to_code = {getattr(Language, name): code for code, name in lingua_names.items()}
        probes = [getattr(Language, name) for name in probe_languages]
        self._detector = (
            LanguageDetectorBuilder.from_languages(*self._lingua_to_code, *probes)
            .with_preloaded_language_models()
            .build()
        )
        self._classifiers = {}
        for script in {s for ss in self._scripts.values() for s in ss}:
            texts, labels = [], []
            for lang, items in examples.items():
                for text in items:
                    if script_of(text) == script:
                        texts.append(normalise(text))
                        labels.append(lang)
            if len(set(labels)) > 1:
                self._classifiers[script] = _train(texts, labels)

    def identify(self, text: str) -> Guess:
        """Guess the language of ``text``; ``Guess.language`` is None when there is no usable signal."""
        words = len(_WORD.findall(text))
        script = script_of(text)
        if script is None:
            return Guess(None, 0.0, words=words)
        candidates = [lang for lang, scripts in self._scripts.items() if script in scripts]
        if not candidates:
            return Guess(None, 0.95, unsupported=script, words=words)
        lingua = self._lingua(text)
        top_lingua, top_conf = max(lingua.items(), key=lambda kv: kv[1]) if lingua else (None, 0.0)
        classifier = self._classifiers.get(script)
        if classifier is None:  # one supported language writes this script
            ours = {candidates[0]: 1.0}
        else:
            proba = classifier.predict_proba([normalise(text)])[0]
            ours = dict(zip(classifier.classes_, proba))
        best = max(ours, key=ours.__getitem__)
        confidence = float(ours[best])
        # lingua is reliable on longer texts: let it confirm, correct, or flag an unsupported language.
        if top_lingua is not None and words >= 3 and top_conf >= 0.6:
            code = self._lingua_to_code.get(top_lingua)
            ours_in_lingua = next((v for lang, v in lingua.items() if self._lingua_to_code.get(lang) == best), 0.0)
            lingua_can_judge = self._native_script.get(best) == script
            if code is None and (confidence < 0.9 or (lingua_can_judge and ours_in_lingua < 0.05)):
                return Guess(None, top_conf, unsupported=top_lingua.name.title(), words=words)
            if code in candidates and code != best and top_conf > confidence:
                best, confidence = code, float(top_conf)
            elif code == best:
                confidence = max(confidence, float(top_conf))
        return Guess(best, confidence, words=words)

    def _lingua(self, text: str) -> dict[Language, float]:
        return {v.language: v.value for v in self._detector.compute_language_confidence_values(text)}


def _train(texts: list[str], labels: list[str]):
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=1)),
            ("words", TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)),
        ]
    )
    model = make_pipeline(features, LogisticRegression(C=20.0, max_iter=2000))
    model.fit(texts, labels)
    return model
