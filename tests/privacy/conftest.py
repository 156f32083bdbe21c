"""Fixtures of the privacy tests: the project's domain, migrated databases (SQLite and the real local PostgreSQL)
and redacting tracker stores on them."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from bot.privacy.redact import Redactor
from bot.privacy.tracker_store import EventRedactor, RedactingSQLTrackerStore
from bot.settings import Settings
from bot.store.db import engine_for, migrate
from tests.helpers import fresh_postgres_database

KEY = "test-pseudonym-key-0123456789"


@pytest.fixture(scope="session")
def domain() -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(Settings().root / "domain.yml"))


def make_url(kind: str, tmp_path: Any, name: str) -> str:
    """A fresh, migrated database of ``kind`` (``sqlite`` or ``postgresql``)."""
    url = f"sqlite:///{tmp_path / (name + '.db')}" if kind == "sqlite" else fresh_postgres_database(name)
    migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A migrated database on SQLite, then on PostgreSQL."""
    url = make_url(request.param, tmp_path, "amani_privacy_test")
    yield url
    engine_for(url).dispose()


def make_store(url: str, domain: Any, keep_slots: tuple[str, ...] = ("sp_people", "sp_professionals"),
               enabled: bool = True) -> RedactingSQLTrackerStore:
    """The tracker store exactly as ``bot.server`` configures it (Rasa builds it from the endpoint config)."""
    from rasa.core.tracker_store import TrackerStore

    from bot.server import tracker_store_config

    store = TrackerStore.create(tracker_store_config(Settings(environment="test", database_url=url)), domain)
    assert isinstance(store, RedactingSQLTrackerStore)
    store.event_redactor = EventRedactor(Redactor(enabled), keep_slots, KEY)
    return store


@pytest.fixture(scope="session")
def crisis_detector() -> Any:
    """Every language's crisis lexicons (loaded once: ~8 s)."""
    from bot.runtime import load_crisis_detector

    return load_crisis_detector(Settings(environment="test"))


def events_text(rows: list[dict[str, Any]]) -> str:
    """Stored events as JSON without their timestamps, for "no phone number in here" checks: a float timestamp such as
    1795600548.2807126 can contain "0712"."""
    return json.dumps([{k: v for k, v in r.items() if k != "timestamp"} for r in rows])
