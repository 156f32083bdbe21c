"""The `python -m bot classify` contract used by evaluation tooling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {"language", "language_source", "intent", "confidence", "entities", "crisis", "crisis_reasons"}


def run(args: list[str], stdin: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=900)


def test_classify_a_thousand_lines_in_order(trained):
    samples = [
        {"text": "hola, cómo estás"}, {"text": "I want to kill myself", "lang": "en"}, {"text": "मुझे नींद नहीं आती"},
        {"text": "bonjour"}, {"text": "nataka kuongea na mtu"}, {"text": "مرحبا"}, {"text": "olá, tudo bem?"},
        {"text": "mujhe bahut tension hai"},
    ]
    lines = [dict(samples[i % len(samples)], text=f"{samples[i % len(samples)]['text']}") for i in range(1000)]
    proc = run(["classify"], "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 1000
    for given, got in zip(lines, out):
        assert FIELDS <= set(got)
        assert got["text"] == given["text"]
    assert out[1]["crisis"] is True and out[1]["intent"] == "crisis" and out[1]["language_source"] == "explicit"
    assert [o["language"] for o in out[:8]] == ["es", "en", "hi", "fr", "sw", "ar", "pt", "hi"]
    assert out[0]["crisis"] is False


def test_classify_reads_a_file_and_reports_bad_lines(trained, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "hi"}\nnot json\n{"nope": 1}\n{"text": "bye", "lang": "en"}\n', encoding="utf-8")
    proc = run(["classify", str(path)], "")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [("error" in o) for o in out] == [False, True, True, False]


def test_classify_without_models_exits_non_zero_with_a_clear_message(tmp_path):
    proc = run(["classify"], '{"text": "hi"}\n', env={"AMANI_MODELS_DIR": str(tmp_path)})
    assert proc.returncode != 0
    assert "Not trained" in proc.stderr and "make setup" in proc.stderr
