"""The real server (`python -m bot run`, with its action server) at the production log level (INFO), with the HTTP
API enabled: the action server listens on localhost only, the API needs the token, a conversation with a phone
number, an e-mail address and a crisis message is stored redacted and leaves none of them (nor the message texts,
nor the sender id) in the logs of either process, the rate limit and the length limit answer kindly, and (once the
dialogue model knows it) "delete my data" leaves zero rows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers import domain, free_port, text, wait_for
from tests.privacy.conftest import events_text

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "api-token-0123456789abcdef"
KEY = "server-test-pseudonym-key-0123456789"
SENDER = "kenya-person-254700000001"
PHONE = "0712 345 678"
EMAIL = "amina.wanjiru@example.com"
MESSAGES = ["hi", f"my number is {PHONE} and my email is {EMAIL}", "I want to kill myself tonight"]
RATE_LIMIT = 4


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("privacy-server")
    port, action_port = free_port(), free_port()
    env = {**os.environ, "AMANI_PORT": str(port), "AMANI_HOST": "127.0.0.1", "AMANI_ACTION_PORT": str(action_port),
           "AMANI_DATABASE_URL": f"sqlite:///{folder / 'amani.db'}", "AMANI_ENABLE_API": "true",
           "AMANI_API_TOKEN": TOKEN, "AMANI_LOG_LEVEL": "INFO", "AMANI_PSEUDONYM_KEY": KEY,
           "AMANI_RATE_LIMIT_MESSAGES": str(RATE_LIMIT), "AMANI_RATE_LIMIT_WINDOW_SECONDS": "600",
           "AMANI_MAX_MESSAGE_CHARS": "1000", "AMANI_ENVIRONMENT": "test", "AMANI_WEBCHAT_ENABLED": "false"}
    log = folder / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        wait_for(f"http://127.0.0.1:{action_port}/health", proc, seconds=120)
        yield {"url": f"http://127.0.0.1:{port}", "action_port": action_port, "db": folder / "amani.db",
               "log": log, "env": env}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def send(server: dict, sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    body = {"sender": sender, "message": message, **({"metadata": metadata} if metadata else {})}
    response = requests.post(f"{server['url']}/webhooks/rest/webhook", json=body, timeout=60)
    assert response.status_code == 200
    return response.json()


def stored_events(server: dict, sender: str) -> list[dict]:
    with sqlite3.connect(server["db"]) as connection:
        rows = connection.execute("select data from events where sender_id = ? order by id", (sender,)).fetchall()
    return [json.loads(row[0]) for row in rows]


@pytest.fixture(scope="module")
def conversation(server):
    replies = [send(server, SENDER, message, {"country": "KE"}) for message in MESSAGES]
    return replies


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":
                found.add(address)
    return found


def test_the_action_server_listens_on_localhost_only(server):
    addresses = listening_addresses(server["action_port"])
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, not 0.0.0.0 nor ::


def test_the_http_api_needs_the_token(server):
    url = f"{server['url']}/conversations/{SENDER}/tracker"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, params={"token": "wrong-token"}, timeout=30).status_code == 401
    assert requests.get(url, params={"token": TOKEN}, timeout=30).status_code == 200


def test_the_crisis_message_is_answered(conversation):
    assert conversation[2][0]["text"] == text("utter_crisis", "en")


def test_the_conversation_is_stored_redacted(server, conversation):
    rows = stored_events(server, SENDER)
    users = [r["text"] for r in rows if r["event"] == "user"]
    assert users[:3] == ["hi", "my number is [phone] and my email is [email]", MESSAGES[2]]
    raw = events_text(rows)
    assert "0712" not in raw and "345 678" not in raw and EMAIL not in raw
    tracker = requests.get(f"{server['url']}/conversations/{SENDER}/tracker", params={"token": TOKEN},
                           timeout=30).json()
    assert PHONE not in json.dumps(tracker) and EMAIL not in json.dumps(tracker)


def test_the_logs_hold_no_text_phone_number_e_mail_or_sender_id(server, conversation):
    log = server["log"].read_text(encoding="utf-8", errors="replace")
    assert "Amani is ready" in log  # the log was really captured, at INFO
    assert "retention purge" in log  # and the daily purge ran at start-up
    for secret in [PHONE, "0712", "345 678", EMAIL, "amina", SENDER, "kill myself", "my number is", TOKEN, KEY]:
        assert secret not in log, f"{secret!r} leaked into the logs"


def test_over_the_rate_limit_the_person_is_answered_kindly_once(server):
    sender = "flooding-person"
    replies = [send(server, sender, "/greet") for _ in range(RATE_LIMIT + 3)]
    assert all(replies[:RATE_LIMIT])
    notice = [{"recipient_id": sender, "text": text("utter_rate_limited", "en")}] \
        if "utter_rate_limited" in domain()["responses"] else []
    assert replies[RATE_LIMIT] == notice and replies[RATE_LIMIT + 1:] == [[], []]
    assert len([r for r in stored_events(server, sender) if r["event"] == "user"]) == RATE_LIMIT
    crisis = send(server, sender, "quiero suicidarme")  # a crisis always gets through
    assert crisis[0]["text"] == text("utter_crisis", "es")


def test_a_long_message_is_cut_and_the_person_told(server):
    sender = "long-writer"
    replies = send(server, sender, "I had a long day at work. " * 200)
    if "utter_message_too_long" in domain()["responses"]:
        assert replies[0]["text"] == text("utter_message_too_long", "en")
    stored = [r["text"] for r in stored_events(server, sender) if r["event"] == "user"]
    assert len(stored) == 1 and len(stored[0]) <= 1000


def dialogue_knows_delete(server: dict) -> bool:
    response = requests.get(f"{server['url']}/domain", params={"token": TOKEN}, timeout=30,
                            headers={"Accept": "application/json"})
    return response.status_code == 200 and "delete_data" in json.dumps(response.json().get("intents"))


def test_delete_my_data_leaves_zero_rows(server):
    if not dialogue_knows_delete(server):
        pytest.skip("the trained dialogue model has no delete_data intent yet (privacy_domain.md not merged)")
    sender = "deleting-person"
    send(server, sender, "hi")
    send(server, sender, f"my number is {PHONE}")
    asked = send(server, sender, "/delete_data")
    assert [b["payload"] for b in asked[-1]["buttons"]] == ["/delete_data_confirm", "/delete_data_cancel"]
    done = send(server, sender, "/delete_data_confirm")
    assert done[-1]["text"] == text("utter_data_deleted", "en")
    assert stored_events(server, sender) == []
    report = subprocess.run([sys.executable, "-m", "bot", "privacy", "report", "--user", f"rest:{sender}", "--json"],
                            cwd=ROOT, env=server["env"], capture_output=True, text=True, timeout=60)
    assert set(json.loads(report.stdout).values()) == {0}
