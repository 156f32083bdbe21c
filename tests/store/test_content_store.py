"""Content sync and repositories on SQLite and on the real local PostgreSQL: idempotent sync (add, update,
remove), the locale → language → English fallback chain, feedback, mood check-ins and follow-ups."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, inspect, select

from bot.content.sync import decode, sync
from bot.nlu.embeddings import Embedder
from bot.store.content import ContentRepository, WellbeingRepository
from bot.store.db import engine_for, migrate, transaction
from bot.store.models import ContentItem, FollowUp
from tests.helpers import fresh_postgres_database

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "library"


class CountingEmbedder(Embedder):
    """A deterministic stand-in for the sentence model that counts what it embeds (sync must embed only changes)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'amani.db'}"
    else:
        url = fresh_postgres_database("amani_test_content")
    migrate(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture
def root(tmp_path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "project")
    return tmp_path / "project"


def test_migrations_create_the_content_tables(url):
    tables = set(inspect(engine_for(url)).get_table_names())
    assert {"content_items", "feedback", "mood_entries", "follow_ups"} <= tables


def test_sync_adds_updates_removes_and_is_idempotent(url, root):
    embedder = CountingEmbedder()
    first = sync(url, root, embedder, progress=False, say=lambda _: None)
    assert sorted(first.added) == ["en/slow_breathing", "en/stress", "sw-KE/stress", "sw/slow_breathing",
                                   "sw/stress"]
    assert first.summary() == "content sync: 5 added, 0 updated, 0 removed, 0 unchanged"
    embedded = embedder.calls
    assert embedded > 0

    again = sync(url, root, embedder, progress=False, say=lambda _: None)
    assert not again.changed and again.unchanged == 5 and embedder.calls == embedded  # nothing re-embedded

    stress = root / "content" / "library" / "sw" / "stress.md"
    stress.write_text(stress.read_text(encoding="utf-8").replace("version: 1", "version: 2"), encoding="utf-8")
    (root / "content" / "library" / "sw-KE" / "stress.md").unlink()
    lines: list[str] = []
    third = sync(url, root, embedder, progress=False, say=lines.append)
    assert (third.added, third.updated, third.removed, third.unchanged) == ([], ["sw/stress"], ["sw-KE/stress"], 3)
    assert lines == ["  updated: sw/stress", "  removed: sw-KE/stress"]
    with transaction(url) as session:
        assert session.execute(select(func.count(ContentItem.id))).scalar() == 4
        row = session.execute(select(ContentItem).where(ContentItem.slug == "stress",
                                                        ContentItem.language == "sw")).scalar_one()
        assert row.version == 2 and row.embedding_model == "counting"
        assert decode(row.embedding).shape == (3, 384)  # head + 2 messages


def test_a_broken_file_changes_nothing(url, root):
    sync(url, root, None, progress=False, say=lambda _: None)
    broken = root / "content" / "library" / "en" / "stress.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("kind: topic", "kind: leaflet"), encoding="utf-8")
    (root / "content" / "library" / "sw" / "slow_breathing.md").unlink()
    report = sync(url, root, None, progress=False, say=lambda _: None)
    assert report.errors and "nothing changed" in report.summary()
    with transaction(url) as session:
        assert session.execute(select(func.count(ContentItem.id))).scalar() == 5


def test_fallback_chain_locale_language_english(url, root):
    sync(url, root, None, progress=False, say=lambda _: None)
    with transaction(url) as session:
        repo = ContentRepository(session)
        kenya = repo.find("stress", "sw", "sw-KE")
        assert kenya.item.locale == "sw-KE" and not kenya.fallback
        tanzania = repo.find("stress", "sw", "sw-TZ")
        assert tanzania.item.locale == "" and tanzania.item.language == "sw" and not tanzania.fallback
        french = repo.find("stress", "fr", "fr-SN")
        assert french.item.language == "en" and french.fallback
        assert repo.find("grief", "sw") is None
        assert [i.locale for i in repo.for_language("sw", "sw-KE", "topic")] == ["sw-KE"]
        assert [i.slug for i in repo.for_language("sw", None, "exercise")] == ["slow_breathing"]


def test_feedback_moods_and_follow_ups(url):
    with transaction(url) as session:
        repo = WellbeingRepository(session)
        repo.add_feedback("u1", "stress", "sw", True)
        for score in (2, 3, 4):
            repo.add_mood("u1", score)
        repo.add_mood("u2", 5)
        with pytest.raises(ValueError):
            repo.add_mood("u1", 6)
    with transaction(url) as session:
        repo = WellbeingRepository(session)
        assert [m.score for m in repo.recent_moods("u1")] == [2, 3, 4]
        due = datetime.now(timezone.utc) + timedelta(days=1)
        repo.schedule_follow_up("u1", due)
        repo.schedule_follow_up("u1", due)  # replaces the first
    with transaction(url) as session:
        statuses = sorted(f.status for f in session.execute(select(FollowUp)).scalars())
        assert statuses == ["cancelled", "scheduled"]
        repo = WellbeingRepository(session)
        assert repo.cancel_follow_ups("u1") == 1
        assert repo.mark_follow_up_sent("u1") is False  # cancelled: the check-in must not be sent
