"""End to end over HTTP: the real server (`python -m bot run`) on SQLite, talked to through the REST channel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers import free_port, text, wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """The bot with no action server running at all."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "AMANI_PORT": str(port), "AMANI_HOST": "127.0.0.1",
           "AMANI_DATABASE_URL": f"sqlite:///{log.parent / 'amani.db'}", "AMANI_ACTION_PORT": str(free_port())}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--no-actions"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def send(server: str, sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    body = {"sender": sender, "message": message, **({"metadata": metadata} if metadata else {})}
    response = requests.post(f"{server}/webhooks/rest/webhook", json=body, timeout=60)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    "greeting,lang",
    [("hi", "en"), ("hola", "es"), ("olá", "pt"), ("bonjour", "fr"), ("habari", "sw"), ("नमस्ते", "hi"),
     ("kaise ho", "hi"), ("مرحبا", "ar")],
)
def test_each_greeting_is_answered_in_its_language(server, greeting, lang):
    replies = send(server, f"greet-{greeting}", greeting)
    assert [r["text"] for r in replies[:2]] == [text("utter_greet", lang), text("utter_ask_consent_given", lang)]


def test_first_crisis_reply_needs_no_action_server(server):
    replies = send(server, "crisis-user", "quiero suicidarme")
    assert replies[0]["text"] == text("utter_crisis", "es")


def test_rest_channel_passes_the_language_hint(server):
    replies = send(server, "hinted", "👋", metadata={"language": "sw-KE", "country": "KE"})
    assert replies and replies[0]["text"] in {text("utter_greet", "sw"), text("utter_clarify", "sw")}


def test_action_server_starts_on_localhost(trained):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc, seconds=120)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
