"""Mapping the spans DIET extracts for categorical entities (mood, topic) onto their canonical values.

DIET returns the words it found ("really stressed", "sleep better"); responses and content are keyed by canonical
values ("stressed", "sleep"). The mapping is learnt from the annotated training examples of each language: every
word seen inside an annotated span votes for that span's value with the share of all its occurrences in the
language's examples that sit inside spans of that value: "dormir" is nearly always part of a sleep span, "posso"
("can I") mostly is not, so "posso dormir melhor" means sleep. Words seen under three or more values ("feeling",
"really") carry no vote; the value names themselves count as seen words. Of several spans for one entity the one that
maps most clearly wins, and an entity is kept only under intents where it was annotated in the training data (a
"topic" found in a mood message is dropped).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Optional

import regex
import yaml

from bot.nlu.textnorm import normalise

_ANNOTATED = regex.compile(r"\[([^\]]+)\](?:\{([^}]*)\}|\(([^)]*)\))")
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")
MIN_SCORE = 0.15
TEXT_SCORE = 0.5
CLASSIFIER_FILL = 0.3  # the whole-message classifier fills an entity the model found no span for above this
CLASSIFIER_MIN = 0.5  # ... and overrules a weakly supported span above this
SPAN_TRUSTED = 1.0  # span support at or above this is never overruled
GENERIC_VALUES = 3  # a word seen under this many different values is not evidence for any of them
VALUE_NAME_WEIGHT = 5


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    n = min(len(a), len(b))
    return n >= 4 and a[:n] == b[:n]


class EntityNormaliser:
    """Canonicalise the values of the given entities, per language; unmappable spans are dropped."""

    def __init__(
        self,
        votes: dict[tuple[str, str], dict[str, Counter]],
        values: dict[str, set[str]],
        intents: Optional[dict[str, set[str]]] = None,
        occurrences: Optional[dict[str, Counter]] = None,
    ) -> None:
        self._votes = votes
        self._occurrences = occurrences or {}
        self.values = values
        self.intents = intents or {}

    @classmethod
    def from_training_data(
        cls, nlu_root: Path, languages: Iterable[str], entities: Iterable[str]
    ) -> "EntityNormaliser":
        """Learn word → value votes from ``[span]{"entity": e, "value": v}`` annotations."""
        wanted = set(entities)
        votes: dict[tuple[str, str], dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        values: dict[str, set[str]] = defaultdict(set)
        intents: dict[str, set[str]] = defaultdict(set)
        occurrences: dict[str, Counter] = defaultdict(Counter)
        for lang in languages:
            for path in sorted((nlu_root / lang).glob("**/*.yml")):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                for item in data.get("nlu") or []:
                    for line in str(item.get("examples", "")).splitlines():
                        occurrences[lang].update(_tokens(_ANNOTATED.sub(lambda m: m.group(1), line)))
                    for match in _ANNOTATED.finditer(str(item.get("examples", ""))):
                        entity, value = _annotation(match)
                        if entity in wanted:
                            values[entity].add(value)
                            intents[entity].add(item.get("intent"))
                            for token in _tokens(match.group(1)):
                                votes[(lang, entity)][token][value] += 1
        for (_, entity), table in votes.items():
            for value in values[entity]:
                for token in {value, *value.split("_")}:
                    table[token][value] += VALUE_NAME_WEIGHT
                    occurrences[lang][token] += VALUE_NAME_WEIGHT
        normaliser = cls({k: dict(v) for k, v in votes.items()}, dict(values), dict(intents), dict(occurrences))
        normaliser._fit_text_classifiers(nlu_root, languages, wanted)
        return normaliser

    def _fit_text_classifiers(self, nlu_root: Path, languages: Iterable[str], wanted: set[str]) -> None:
        """Per language and entity, a small whole-message classifier (character n-grams → value) learnt from the
        annotated examples: it reads paraphrases whose words were never inside an annotated span."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self._classifiers: dict[tuple[str, str], Any] = {}
        for lang in languages:
            rows: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
            for path in sorted((nlu_root / lang).glob("**/*.yml")):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                for item in data.get("nlu") or []:
                    for line in str(item.get("examples", "")).splitlines():
                        annotations = [_annotation(m) for m in _ANNOTATED.finditer(line)]
                        for entity, value in annotations[:1]:
                            if entity in wanted and value:
                                text = _ANNOTATED.sub(lambda m: m.group(1), line.strip()[2:])
                                rows[entity][0].append(normalise(text))
                                rows[entity][1].append(value)
            for entity, (texts, labels) in rows.items():
                if len(set(labels)) >= 2 and len(texts) >= 20:
                    model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
                                          LogisticRegression(C=10, max_iter=2000))
                    self._classifiers[(lang, entity)] = model.fit(texts, labels)

    def _classify(self, language: str, entity: str, text: str) -> tuple[Optional[str], float]:
        model = getattr(self, "_classifiers", {}).get((language, entity))
        if model is None or not text:
            return None, 0.0
        probabilities = model.predict_proba([normalise(text)])[0]
        best = int(probabilities.argmax())
        return str(model.classes_[best]), float(probabilities[best])

    def canonical(self, language: str, entity: str, span: str) -> Optional[str]:
        """The canonical value for ``span``, or None when no value is clearly meant."""
        value, _ = self._best(language, entity, span)
        return value

    def _best(self, language: str, entity: str, span: str) -> tuple[Optional[str], float]:
        if span in self.values.get(entity, ()):
            return span, float("inf")
        votes = self._votes.get((language, entity), {})
        seen = self._occurrences.get(language, Counter())
        scores: Counter = Counter()
        for token in _tokens(span):
            for known, counts in votes.items():
                if _same_word(token, known) and len(counts) < GENERIC_VALUES:
                    total = max(seen[known], sum(counts.values()))
                    for value, n in counts.items():
                        scores[value] += n / total
        if not scores:
            return None, 0.0
        value, score = scores.most_common(1)[0]
        return (value, score) if score >= MIN_SCORE else (None, score)

    def apply(
        self, language: str, entities: list[dict[str, Any]], intent: Optional[str] = None, text: str = ""
    ) -> list[dict[str, Any]]:
        """Entities with canonical values; spans that map to nothing, or that the intent never carries, are removed.

        The whole text is also read the same way, with a stricter threshold (``TEXT_SCORE``): it fills an entity the
        model found no span for ("je suis très stressé") and replaces a span whose support is weaker.
        """
        out: list[dict[str, Any]] = []
        best: dict[str, tuple[dict[str, Any], float]] = {}
        for entity in entities:
            name = entity.get("entity")
            if name in self.values and entity.get("extractor") not in ("payload", "LanguageRouter"):
                if intent is not None and name in self.intents and intent not in self.intents[name]:
                    continue
                value, score = self._best(language, name, str(entity.get("value", "")))
                if value is not None and score > best.get(name, ({}, -1.0))[1]:
                    best[name] = ({**entity, "value": value}, score)
                continue
            out.append(entity)
        for name, intents in self.intents.items():
            if intent in intents and text:
                value, score = self._best(language, name, text)
                # the whole text also overrules a weakly supported span ("como posso dormir [melhor]")
                if value is not None and score >= TEXT_SCORE and score > best.get(name, ({}, -1.0))[1]:
                    best[name] = ({"entity": name, "value": value, "extractor": "EntityNormaliser"}, score)
                guess, probability = self._classify(language, name, text)
                current = best.get(name, ({}, 0.0))
                if guess is not None and (
                    (not current[0] and probability >= CLASSIFIER_FILL)
                    or (current[0] and probability >= CLASSIFIER_MIN and current[0].get("value") != guess
                        and current[1] < SPAN_TRUSTED)
                ):
                    best[name] = ({"entity": name, "value": guess, "extractor": "EntityNormaliser"}, probability)
        return out + [entity for entity, _ in best.values()]


def _annotation(match: regex.Match) -> tuple[Optional[str], str]:
    span, as_json, as_name = match.group(1), match.group(2), match.group(3)
    if as_name is not None:
        return as_name.split(":")[0].strip() or None, span
    try:
        data = json.loads("{" + as_json + "}")
    except ValueError:
        return None, span
    return data.get("entity"), str(data.get("value", span))
