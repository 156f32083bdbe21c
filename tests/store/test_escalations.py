"""Escalation records and their audit trail, on SQLite and on the real local PostgreSQL (Alembic-migrated)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from bot.store.db import engine_for, migrate, transaction
from bot.store.escalations import EscalationRepository
from bot.store.models import Escalation, EscalationEvent
from tests.helpers import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'amani.db'}"
    else:
        url = fresh_postgres_database("amani_test_escalations")
    migrate(url)
    yield url
    engine_for(url).dispose()


def test_migrations_create_the_tables(url):
    tables = set(inspect(engine_for(url)).get_table_names())
    assert {"escalations", "escalation_events", "alembic_version"} <= tables


def test_detection_opens_one_escalation_and_later_detections_join_it(url):
    with transaction(url) as session:
        repo = EscalationRepository(session)
        first = repo.record_detection("u1", channel="rest", language="sw", country=None, risk_level="moderate",
                                      reasons=["lexicon:sw:kujiua"])
    with transaction(url) as session:
        repo = EscalationRepository(session)
        again = repo.record_detection("u1", channel="rest", language="sw", country="KE", risk_level="low",
                                      reasons=["intent"])
        assert again.id == first.id
        assert again.risk_level == "moderate"  # risk never goes down
        assert again.reasons == ["intent", "lexicon:sw:kujiua"]
        assert again.country == "KE"
    with transaction(url) as session:
        kinds = session.execute(select(EscalationEvent.kind).order_by(EscalationEvent.id)).scalars().all()
        assert kinds == ["opened", "detected"]


def test_updates_are_audited_and_resolved_escalations_are_not_reused(url):
    with transaction(url) as session:
        repo = EscalationRepository(session)
        escalation = repo.record_detection("u2", channel="rest", language="en", country="GB", risk_level="high",
                                           reasons=["lexicon:en:kill_myself"])
        repo.update(escalation, consent_human=True, status="pending", screening={"wish_dead": "yes"})
        repo.update(escalation, status="pending")  # no change, no event
        escalation_id = escalation.id
    with transaction(url) as session:
        stored = session.get(Escalation, escalation_id)
        assert (stored.status, stored.consent_human, stored.screening) == ("pending", True, {"wish_dead": "yes"})
        assert [e.kind for e in stored.events] == ["opened", "updated"]
        assert stored.events[1].detail["status"] == "pending"
        EscalationRepository(session).update(stored, actor="counsellor:amina", status="resolved")
    with transaction(url) as session:
        fresh = EscalationRepository(session).record_detection(
            "u2", channel="rest", language="en", country="GB", risk_level="low", reasons=["intent"]
        )
        assert fresh.id != escalation_id


def test_unknown_risk_levels_are_refused(url):
    with transaction(url) as session, pytest.raises(ValueError):
        EscalationRepository(session).record_detection("u3", channel="rest", language="en", country=None,
                                                       risk_level="severe", reasons=[])


def test_a_failed_transaction_leaves_nothing(url):
    with pytest.raises(RuntimeError), transaction(url) as session:
        EscalationRepository(session).record_detection("u4", channel="rest", language="en", country=None,
                                                       risk_level="low", reasons=["intent"])
        raise RuntimeError("crash mid-way")
    with transaction(url) as session:
        assert session.execute(select(Escalation).where(Escalation.user_id == "u4")).first() is None
