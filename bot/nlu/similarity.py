"""Crisis similarity: k nearest labelled exemplars in embedding space.

e5 compresses cosines into a narrow band, so a fixed cosine threshold does not work; instead a message is compared
with its nearest neighbours among labelled exemplars (the crisis and non-crisis NLU examples of every language) and
scores the similarity-weighted share of crisis neighbours (bot/nlu/crisis.py combines it with the intent layer).
Exemplar vectors are computed at training time and stored in ``models/crisis-similarity.npz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bot.nlu.embeddings import Embedder

K = 7


class CrisisSimilarity:
    """kNN vote over labelled exemplars."""

    def __init__(self, embedder: Embedder, vectors: np.ndarray, labels: np.ndarray,
                 k: int = K) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.labels = labels.astype(bool)
        self.k = k

    @staticmethod
    def embed_exemplars(embedder: Embedder, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """Embed exemplars in batches."""
        parts = [embedder.embed(list(texts[i:i + batch])) for i in range(0, len(texts), batch)]
        return np.vstack(parts) if parts else np.zeros((0, 384), dtype=np.float32)

    def save(self, path: Path, fingerprint: str) -> None:
        """Store vectors and labels with the fingerprint of their inputs."""
        np.savez_compressed(path, vectors=self.vectors, labels=self.labels, fingerprint=np.array(fingerprint),
                            embedder=np.array(self.embedder.name))

    @classmethod
    def load(cls, path: Path, embedder: Embedder) -> "CrisisSimilarity":
        """Load stored exemplar vectors (they must come from the same embedder)."""
        data = np.load(path)
        if str(data["embedder"]) != embedder.name:
            raise ValueError(f"{path} was built with {data['embedder']}, not {embedder.name}: retrain")
        return cls(embedder, data["vectors"], data["labels"])

    def score(self, text: str) -> float:
        """Similarity-weighted share of crisis exemplars among the k nearest."""
        query = self.embedder.embed([text])[0]
        return self.score_vector(query)

    def score_vector(self, query: np.ndarray, exclude: int | None = None) -> float:
        """``score`` for an already embedded message (``exclude``: leave one exemplar out)."""
        sims = self.vectors @ query
        if exclude is not None:
            sims[exclude] = -np.inf
        top = np.argpartition(-sims, self.k)[: self.k]
        weights = np.maximum(sims[top], 0.0) ** 4
        total = float(weights.sum())
        return float((weights * self.labels[top]).sum() / total) if total > 0 else 0.0

    @classmethod
    def build(cls, embedder: Embedder, nlu_dir: Path, languages: Sequence[str]) -> "CrisisSimilarity":
        """Exemplars: every NLU example of every language, labelled crisis or not (hard negatives included)."""
        from bot.nlu.training_data import iter_examples

        texts: list[str] = []
        labels: list[bool] = []
        for language in languages:
            for intent, text in iter_examples(nlu_dir / language):
                texts.append(text)
                labels.append(intent == "crisis")
        return cls(embedder, cls.embed_exemplars(embedder, texts), np.array(labels, dtype=bool))
