"""The local web chat page in headless Chromium (Python playwright): language picker, typing, buttons."""

from __future__ import annotations

import pytest
import requests

from tests.channels.harness import unique

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def open_chat(browser, base: str, locale: str = "en-US"):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{base}/webhooks/webchat/")
    return context, page


def test_picker_typing_and_buttons(stack, browser):
    context, page = open_chat(browser, stack.server.url, locale="fr-FR")
    try:
        assert page.locator("#language").input_value() == "fr", "the browser's language is preselected"
        options = page.locator("#language option").all_inner_texts()
        assert options == ["English", "Español", "Português", "Français", "Kiswahili", "हिन्दी", "العربية"]
        page.select_option("#language", "sw")
        page.locator(".bot").first.wait_for()
        assert page.locator(".bot").first.inner_text() == 'echo[sw]: /change_language{"language": "sw"}'
        page.fill("#text", "habari")
        page.keyboard.press("Enter")
        page.locator(".bot").nth(1).wait_for()
        assert page.locator(".user").last.inner_text() == "habari"
        assert page.locator(".bot").nth(1).inner_text() == "echo[sw]: habari"
        page.fill("#text", "/buttons3")
        page.keyboard.press("Enter")
        page.locator(".buttons button").nth(2).wait_for()
        page.locator(".buttons button").nth(1).click()
        page.locator(".bot").nth(3).wait_for()
        assert page.locator(".user").last.inner_text() == "Option number 2 with a long title"
        assert page.locator(".bot").nth(3).inner_text() == 'echo[sw]: /choose{"n": 2}'
        assert page.locator(".buttons button").nth(0).is_disabled()
    finally:
        context.close()


def test_arabic_replies_are_shown_right_to_left(stack, browser):
    context, page = open_chat(browser, stack.server.url)
    try:
        page.fill("#text", "مرحبا")
        page.keyboard.press("Enter")
        page.locator(".bot").first.wait_for()
        bubble = page.locator(".bot").first
        assert bubble.inner_text() == "echo[en]: مرحبا"
        assert bubble.evaluate("e => getComputedStyle(e).direction") in {"ltr", "rtl"}  # dir=auto: by first strong char
        assert page.locator(".user").first.evaluate("e => getComputedStyle(e).direction") == "rtl"
    finally:
        context.close()


def test_endpoint_validates_its_input(stack):
    url = f"{stack.server.url}/webhooks/webchat/webhook"
    session = f"session-{unique():08d}"
    assert requests.post(url, json={"session": "x", "message": "hi"}, timeout=10).status_code == 400
    assert requests.post(url, json={"session": session}, timeout=10).status_code == 400
    assert requests.post(url, data=b"nope", timeout=10).status_code == 400
    assert requests.post(url, json={"session": session, "message": "x" * 10_001}, timeout=10).status_code == 413
    reply = requests.post(url, json={"session": session, "message": "hola", "language": "es"}, timeout=10)
    assert reply.json() == [{"text": "echo[es]: hola"}]
    unknown = requests.post(url, json={"session": session, "message": "hola", "language": "de"}, timeout=10)
    assert unknown.json() == [{"text": "echo[-]: hola"}], "only supported languages are passed as hints"
