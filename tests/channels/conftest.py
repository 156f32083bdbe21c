"""Fixtures: the fake platforms and the Amani app with the real channels (echo dialogue), on a fresh SQLite file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import requests
from sqlalchemy import select

from bot.store.channel_models import InboxMessage
from bot.store.db import migrate, session_factory
from tests.channels import harness
from tests.channels.fakes import Call, FakeGraph, FakeTelegram
from tests.helpers import free_port


class Stack:
    """The running app and what the tests look at: fakes, the echo agent and the database."""

    def __init__(self, url: str, telegram: FakeTelegram, graph: FakeGraph, agent: harness.EchoAgent,
                 server: harness.ServerThread) -> None:
        self.url, self.telegram, self.graph, self.agent, self.server = url, telegram, graph, agent, server

    # --- requests as the platforms send them ---
    def post_telegram(self, update: Any, secret: Optional[str] = harness.SECRET, raw: Optional[bytes] = None,
                      headers: Optional[dict[str, str]] = None) -> requests.Response:
        sent = dict(headers or {"Content-Type": "application/json"})
        if secret is not None:
            sent["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = raw if raw is not None else json.dumps(update).encode()
        return requests.post(f"{self.server.url}/webhooks/telegram/webhook", data=body, headers=sent, timeout=10)

    def post_whatsapp(self, notification: Any = None, raw: Optional[bytes] = None,
                      signature: Optional[str] = "valid") -> requests.Response:
        body = raw if raw is not None else harness.wa_body(notification)
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = harness.sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(f"{self.server.url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=10)

    # --- what came out ---
    def telegram_replies(self, chat_id: int, count: int, seconds: float = 15.0) -> list[Call]:
        return self.telegram.wait_for_calls(
            count, seconds, lambda c: c.method in {"sendMessage", "sendPhoto"} and str(c.params.get("chat_id"))
            == str(chat_id))

    def whatsapp_replies(self, wa_id: str, count: int, seconds: float = 15.0) -> list[Call]:
        return self.graph.wait_for_calls(count, seconds, lambda c: c.params.get("to") == wa_id)

    def seen_by_agent(self, predicate: Callable[[tuple], bool], count: int = 1, seconds: float = 10.0) -> list:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [s for s in list(self.agent.seen) if predicate(s)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return [s for s in list(self.agent.seen) if predicate(s)]

    # --- the database ---
    def rows(self, model: Any, **where: Any) -> list[Any]:
        session = session_factory(self.url)()
        try:
            query = select(model)
            for key, value in where.items():
                query = query.where(getattr(model, key) == value)
            return list(session.execute(query).scalars().all())
        finally:
            session.close()

    def inbox(self, platform: str, platform_message_id: str) -> list[InboxMessage]:
        return self.rows(InboxMessage, platform=platform, platform_message_id=platform_message_id)

    def wait_inbox_status(self, platform: str, platform_message_id: str, status: str, seconds: float = 10) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rows = self.inbox(platform, platform_message_id)
            if rows and rows[0].status == status:
                return rows[0]
            time.sleep(0.02)
        rows = self.inbox(platform, platform_message_id)
        raise AssertionError(f"{platform} {platform_message_id} never reached {status}: {rows}")

    def database_bytes(self) -> bytes:
        path = Path(self.url[len("sqlite:///"):])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture(scope="session")
def fakes() -> Iterator[tuple[FakeTelegram, FakeGraph]]:
    telegram = FakeTelegram(harness.TOKEN).start()
    graph = FakeGraph(harness.WA_TOKEN, harness.WA_PHONE_ID).start()
    yield telegram, graph
    telegram.stop()
    graph.stop()


def start_stack(tmp: Path, fakes: tuple[FakeTelegram, FakeGraph], gate: bool = False, **overrides: Any) -> Stack:
    url = f"sqlite:///{tmp / 'amani.db'}"
    migrate(url)
    telegram, graph = fakes
    settings = harness.make_settings(url, telegram.url, graph.url, **overrides)
    agent = harness.EchoAgent()
    server = harness.ServerThread(harness.build_app(settings, agent, gate=gate), free_port()).start()
    return Stack(url, telegram, graph, agent, server)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fakes: tuple[FakeTelegram, FakeGraph]) -> Iterator[Stack]:
    """One app per test module (tests use their own ids, so they do not see each other's messages)."""
    running = start_stack(tmp_path_factory.mktemp("channels"), fakes)
    yield running
    running.server.stop()


@pytest.fixture(autouse=True)
def _no_injected_failures(fakes: tuple[FakeTelegram, FakeGraph]) -> Iterator[None]:
    yield
    for fake in fakes:
        fake.failures.clear()

