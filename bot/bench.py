"""Benchmarks (``make bench``): crisis-layer and router latency per message, measured on the crisis dev sets."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any, Callable

from bot.crisis_eval import load_cases
from bot.settings import Settings


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ordered), 3), "p99_ms": round(pick(0.99), 3),
            "max_ms": round(ordered[-1], 3), "n": len(ordered)}


def _time(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def run(settings: Settings, with_models: bool = True) -> dict[str, Any]:
    """Measure and return latencies; also written to reports/bench.json."""
    from bot.runtime import load_crisis_detector, load_router

    cases = load_cases(sorted((settings.root / "data" / "eval" / "crisis").glob("*.jsonl")))
    detector = load_crisis_detector(settings)
    long_text = " ".join(c["text"] for c in cases)[:10_000]
    result: dict[str, Any] = {
        "crisis_lexicon": _percentiles([_time(lambda c=c: detector.scan(c["text"], c["lang"])) for c in cases]),
        "crisis_lexicon_10k_chars": _percentiles([_time(lambda: detector.scan(long_text, "en"))]),
    }
    if with_models:
        router = load_router(settings)
        loop = asyncio.new_event_loop()
        parse = lambda c: loop.run_until_complete(router.parse_text(c["text"], explicit=c["lang"]))  # noqa: E731
        for case in cases[:20]:
            parse(case)  # warm-up
        result["router_parse"] = _percentiles([_time(lambda c=c: parse(c), repeat=1) for c in cases])
        # what the crisis layer adds to a parse: lexicons + intent check + similarity (the embedding is the one the
        # NLU pipeline has just computed for the same text, so only the neighbour search is paid)
        crisis = router.crisis
        for case in cases:
            parse(case)
            result.setdefault("_crisis_layer", []).append(
                _time(lambda c=case: crisis.detect(c["text"], c["lang"], {}, nlu_text=c["text"].strip()[:1000]))
            )
        result["crisis_layer_in_parse"] = _percentiles(result.pop("_crisis_layer"))
        loop.close()
        result["content_search"] = _content_search(settings)
    try:  # the channels' webhook acknowledgement (verify + durable insert), when the channels are installed
        from channels.bench import bench_webhook

        result["webhook_ack"] = bench_webhook()
    except ImportError:
        pass
    out = settings.root / "reports" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def _content_search(settings: Settings) -> dict[str, float]:
    """One content search (query embedding + lexical + ranking) on the retrieval questions, library synced into a
    throw-away database."""
    import tempfile
    from pathlib import Path

    import yaml

    from bot.content.evaluation import search_weights
    from bot.content.search import ContentSearch
    from bot.content.sync import sync
    from bot.nlu.embeddings import make_embedder

    embedder = make_embedder(settings.embedding_model)
    questions = []
    for path in sorted((settings.root / "data" / "eval" / "retrieval").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        questions += [(q["text"], data.get("language") or path.stem) for q in data.get("questions") or []]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        sync(url, settings.root, embedder, progress=False, say=lambda _: None)
        search = ContentSearch(url, embedder, search_weights(settings))
        for text, lang in questions[:14]:
            search.search(text, lang)  # warm-up: builds each language's index once
        return _percentiles([_time(lambda t=t, lang=lang: search.search(t + " ?", lang), repeat=1)
                             for t, lang in questions])
