"""Reading Rasa NLU training examples as plain text (for language identification and evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import regex
import yaml

_ANNOTATION = regex.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")


def strip_annotations(example: str) -> str:
    """``I feel [sad]{"entity": "mood"}`` → ``I feel sad``."""
    return _ANNOTATION.sub(r"\1", example).strip()


def iter_examples(nlu_dir: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(intent, text)`` for every example in the YAML files under ``nlu_dir``."""
    for path in sorted(nlu_dir.glob("**/*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if "intent" not in item:
                continue
            for line in str(item.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield item["intent"], strip_annotations(line[2:])
