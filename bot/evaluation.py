"""Per-language NLU evaluation on held-out examples (a stratified split that the evaluated model never saw)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bot import fastload
from bot.languages import LanguageRegistry
from bot.nlu.embeddings import training_cache
from bot.settings import Settings
from bot.training import _is_fresh, _stamp, embedding_cache_path, fingerprint, nlu_inputs

TEST_FRACTION = 0.2
SEED = 7


def evaluate_nlu(settings: Settings, languages: list[str] | None = None) -> dict[str, Any]:
    """Train on 80% of each language's examples, test on the other 20%; return and write the report."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.metrics import classification_report, f1_score

    fastload.install()
    registry = LanguageRegistry.load(settings.languages_file)
    work = settings.models_dir / "eval"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    for lang in languages or registry.codes:
        data = load_data(str(settings.root / "data" / "nlu" / lang))
        train, test = data.train_test_split(train_frac=1 - TEST_FRACTION, random_seed=SEED)
        model = work / f"nlu-{lang}-heldout.tar.gz"
        fp = fingerprint(settings.root, nlu_inputs(lang)) + f"-split{SEED}"
        started = time.monotonic()
        if not _is_fresh(model, fp):
            split_file = work / f"train-{lang}.yml"
            split_file.write_text(train.nlu_as_yaml(), encoding="utf-8")
            with training_cache(embedding_cache_path(settings)):
                train_nlu(str(settings.root / "config" / "nlu" / f"{lang}.yml"), str(split_file), str(work),
                          fixed_model_name=model.name[: -len(".tar.gz")])
            _stamp(model, fp)
        train_seconds = time.monotonic() - started
        agent = Agent.load(str(model))
        gold, predicted = [], []
        for example in test.intent_examples:
            result = asyncio.run(agent.parse_message(example.get("text")))
            gold.append(example.get("intent"))
            predicted.append(result["intent"]["name"])
        labels = sorted(set(gold))
        report[lang] = {
            "examples_train": len(train.intent_examples),
            "examples_test": len(test.intent_examples),
            "intent_macro_f1": round(float(f1_score(gold, predicted, labels=labels, average="macro")), 4),
            "accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / max(len(gold), 1), 4),
            "train_seconds": round(train_seconds, 1),
            "per_intent": classification_report(gold, predicted, labels=labels, output_dict=True, zero_division=0),
            "errors": [{"text": e.get("text"), "gold": g, "predicted": p}
                       for e, g, p in zip(test.intent_examples, gold, predicted) if g != p],
        }
        print(f"  {lang}: intent macro-F1 {report[lang]['intent_macro_f1']:.3f} "
              f"on {len(gold)} held-out examples", flush=True)
    out = settings.root / "reports" / "nlu-eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
