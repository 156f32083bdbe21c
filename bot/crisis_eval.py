"""Crisis detection evaluation: recall, false-positive rate and a confusion table per language."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Optional


def load_cases(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Read ``{"text", "lang"?, "crisis": bool}`` lines from JSONL files."""
    cases = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                item = json.loads(line)
                if not isinstance(item.get("text"), str) or not isinstance(item.get("crisis"), bool):
                    raise ValueError(f"{path}:{n}: each line needs a string 'text' and a boolean 'crisis'")
                cases.append(item)
    return cases


def evaluate(router: Any, cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run every case through ``router.parse_text``; tally per language (the case's ``lang`` or the routed one)."""
    tallies: dict[str, dict[str, Any]] = defaultdict(lambda: {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "missed": [],
                                                              "false_alarms": []})
    loop = asyncio.new_event_loop()
    try:
        for case in cases:
            result = loop.run_until_complete(router.parse_text(case["text"], explicit=case.get("lang")))
            lang = case.get("lang") or result["language"]
            t = tallies[lang]
            if case["crisis"]:
                t["tp" if result["crisis"] else "fn"] += 1
                if not result["crisis"]:
                    t["missed"].append(case["text"])
            else:
                t["fp" if result["crisis"] else "tn"] += 1
                if result["crisis"]:
                    t["false_alarms"].append({"text": case["text"], "reasons": result["crisis_reasons"]})
    finally:
        loop.close()
    for t in tallies.values():
        positives, negatives = t["tp"] + t["fn"], t["fp"] + t["tn"]
        t["recall"] = t["tp"] / positives if positives else None
        t["false_positive_rate"] = t["fp"] / negatives if negatives else None
    return dict(sorted(tallies.items()))


def failures(report: dict[str, dict[str, Any]], min_recall: float, max_fpr: float) -> list[str]:
    """Languages below the recall target or above the false-positive target."""
    out = []
    for lang, t in report.items():
        if t["recall"] is not None and t["recall"] < min_recall:
            out.append(f"{lang}: recall {t['recall']:.3f} < {min_recall}")
        if t["false_positive_rate"] is not None and t["false_positive_rate"] > max_fpr:
            out.append(f"{lang}: false-positive rate {t['false_positive_rate']:.3f} > {max_fpr}")
    return out


def format_table(report: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: per language, recall, false-positive rate and the confusion counts."""
    rows = ["lang  recall  fp_rate   TP   FN   FP   TN"]
    for lang, t in report.items():
        recall = "  n/a " if t["recall"] is None else f"{t['recall']:.3f} "
        fpr = "  n/a " if t["false_positive_rate"] is None else f"{t['false_positive_rate']:.3f} "
        rows.append(f"{lang:<5} {recall:>6}  {fpr:>6} {t['tp']:>4} {t['fn']:>4} {t['fp']:>4} {t['tn']:>4}")
    return "\n".join(rows)


def lexicon_only_router(settings: Any) -> Any:
    """A router stand-in that runs only the deterministic lexicons (no models needed)."""
    from bot.runtime import load_crisis_detector

    detector = load_crisis_detector(settings)

    class _LexiconOnly:
        async def parse_text(self, text: str, explicit: Optional[str] = None, **_: Any) -> dict[str, Any]:
            reasons = detector.scan(text, explicit or "en")
            return {"language": explicit or "en", "crisis": bool(reasons), "crisis_reasons": reasons}

    return _LexiconOnly()
