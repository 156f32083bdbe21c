"""The handoff outbox: written in the escalation's transaction, delivered at least once to a real local receiver
that checks the signature, retried with backoff through a 10-minute outage, dead-lettered with an alert, and
never lost across a restart. On SQLite and on the real local PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.handoff.dispatcher import Dispatcher
from bot.settings import Settings
from bot.store.db import engine_for, migrate, transaction
from bot.store.escalations import EscalationRepository
from bot.store.models import Escalation, HandoffDelivery
from tests.handoff.receiver import Receiver
from tests.helpers import free_port, fresh_postgres_database

SECRET = "test-webhook-secret-0123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'amani.db'}" if request.param == "sqlite" else \
        fresh_postgres_database("amani_test_handoff")
    migrate(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture
def receiver():
    r = Receiver(free_port(), SECRET)
    yield r
    r.down()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(url: str, receiver: Receiver, **extra) -> Settings:
    return Settings(environment="test", database_url=url, crisis_webhook_url=receiver.url,
                    crisis_webhook_secret=SECRET, public_url="https://amani.example.org", **extra)


def ask_for_human(url: str, user: str = "u1", risk: str = "high") -> str:
    with transaction(url) as session:
        repo = EscalationRepository(session, ("webhook",), "https://amani.example.org")
        escalation = repo.record_detection(user, channel="rest", language="sw", country="KE", risk_level=risk,
                                           reasons=["lexicon:sw:kufa"])
        escalation.transcript = [{"from": "user", "text": "nataka kufa", "at": 1.0}]
        repo.update(escalation, consent_human=True, status="pending")
        return escalation.id


def deliveries(url: str) -> list[HandoffDelivery]:
    with transaction(url) as session:
        return list(session.execute(select(HandoffDelivery).order_by(HandoffDelivery.id)).scalars())


def test_the_delivery_is_written_in_the_escalations_transaction(url):
    with pytest.raises(RuntimeError):
        with transaction(url) as session:
            repo = EscalationRepository(session, ("webhook",), "")
            escalation = repo.record_detection("u9", channel="rest", language="en", country=None,
                                               risk_level="high", reasons=["intent"])
            repo.update(escalation, status="pending")
            raise RuntimeError("crash before commit")
    assert deliveries(url) == []  # neither the escalation change nor its delivery
    with transaction(url) as session:
        assert session.execute(select(Escalation)).first() is None
    escalation_id = ask_for_human(url)
    [row] = deliveries(url)
    assert (row.escalation_id, row.target, row.status, row.idempotency_key) == (
        escalation_id, "webhook", "pending", f"{escalation_id}:handoff:webhook")
    packet = row.payload
    assert (packet["language"], packet["country"], packet["risk_level"], packet["reasons"]) == (
        "sw", "KE", "high", ["lexicon:sw:kufa"])
    assert packet["last_messages"] == [{"from": "user", "text": "nataka kufa", "at": 1.0}]
    assert packet["console_url"] == f"https://amani.example.org/console#/escalations/{escalation_id}"


def test_delivered_once_with_a_valid_signature(url, receiver):
    receiver.up()
    escalation_id = ask_for_human(url)
    dispatcher = Dispatcher(settings(url, receiver))
    assert asyncio.run(dispatcher.run_once())["delivered"] == 1
    assert asyncio.run(dispatcher.run_once())["delivered"] == 0
    key = f"{escalation_id}:handoff:webhook"
    assert list(receiver.accepted) == [key] and len(receiver.accepted[key]) == 1
    assert receiver.rejected_signatures == 0
    assert deliveries(url)[0].status == "delivered"


def test_a_forged_signature_is_rejected_by_the_receiver(url, receiver):
    receiver.up()
    ask_for_human(url)
    forged = Settings(environment="test", database_url=url, crisis_webhook_url=receiver.url,
                      crisis_webhook_secret="not-the-teams-secret-0000")
    result = asyncio.run(Dispatcher(forged).run_once())
    assert result["dead"] == 1 and receiver.rejected_signatures == 1 and receiver.accepted == {}


def test_ten_minutes_of_outage_then_every_escalation_delivered_once(url, receiver):
    ids = [ask_for_human(url, f"user-{n}", risk) for n, risk in enumerate(["high", "imminent", "moderate"])]
    clock = Clock()
    dispatcher = Dispatcher(settings(url, receiver), clock=clock)
    attempts_while_down = 0
    for _ in range(20):  # the receiver is down for 10 minutes: 20 passes, 30 s apart
        attempts_while_down += asyncio.run(dispatcher.run_once())["retried"]
        clock.advance(30)
    assert attempts_while_down >= 3 * 4  # exponential backoff keeps trying, but not every pass
    assert all(d.status == "pending" for d in deliveries(url))
    receiver.up()
    receiver.failing = 1  # the first request after the outage still fails
    for _ in range(12):  # at most the backoff cap (300 s) after it returns
        asyncio.run(dispatcher.run_once())
        clock.advance(30)
    # the handoffs, and the supervisor alerts raised because nobody could accept during the outage
    assert sorted(receiver.accepted) == sorted([f"{i}:handoff:webhook" for i in ids] +
                                               [f"{i}:alert:webhook" for i in ids])
    assert all(len(v) == 1 for v in receiver.accepted.values())  # none twice under the same key
    assert all(d.status == "delivered" for d in deliveries(url))


def test_a_restart_between_claim_and_delivery_loses_nothing(url, receiver):
    receiver.up()
    escalation_id = ask_for_human(url)
    clock = Clock()
    crashed = Dispatcher(settings(url, receiver), clock=clock)
    assert crashed._claim(clock()) == [deliveries(url)[0].id]  # claimed, then the process dies
    restarted = Dispatcher(settings(url, receiver), clock=clock)
    assert asyncio.run(restarted.run_once())["delivered"] == 0  # the claim still holds
    clock.advance(61)
    assert asyncio.run(restarted.run_once())["delivered"] == 1
    assert list(receiver.accepted) == [f"{escalation_id}:handoff:webhook"]


def test_dead_letter_after_the_last_attempt_raises_an_alert(url, receiver, caplog):
    receiver.up()
    receiver.failing = 1000
    escalation_id = ask_for_human(url)
    clock = Clock()
    dispatcher = Dispatcher(settings(url, receiver, handoff_max_attempts=3, handoff_accept_timeout_seconds=86400),
                            clock=clock)
    outcomes = []
    with caplog.at_level(logging.ERROR, logger="bot.handoff.dispatcher"):
        for _ in range(6):
            counts = asyncio.run(dispatcher.run_once())
            outcomes += [k for k in ("retried", "dead") if counts[k]]
            clock.advance(600)
    assert outcomes == ["retried", "retried", "dead"]
    assert f"handoff delivery dead-lettered: escalation {escalation_id}" in caplog.text
    from bot.handoff.service import HandoffService

    dead = HandoffService(settings(url, receiver)).dead_letters()
    assert [(d["escalation_id"], d["attempts"], d["last_error"]) for d in dead] == [(escalation_id, 3, "HTTP 503")]
    with transaction(url) as session:
        kinds = [e.kind for e in session.get(Escalation, escalation_id).events]
        assert kinds.count("delivery_retried") == 2 and "delivery_dead" in kinds
