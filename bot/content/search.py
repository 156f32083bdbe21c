"""Finding the content item that answers a free-text question, in the person's language.

Two signals, combined per language:
* semantic: the query's e5 embedding against the passage embeddings stored at sync time (max over an item's
  passages); e5 squeezes cosines into a narrow band, so scores are rescaled to 0-1 across the language's items;
* lexical: TF-IDF over character n-grams within words of the title, summary, keywords (counted twice), messages and
  steps, which copes with misspellings, missing accents, Swahili and Arabic affixes and romanised Hindi.
``score = w * semantic + (1 - w) * lexical`` with ``w`` per language (``search_semantic_weight`` in
config/languages.yml, default ``DEFAULT_SEMANTIC_WEIGHT``), so a language the model serves poorly can lean on the
lexical side. ``python -m bot eval-retrieval`` measures top-1/top-3 per language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.content.sync import decode
from bot.nlu.embeddings import Embedder
from bot.nlu.textnorm import normalise
from bot.store.content import ContentRepository
from bot.store.db import transaction

logger = logging.getLogger(__name__)
DEFAULT_SEMANTIC_WEIGHT = 0.3  # chosen on data/eval/retrieval (sweep 0-1, see README)


@dataclass(frozen=True)
class Hit:
    """One ranked item."""

    slug: str
    kind: str
    title: str
    score: float


@dataclass
class _Index:
    version: tuple
    slugs: list[str]
    kinds: list[str]
    titles: list[str]
    vectorizer: Optional[TfidfVectorizer]
    lexical: object
    passages: list[np.ndarray]


def _document(item) -> str:
    return normalise(" ".join([item.title, item.summary, *item.keywords, *item.keywords, *item.messages,
                               *item.steps]))


class ContentSearch:
    """Search over the synced items of one language (and locale), cached until the next sync."""

    def __init__(self, url: str, embedder: Optional[Embedder], weights: Optional[dict[str, float]] = None) -> None:
        self.url = url
        self.embedder = embedder
        self.weights = weights or {}
        self._indexes: dict[tuple[str, str], _Index] = {}

    def search(self, text: str, language: str, locale: Optional[str] = None, kind: Optional[str] = None,
               k: int = 3) -> list[Hit]:
        """The best ``k`` items for ``text``, best first."""
        index = self._index(language, locale)
        if not index.slugs or not text.strip():
            return []
        scores = self._scores(index, text[:1000], language)
        order = [i for i in np.argsort(-scores) if kind is None or index.kinds[i] == kind]
        return [Hit(index.slugs[i], index.kinds[i], index.titles[i], float(scores[i])) for i in order[:k]]

    def _scores(self, index: _Index, text: str, language: str) -> np.ndarray:
        lexical = np.zeros(len(index.slugs), dtype=np.float32)
        if index.vectorizer is not None:
            query = index.vectorizer.transform([normalise(text)])
            lexical = np.asarray((index.lexical @ query.T).todense()).ravel().astype(np.float32)
        semantic = np.zeros(len(index.slugs), dtype=np.float32)
        usable = self.embedder is not None and self.embedder.serves(language) and all(len(p) for p in index.passages)
        if usable:
            q = self.embedder.embed([text])[0]
            semantic = np.array([float((p @ q).max()) for p in index.passages], dtype=np.float32)
        weight = self.weights.get(language, DEFAULT_SEMANTIC_WEIGHT) if usable else 0.0
        return weight * _rescale(semantic) + (1 - weight) * _rescale(lexical)

    def _index(self, language: str, locale: Optional[str]) -> _Index:
        key = (language, locale or "")
        with transaction(self.url) as session:
            repo = ContentRepository(session)
            version = repo.version()
            cached = self._indexes.get(key)
            if cached is not None and cached.version == version:
                return cached
            items = repo.for_language(language, locale)
            model = self.embedder.name if self.embedder is not None else None
            passages = [decode(i.embedding) if i.embedding_model == model else np.zeros((0, 384), np.float32)
                        for i in items]
            docs = [_document(i) for i in items]
            slugs, kinds, titles = [i.slug for i in items], [i.kind for i in items], [i.title for i in items]
        vectorizer = None
        matrix = None
        if docs:
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)
            matrix = vectorizer.fit_transform(docs)
        if self.embedder is not None and items and not all(len(p) for p in passages):
            logger.warning("content for %s has no %s embeddings: run `python -m bot content sync`", language, model)
        index = _Index(version, slugs, kinds, titles, vectorizer, matrix, passages)
        self._indexes[key] = index
        return index


def _rescale(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def top_k_accuracy(ranked: Sequence[Sequence[str]], expected: Sequence[str], k: int) -> float:
    """Share of questions whose expected slug is among the first ``k``."""
    if not expected:
        return 0.0
    return sum(1 for r, e in zip(ranked, expected) if e in list(r)[:k]) / len(expected)
