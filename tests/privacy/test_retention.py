"""Retention on SQLite and PostgreSQL: what is older than the period goes (tracker events, wellbeing rows, relayed
messages, processed channel rows, stale addresses), what is newer or still in flight stays, escalations are
anonymised; the schedule runs the purge."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from bot.privacy.retention import purge, run_schedule
from bot.settings import Settings
from bot.store.channel_models import ChannelAddress, InboxMessage, OutboxMessage
from bot.store.db import transaction
from bot.store.models import Escalation, Feedback, FollowUp, MoodEntry, RelayMessage
from tests.privacy.conftest import make_store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=100)
NEW = NOW - timedelta(days=1)


def session_events(tracker: DialogueStateTracker, at: datetime, texts: list[str]) -> None:
    t = at.timestamp()
    tracker.update(ActionExecuted("action_session_start", timestamp=t))
    tracker.update(SessionStarted(timestamp=t))
    for i, text in enumerate(texts):
        tracker.update(ActionExecuted("action_listen", timestamp=t + i + 0.5))
        tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=t + i + 1))


def save_conversations(url: str, domain) -> None:
    store = make_store(url, domain)
    gone = DialogueStateTracker("gone", domain.slots)
    session_events(gone, OLD, ["hi", "bye"])
    returning = DialogueStateTracker("returning", domain.slots)
    session_events(returning, OLD, ["old words"])
    session_events(returning, NEW, ["new words"])
    long_session = DialogueStateTracker("long-session", domain.slots)  # one session spanning the cut
    session_events(long_session, OLD, ["started long ago"])
    long_session.update(UserUttered("still here", {"name": "greet", "confidence": 1.0}, timestamp=NEW.timestamp()))
    for tracker in (gone, returning, long_session):
        asyncio.run(store.save(tracker))


def populate(url: str) -> None:
    with transaction(url) as session:
        for at in (OLD, NEW):
            session.add_all([
                MoodEntry(user_id="u", score=3, created_at=at),
                Feedback(user_id="u", slug="sleep", language="en", helpful=True, created_at=at),
                FollowUp(user_id="u", due_at=at + timedelta(days=1), status="sent", created_at=at, updated_at=at),
                RelayMessage(conversation_id="c", message={"text": "x"}, created_at=at),
                InboxMessage(platform="telegram", platform_message_id=f"done-{at.day}", user_id="c", meta={},
                             status="done", received_at=at),
                OutboxMessage(platform="telegram", user_id="c", method="sendMessage", status="sent", created_at=at),
                Escalation(user_id=f"user-{at.day}", channel="telegram", language="en", risk_level="high",
                           reasons=["intent"], screening={}, status="resolved", conversation_id=f"conv-{at.day}",
                           transcript=[{"text": "t"}], created_at=at, updated_at=at),
            ])
        session.add_all([
            InboxMessage(platform="telegram", platform_message_id="stuck", user_id="c", meta={}, status="pending",
                         received_at=OLD),  # never processed: kept for the worker
            OutboxMessage(platform="telegram", user_id="c", method="sendMessage", status="pending", created_at=OLD),
            ChannelAddress(platform="telegram", user_id="quiet", address=b"x", last_inbound_at=OLD, updated_at=OLD),
            ChannelAddress(platform="telegram", user_id="active", address=b"x", last_inbound_at=NEW, updated_at=OLD),
        ])


def texts(url: str, sender: str) -> list[str]:
    import json

    from sqlalchemy import text

    from bot.store.db import engine_for

    with engine_for(url).connect() as connection:
        rows = connection.execute(text("select data from events where sender_id = :s order by id"), {"s": sender})
        return [json.loads(r[0]).get("text") for r in rows if json.loads(r[0])["event"] == "user"]


def test_purge_deletes_what_is_older_than_the_period(url, domain):
    save_conversations(url, domain)
    populate(url)
    counts = purge(url, 90, now=NOW)
    assert texts(url, "gone") == []
    assert texts(url, "returning") == ["new words"]  # the old session went, the current one stays
    assert texts(url, "long-session") == ["started long ago", "still here"]  # a live session is kept whole
    with transaction(url) as session:
        def count(model, *where):
            return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        for model in (MoodEntry, Feedback, FollowUp, RelayMessage):
            assert count(model) == 1, model
        assert count(InboxMessage) == 2 and count(InboxMessage, InboxMessage.status == "pending") == 1
        assert count(OutboxMessage) == 2 and count(OutboxMessage, OutboxMessage.status == "pending") == 1
        assert [a.user_id for a in session.execute(select(ChannelAddress)).scalars()] == ["active"]
        old = session.execute(select(Escalation).where(Escalation.created_at < NOW - timedelta(days=50))).scalar_one()
        new = session.execute(select(Escalation).where(Escalation.created_at > NOW - timedelta(days=50))).scalar_one()
        assert old.user_id.startswith("anon-") and old.conversation_id is None and old.transcript is None
        assert (old.risk_level, old.status) == ("high", "resolved")
        assert new.user_id == f"user-{NEW.day}" and new.transcript
    assert counts["escalations"] == 1 and counts["mood_entries"] == 1 and counts["events"] >= 6
    assert purge(url, 90, now=NOW)["escalations"] == 0  # anonymised once


def test_the_schedule_purges_and_stops(url):
    populate(url)

    class Config:
        database_url = url
        retention_days = (datetime.now(timezone.utc) - OLD).days - 5
        purge_interval_hours = 1.0

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_schedule(Config, stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            with transaction(url) as session:
                if session.execute(select(func.count()).select_from(MoodEntry)).scalar_one() == 1:
                    break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run_briefly())
    with transaction(url) as session:
        assert session.execute(select(func.count()).select_from(MoodEntry)).scalar_one() == 1


def test_retention_is_a_setting_with_a_floor():
    assert Settings(environment="test").retention_days == 90
    try:
        Settings(environment="test", retention_days=0).check_secrets()
    except ValueError as error:
        assert "RETENTION" in str(error)
    else:
        raise AssertionError("a retention of 0 days must be refused")
