"""End to end: the real server (`python -m bot run`, with its action server, on SQLite), a person on the REST
channel, the team's webhook receiving the signed packet, and a counsellor using the console in headless Chromium
(Debian's chromium driven by Playwright): log in, see the queue, accept, reply, resolve."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.handoff.receiver import Receiver
from tests.helpers import free_port, text, wait_for

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-secret-0123456789"
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(free_port(), SECRET).up()
    yield r
    r.down()


@pytest.fixture(scope="module")
def server(trained, receiver, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    port = free_port()
    db = folder / "amani.db"
    env = {**os.environ, "AMANI_PORT": str(port), "AMANI_HOST": "127.0.0.1", "AMANI_DATABASE_URL": f"sqlite:///{db}",
           "AMANI_ACTION_PORT": str(free_port()), "CRISIS_WEBHOOK_URL": receiver.url,
           "CRISIS_WEBHOOK_SECRET": SECRET, "AMANI_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "AMANI_NEW_PASSWORD": PASSWORD}
    subprocess.run([sys.executable, "-m", "bot", "console", "add-user", "sam", "--name", "Sam"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        yield {"url": f"http://127.0.0.1:{port}", "db": db}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def send(server: dict, sender: str, message: str, metadata: dict | None = None) -> list[str]:
    body = {"sender": sender, "message": message, **({"metadata": metadata} if metadata else {})}
    response = requests.post(f"{server['url']}/webhooks/rest/webhook", json=body, timeout=60)
    assert response.status_code == 200
    return [m.get("text", "") for m in response.json()]


def tracker_events(db: Path, sender: str) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute(
            "select type_name from events where sender_id = ? order by id", (sender,))]


def until(condition, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is installed by .ci/run")
def test_counsellor_takes_a_handoff_in_the_browser(server, receiver):
    from playwright.sync_api import expect, sync_playwright

    person = "e2e-person"
    replies = send(server, person, "i dont want to be alive anymore", {"country": "GB", "language": "en"})
    assert replies[0] == text("utter_crisis", "en")
    replies = send(server, person, "/request_human")
    assert replies[0] == text("utter_human_requested", "en")
    packets = until(lambda: list(receiver.accepted.values()))
    packet = packets[0][0]
    assert (packet["type"], packet["language"], packet["country"], packet["status"]) == ("handoff", "en", "GB",
                                                                                         "pending")
    assert {"from": "user", "text": "i dont want to be alive anymore"} in [
        {k: m[k] for k in ("from", "text")} for m in packet["last_messages"]]
    assert receiver.rejected_signatures == 0

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{server['url']}/console")
        page.fill("#username", "sam")
        page.fill("#password", "wrong password!!")
        page.click("#login-button")
        expect(page.locator("#login-error")).to_have_text("wrong username or password")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        row = page.locator("tr.row").first
        expect(row).to_contain_text("pending")
        expect(row).to_contain_text("GB")
        row.click()
        expect(page.locator("#transcript")).to_contain_text("i dont want to be alive anymore")
        page.click("#accept")
        expect(page.locator("#detail-meta")).to_contain_text("with sam")

        # the bot is paused: the person's message gets no bot reply, only what is relayed
        assert send(server, person, "is someone there?") == [text("utter_human_joined", "en")]
        expect(page.locator("#transcript")).to_contain_text("is someone there?")
        page.fill("#reply-text", "Hi, I'm Sam from the crisis team. I'm here with you.")
        page.click("#send-reply")
        expect(page.locator("#transcript")).to_contain_text("I'm Sam from the crisis team")
        assert until(lambda: send(server, person, "thank you")) == [
            "Hi, I'm Sam from the crisis team. I'm here with you."]

        page.click("#resolve")
        expect(page.locator("#empty")).to_be_visible()
        browser.close()

    # resumed: the check-in is handed out, and the bot answers again
    replies = send(server, person, "hello")
    assert replies[0] == text("utter_human_resolved", "en") and len(replies) > 1
    events = tracker_events(server["db"], person)
    assert "pause" in events and "resume" in events and events.index("pause") < events.index("resume")


def test_the_console_api_needs_a_login(server):
    assert requests.get(f"{server['url']}/console/api/escalations", timeout=10).status_code == 401
    assert requests.get(f"{server['url']}/console/api/escalations", timeout=10,
                        headers={"Authorization": "Bearer forged"}).status_code == 401
    login = requests.post(f"{server['url']}/console/api/login", json={"username": "sam", "password": PASSWORD},
                          timeout=10)
    token = login.json()["token"]
    queue = requests.get(f"{server['url']}/console/api/escalations", timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert queue.status_code == 200 and isinstance(queue.json()["escalations"], list)
    spec = requests.get(f"{server['url']}/console/api/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.") and "/console/api/escalations/{escalation_id}/accept" in spec["paths"]
    # a cookie-authenticated change without the console's header is refused (cross-site request forgery)
    session = requests.Session()
    session.post(f"{server['url']}/console/api/login", json={"username": "sam", "password": PASSWORD}, timeout=10)
    forged = session.post(f"{server['url']}/console/api/escalations/x/accept", timeout=10)
    assert forged.status_code == 403
