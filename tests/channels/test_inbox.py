"""The durable inbox/outbox: a crash between the acknowledgement and the processing, leases, order per user,
encryption, retention, and the same store on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from bot.store.channel_models import ChannelAddress, InboxMessage, OutboxMessage
from bot.store.db import migrate, session_factory, transaction
from channels.common import Inbound, Request, split_text, utf16_len
from channels.inbox import AddressCipher, ChannelStore
from tests.channels import harness
from tests.channels.harness import tg_message, unique, wa_message, wa_notification
from tests.helpers import free_port, fresh_postgres_database, wait_for

ROOT = Path(__file__).resolve().parents[2]


def inbound(n: int, user: str = "u1", text: str = "hi", sent_at: datetime | None = None) -> Inbound:
    return Inbound(f"m{n}", user, "254700000001", text, {"kind": "text"}, sent_at or datetime.now(timezone.utc))


@pytest.fixture
def store(tmp_path) -> ChannelStore:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    migrate(url)
    return ChannelStore(url, "whatsapp", AddressCipher("test-address-key"))


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "a")
    return subprocess.Popen([sys.executable, "-m", "tests.channels.harness"], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)


def test_crash_between_ack_and_processing_is_replayed_after_restart(tmp_path, fakes):
    """The server acknowledges and stores, then dies (SIGKILL) before processing; the restarted server answers."""
    telegram, graph = fakes
    port = free_port()
    env = {**os.environ, "TEST_DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}", "TEST_PORT": str(port),
           "TEST_TELEGRAM_URL": telegram.url, "TEST_GRAPH_URL": graph.url, "TEST_WORKER": "0"}
    base = f"http://127.0.0.1:{port}"
    cid, uid = 800_000_000 + unique(), 5_000_000 + unique()
    wa_id, message_id = f"2557{unique():08d}", f"wamid.crash{unique()}"
    first = _serve(env, tmp_path / "first.log")
    try:
        wait_for(f"{base}/webhooks/telegram/", first, seconds=90)
        tg = requests.post(f"{base}/webhooks/telegram/webhook", json=tg_message(uid, "still there?", chat_id=cid),
                           headers={"X-Telegram-Bot-Api-Secret-Token": harness.SECRET}, timeout=10)
        body = harness.wa_body(wa_notification(wa_message(message_id, wa_id=wa_id, text={"body": "uko?"}),
                                               wa_id=wa_id))
        wa = requests.post(f"{base}/webhooks/whatsapp/webhook", data=body,
                           headers={"X-Hub-Signature-256": harness.sign(body)}, timeout=10)
        assert (tg.status_code, wa.status_code) == (200, 200)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert not [c for c in telegram.calls if c.params.get("chat_id") == str(cid)], "nothing answered before the crash"
    session = session_factory(env["TEST_DATABASE_URL"])()
    pending = session.query(InboxMessage).filter(InboxMessage.status == "pending").all()
    session.close()
    assert {(r.platform, r.platform_message_id) for r in pending} == {("telegram", str(uid)), ("whatsapp", message_id)}

    second = _serve({**env, "TEST_WORKER": "1"}, tmp_path / "second.log")
    try:
        wait_for(f"{base}/webhooks/telegram/", second, seconds=90)
        [reply] = telegram.wait_for_calls(1, 20, lambda c: c.params.get("chat_id") == str(cid))
        assert reply.params["text"] == "echo[es]: still there?"
        [wa_reply] = graph.wait_for_calls(1, 20, lambda c: c.params.get("to") == wa_id)
        assert wa_reply.params["text"]["body"] == "echo[sw]: uko?"
    finally:
        second.terminate()
        second.wait(20)
    log = (tmp_path / "first.log").read_text() + (tmp_path / "second.log").read_text()
    assert "still there?" not in log and "uko?" not in log and str(cid) not in log and wa_id not in log


def test_a_claim_left_by_a_dead_worker_is_replayed_when_its_lease_expires(store):
    assert store.accept(inbound(1))
    [claimed] = store.claim(10, lease_seconds=0.2)
    assert store.claim(10, lease_seconds=0.2) == [], "leased: nobody else takes it"
    time.sleep(0.3)
    [again] = store.claim(10, lease_seconds=60)
    assert again.id == claimed.id and again.attempts == 2


def test_messages_of_one_user_are_claimed_in_order_and_wait_behind_a_retry(store):
    for n in range(3):
        store.accept(inbound(n, user="a"))
    store.accept(inbound(10, user="b"))
    claimed = store.claim(10, 60)
    assert [(c.user_id, c.platform_message_id) for c in claimed] == [("a", "m0"), ("a", "m1"), ("a", "m2"),
                                                                     ("b", "m10")]
    store.retry_inbound(claimed[0].id, "RuntimeError", delay=60)
    store.release([claimed[1].id, claimed[2].id])
    store.complete(claimed[3].id, "b", [])
    store.accept(inbound(11, user="b"))
    assert [c.platform_message_id for c in store.claim(10, 60)] == ["m11"], "a's later messages wait behind m0"


def test_duplicates_are_recognised_and_texts_cleared_when_done(store):
    assert store.accept(inbound(1, text="private words"))
    assert not store.accept(inbound(1, text="private words"))
    [claimed] = store.claim(10, 60)
    store.complete(claimed.id, claimed.user_id, [Request("text", {"type": "text", "text": {"body": "reply"}})])
    with transaction(store.url) as session:
        row = session.get(InboxMessage, claimed.id)
        assert row.status == "done" and row.text is None
    groups = store.due_outgoing(10)
    [out] = groups["u1"]
    store.mark_sent(out.id, "wamid.1")
    with transaction(store.url) as session:
        assert session.get(OutboxMessage, out.id).body is None


def test_addresses_are_encrypted_and_need_the_key(store, tmp_path):
    store.accept(inbound(1, user="u9"))
    recipient = store.recipient("u9")
    assert recipient.address == "254700000001"
    other_key = ChannelStore(store.url, "whatsapp", AddressCipher("another-key"))
    assert other_key.recipient("u9") is None
    with transaction(store.url) as session:
        assert b"254700000001" not in session.get(ChannelAddress, ("whatsapp", "u9")).address


def test_last_inbound_time_never_goes_back(store):
    now = datetime.now(timezone.utc)
    store.accept(inbound(1, sent_at=now))
    store.accept(inbound(2, sent_at=now - timedelta(hours=30)))  # a late redelivery of an older message
    assert store.recipient("u1").last_inbound_at == now


def test_prune_and_forget(store):
    store.accept(inbound(1))
    store.accept(inbound(2, user="u2"))
    [first, second] = store.claim(10, 60)
    store.complete(first.id, "u1", [Request("text", {"x": 1})])
    with transaction(store.url) as session:
        session.execute(update(InboxMessage).values(received_at=datetime.now(timezone.utc) - timedelta(days=9)))
    store.prune(8)
    assert not store.accept(inbound(2, user="u2")), "unfinished rows are never pruned"
    assert store.accept(inbound(1)), "a pruned id is new again"
    store.forget("u1")
    assert store.recipient("u1") is None and store.due_outgoing(10).get("u1") is None


def test_split_text_prefers_boundaries_and_loses_nothing():
    text = "First paragraph.\n\n" + "word " * 2000 + "\n\nLast line."
    parts = split_text(text, 4096, utf16_len)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()
    emoji = "😢" * 3000  # 2 UTF-16 units each
    parts = split_text(emoji, 4096, utf16_len)
    assert [utf16_len(p) for p in parts] == [4096, 1904] and "".join(parts) == emoji


def test_the_inbox_on_postgresql():
    try:
        url = fresh_postgres_database("amani_channels_test")
    except Exception as exc:  # pragma: no cover - CI starts PostgreSQL (.ci/run)
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required: {exc}")
    migrate(url)
    pg = ChannelStore(url, "telegram", AddressCipher("pg-key"))
    sent = datetime.now(timezone.utc)
    assert pg.accept(Inbound("1001", "pg-user", "424242", "hola", {"language": "es"}, sent))
    assert not pg.accept(Inbound("1001", "pg-user", "424242", "hola", {"language": "es"}, sent))
    assert pg.accept(Inbound("1002", "pg-user", "424242", "¿sigues ahí?", {}, sent))
    assert pg.accept(Inbound("1003", "pg-other", "434343", "nul\x00byte", {}, sent)), "NUL is dropped, not a 500"
    claimed = pg.claim(10, 60)
    assert [c.platform_message_id for c in claimed] == ["1001", "1002", "1003"]
    assert claimed[0].meta == {"language": "es"} and claimed[2].text == "nulbyte"
    pg.complete(claimed[0].id, "pg-user", [Request("sendMessage", {"text": "hola 👋"})])
    [out] = pg.due_outgoing(10)["pg-user"]
    assert out.body == {"text": "hola 👋"}
    pg.mark_retry(out.id, 60, "RetryAfter")
    assert pg.due_outgoing(10) == {}
    recipient = pg.recipient("pg-user")
    assert recipient.address == "424242" and recipient.last_inbound_at == sent
    session = session_factory(url)()
    rows = session.query(InboxMessage).order_by(InboxMessage.id).all()
    session.close()
    assert [(r.status, r.text) for r in rows] == [("done", None), ("processing", "¿sigues ahí?"),
                                                  ("processing", "nulbyte")]
