"""bot.fastload must not change what a loaded model predicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import asyncio, json, sys
if sys.argv[1] == "fast":
    from bot.fastload import install
    install()
from rasa.core.agent import Agent
agent = Agent.load("models/nlu-sw.tar.gz")
out = []
for text in ["habari yako", "nataka kufa", "nina wasiwasi sana", "nawezaje kulala vizuri"]:
    r = asyncio.run(agent.parse_message(text))
    out.append([r["intent"]["name"], round(r["intent"]["confidence"], 5),
                [[e["entity"], e["value"]] for e in r["entities"]]])
print("RESULT" + json.dumps(out))
"""


def predictions(mode: str) -> list:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, timeout=600)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_fast_loading_predicts_exactly_what_rasa_loading_predicts(trained):
    assert predictions("fast") == predictions("rasa")
