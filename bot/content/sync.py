"""``python -m bot content sync``: load ``content/library/`` into the store, idempotently.

Items are matched on (slug, language, locale). New files are added, changed files (content hash or embedding model)
updated, files that are gone removed; unchanged items are not touched. Embeddings of each item's passages are
computed here, once, so a search only embeds the query. If any file has an error nothing changes: people keep the
last good content until the library is fixed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from sqlalchemy import select

from bot.content import library
from bot.content.problems import Problem
from bot.nlu.embeddings import Embedder
from bot.store.db import migrate, transaction
from bot.store.models import ContentItem


@dataclass
class SyncReport:
    """What a sync changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line for the terminal."""
        if self.errors:
            return f"content sync: {len(self.errors)} error(s); nothing changed"
        return (f"content sync: {len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged")


def encode(vectors: np.ndarray) -> bytes:
    """Vectors as stored: float32 bytes."""
    return np.asarray(vectors, dtype=np.float32).tobytes()


def decode(blob: Optional[bytes], dim: int = 384) -> np.ndarray:
    """Stored vectors as an (n, dim) array."""
    if not blob:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)


def sync(url: str, root: Path, embedder: Optional[Embedder], *, progress: bool = True,
         say: Callable[[str], None] = print) -> SyncReport:
    """Bring the store at ``url`` in line with the library under ``root``."""
    items, problems = library.load(root)
    report = SyncReport(errors=[p for p in problems if not p.warning])
    if report.errors:
        return report
    migrate(url)
    model = embedder.name if embedder is not None else None
    with transaction(url) as session:
        stored = {(r.slug, r.language, r.locale): r for r in session.execute(select(ContentItem)).scalars()}
        todo = [i for i in items if i.key not in stored or stored[i.key].content_hash != i.content_hash
                or stored[i.key].embedding_model != model]
        vectors = _embed(todo, embedder, progress)
        for item in todo:
            name = "/".join(filter(None, [item.locale or item.language, item.slug]))
            row = stored.get(item.key)
            values = item.record() | {"embedding_model": model, "embedding": vectors.get(item.key)}
            if row is None:
                session.add(ContentItem(**values))
                report.added.append(name)
            else:
                for column, value in values.items():
                    setattr(row, column, value)
                report.updated.append(name)
        keys = {i.key for i in items}
        for key, row in stored.items():
            if key not in keys:
                session.delete(row)
                report.removed.append("/".join(filter(None, [row.locale or row.language, row.slug])))
        report.unchanged = len(items) - len(todo)
    for verb, names in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
        for name in names:
            say(f"  {verb}: {name}")
    return report


def _embed(items: list[library.Item], embedder: Optional[Embedder], progress: bool) -> dict[tuple, bytes]:
    if embedder is None or not items:
        return {}
    from tqdm import tqdm

    out: dict[tuple, bytes] = {}
    bar = tqdm(items, desc="embedding content", unit="item", file=sys.stderr,
               disable=not progress or len(items) < 20)
    for item in bar:
        out[item.key] = encode(embedder.embed_passages(item.chunks()))
    return out
