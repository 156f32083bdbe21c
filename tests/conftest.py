"""Shared fixtures. Models are trained by `make test` before pytest runs (tests needing them skip otherwise)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.languages import LanguageRegistry  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.training import missing_models  # noqa: E402

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
def agent(trained: Settings, event_loop_session: asyncio.AbstractEventLoop) -> Any:
    """The real dialogue agent with the real router and per-language models (in-memory tracker store)."""
    from bot.runtime import load_agent

    return event_loop_session.run_until_complete(load_agent(trained))


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
