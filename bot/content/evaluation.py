"""``python -m bot eval-retrieval``: how often content search finds the right item, per language.

Each ``data/eval/retrieval/<lang>.yml`` lists realistic questions with the slug that should answer them. The library
is synced into a throw-away SQLite database (with embeddings), so the numbers do not depend on the local store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.content.search import ContentSearch, top_k_accuracy
from bot.content.sync import sync
from bot.settings import Settings


def search_weights(settings: Settings) -> dict[str, float]:
    """``search_semantic_weight`` of each language in config/languages.yml, where set."""
    data = yaml.safe_load(settings.languages_file.read_text(encoding="utf-8")) or {}
    return {code: float(spec["search_semantic_weight"]) for code, spec in (data.get("languages") or {}).items()
            if isinstance(spec, dict) and "search_semantic_weight" in spec}


def evaluate_retrieval(settings: Settings, languages: Optional[list[str]] = None,
                       embedder: Any = "default") -> dict[str, dict[str, Any]]:
    """Top-1 / top-3 accuracy and the misses, per language."""
    from bot.nlu.embeddings import make_embedder

    if embedder == "default":
        embedder = make_embedder(settings.embedding_model)
    files = sorted((settings.root / "data" / "eval" / "retrieval").glob("*.yml"))
    report: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        result = sync(url, settings.root, embedder, progress=False, say=lambda _: None)
        if result.errors:
            raise SystemExit("\n".join(str(p) for p in result.errors))
        search = ContentSearch(url, embedder, search_weights(settings))
        for path in files:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            lang = data.get("language") or path.stem
            if languages and lang not in languages:
                continue
            questions = data.get("questions") or []
            ranked = [[h.slug for h in search.search(q["text"], lang, q.get("locale"), k=3)] for q in questions]
            expected = [q["expect"] for q in questions]
            report[lang] = {
                "n": len(questions),
                "top1": round(top_k_accuracy(ranked, expected, 1), 3),
                "top3": round(top_k_accuracy(ranked, expected, 3), 3),
                "misses": [{"text": q["text"], "expect": e, "got": r} for q, e, r in zip(questions, expected, ranked)
                           if e not in r[:3]],
            }
    return report


def print_report(report: dict[str, dict[str, Any]]) -> None:
    """A table on stdout."""
    print(f"{'lang':<6}{'n':>5}{'top-1':>8}{'top-3':>8}")
    for lang, row in report.items():
        print(f"{lang:<6}{row['n']:>5}{row['top1']:>8.3f}{row['top3']:>8.3f}")
