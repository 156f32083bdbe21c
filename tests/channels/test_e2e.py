"""End to end: the real bot (`python -m bot run`, real router, models and dialogue) with Telegram and WhatsApp
enabled from their settings, against the fake platforms. The crisis path must work over both channels."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.channels import harness
from tests.channels.harness import tg_message, unique, wa_message, wa_notification
from tests.helpers import free_port, text, variations, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bot(trained, fakes, tmp_path_factory):
    """The bot with no action server: the first crisis reply must need none."""
    telegram, graph = fakes
    port = free_port()
    folder = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ, "AMANI_PORT": str(port), "AMANI_HOST": "127.0.0.1", "AMANI_ENVIRONMENT": "test",
        "AMANI_DATABASE_URL": f"sqlite:///{folder / 'amani.db'}", "AMANI_ACTION_PORT": str(free_port()),
        "AMANI_LOG_LEVEL": "INFO",
        "TELEGRAM_TOKEN": harness.TOKEN, "TELEGRAM_SECRET_TOKEN": harness.SECRET, "TELEGRAM_API_BASE_URL": telegram.url,
        "WHATSAPP_ACCESS_TOKEN": harness.WA_TOKEN, "WHATSAPP_APP_SECRET": harness.WA_SECRET,
        "WHATSAPP_VERIFY_TOKEN": harness.WA_VERIFY, "WHATSAPP_PHONE_NUMBER_ID": harness.WA_PHONE_ID,
        "WHATSAPP_API_BASE_URL": graph.url,
    }
    log = folder / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--no-actions"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/webhooks/telegram/", proc, seconds=240)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def post_telegram(base: str, update: dict) -> int:
    return requests.post(f"{base}/webhooks/telegram/webhook", json=update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": harness.SECRET}, timeout=10).status_code


def post_whatsapp(base: str, notification: dict) -> int:
    body = harness.wa_body(notification)
    return requests.post(f"{base}/webhooks/whatsapp/webhook", data=body,
                         headers={"X-Hub-Signature-256": harness.sign(body), "Content-Type": "application/json"},
                         timeout=10).status_code


def telegram_texts(fake, chat_id: int, count: int) -> list[str]:
    calls = fake.wait_for_calls(count, 60, lambda c: c.params.get("chat_id") == str(chat_id))
    return [c.params["text"] for c in calls]


def test_crisis_over_telegram_gets_the_static_crisis_reply_in_spanish(bot, fakes):
    base, _ = bot
    cid = 600_000_000 + unique()
    assert post_telegram(base, tg_message(3_000_000 + unique(), "quiero suicidarme", chat_id=cid)) == 200
    assert telegram_texts(fakes[0], cid, 1)[0] == text("utter_crisis", "es")


def test_crisis_in_a_telegram_group_gets_the_crisis_reply_and_small_talk_does_not_get_a_conversation(bot, fakes):
    base, _ = bot
    group = -1_000_000_000_000 - unique()
    assert post_telegram(base, tg_message(3_000_000 + unique(), "hola a todos", chat_id=group,
                                          chat_type="supergroup")) == 200
    first = telegram_texts(fakes[0], group, 1)
    assert first[0] != text("utter_greet", "es"), "no conversation is started in a group"
    assert post_telegram(base, tg_message(3_000_000 + unique(), "quiero suicidarme", chat_id=group,
                                          chat_type="supergroup")) == 200
    assert text("utter_crisis", "es") in telegram_texts(fakes[0], group, len(first) + 1)


def test_crisis_over_whatsapp_gets_the_static_crisis_reply_in_swahili(bot, fakes):
    base, _ = bot
    wa_id = f"2547{20_000_000 + unique()}"
    notification = wa_notification(wa_message(f"wamid.e2e{unique()}", wa_id=wa_id, text={"body": "nataka kujiua"}),
                                   wa_id=wa_id)
    assert post_whatsapp(base, notification) == 200
    [reply] = fakes[1].wait_for_calls(1, 60, lambda c: c.params.get("to") == wa_id)[:1]
    assert reply.params["text"]["body"] == text("utter_crisis", "sw")


def test_greeting_and_buttons_over_telegram(bot, fakes):
    base, _ = bot
    cid = 600_000_000 + unique()
    assert post_telegram(base, tg_message(3_000_000 + unique(), "hola", chat_id=cid, language_code="es")) == 200
    calls = fakes[0].wait_for_calls(2, 60, lambda c: c.params.get("chat_id") == str(cid))
    assert [c.params["text"] for c in calls[:2]] == [text("utter_greet", "es"), text("utter_ask_consent_given", "es")]
    keyboard = calls[1].params.get("reply_markup", {}).get("inline_keyboard")
    assert keyboard, "the consent question's buttons are an inline keyboard"


def test_start_command_and_a_sticker_are_answered_without_crashing(bot, fakes):
    base, log = bot
    cid = 600_000_000 + unique()
    assert post_telegram(base, tg_message(3_000_000 + unique(), "/start", chat_id=cid)) == 200
    replies = telegram_texts(fakes[0], cid, 1)
    assert replies[0] in {v for lang in ("en", "es") for v in variations("utter_greet", lang)}
    sticker = {"sticker": {"file_id": "CAAC", "file_unique_id": "AgAD", "type": "regular", "width": 512,
                           "height": 512, "is_animated": False, "is_video": False, "emoji": "😢"}}
    assert post_telegram(base, tg_message(3_000_000 + unique(), None, chat_id=cid, **sticker)) == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([c for c in fakes[0].calls if c.params.get("chat_id") == str(cid)]) \
            <= len(replies):
        time.sleep(0.1)
    assert len([c for c in fakes[0].calls if c.params.get("chat_id") == str(cid)]) > len(replies)
    logged = log.read_text()
    assert str(cid) not in logged and "quiero suicidarme" not in logged and "nataka kujiua" not in logged
    assert harness.TOKEN not in logged and harness.WA_TOKEN not in logged, "no secret in the logs (httpx URLs)"


def test_web_chat_page_with_the_real_bot(bot):
    from playwright.sync_api import sync_playwright

    base, _ = bot
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(locale="en-GB")
            page.goto(f"{base}/webhooks/webchat/")
            page.select_option("#language", "sw")
            page.locator(".bot").first.wait_for(timeout=60_000)
            assert page.locator(".bot").first.inner_text() == text("utter_language_changed", "sw").strip()
            count = page.locator(".bot").count()
            page.fill("#text", "habari")
            page.keyboard.press("Enter")
            page.locator(".bot").nth(count).wait_for(timeout=60_000)
            assert page.locator(".bot").nth(count).inner_text() == text("utter_greet", "sw").strip()
            page.locator(".buttons button").first.wait_for(timeout=60_000)  # the consent question's buttons
        finally:
            browser.close()
