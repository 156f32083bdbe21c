"""WhatsApp Cloud API over HTTP: the real channel, inbox and worker against the fake Graph API (echo dialogue)."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import update

from bot.identity import pseudonymise
from bot.store.channel_models import ChannelAddress, OutboxMessage
from bot.store.db import transaction
from channels.whatsapp import country_of, verify_signature
from tests.channels import harness
from tests.channels.harness import unique, wa_message, wa_notification


def number(prefix: str = "2547") -> str:
    return f"{prefix}{10_000_000 + unique():08d}"


def wamid() -> str:
    return f"wamid.HBgLMjU0NzEyMzQ1Njc4FQIAEhgUM0EB{unique():06d}"


def send(stack, wa_id: str, message_id: str, kind: str = "text", **content):
    notification = wa_notification(wa_message(message_id, kind, wa_id=wa_id, **content), wa_id=wa_id)
    return stack.post_whatsapp(notification)


def texts(calls) -> list[str]:
    return [c.params["text"]["body"] for c in calls]


@pytest.mark.parametrize("mode,token,status", [
    ("subscribe", harness.WA_VERIFY, 200), ("subscribe", "wrong", 403), ("unsubscribe", harness.WA_VERIFY, 403),
    ("subscribe", "", 403),
])
def test_verification_handshake(stack, mode, token, status):
    response = requests.get(f"{stack.server.url}/webhooks/whatsapp/webhook",
                            params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"},
                            timeout=10)
    assert response.status_code == status
    if status == 200:
        assert response.text == "1158201444"


@pytest.mark.parametrize("signature", [
    None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "forged",
    harness.sign(b"another body"), harness.sign(b"x", secret="not-the-app-secret"),
])
def test_forged_signature_is_rejected_before_parsing_and_nothing_stored(stack, signature):
    message_id = wamid()
    body = harness.wa_body(wa_notification(wa_message(message_id, wa_id=number())))
    response = stack.post_whatsapp(raw=body, signature=signature)
    assert response.status_code == 403
    assert stack.inbox("whatsapp", message_id) == []


def test_signature_of_a_modified_body_is_rejected(stack):
    message_id = wamid()
    body = harness.wa_body(wa_notification(wa_message(message_id, wa_id=number())))
    signature = harness.sign(body)
    tampered = body.replace(b"habari", b"habarl")
    assert stack.post_whatsapp(raw=tampered, signature=signature).status_code == 403
    assert stack.inbox("whatsapp", message_id) == []


def test_text_is_answered_with_country_hint_and_the_number_only_encrypted(stack):
    wa_id, message_id = number(), wamid()
    assert send(stack, wa_id, message_id, text={"body": "habari, nimechoka"}).status_code == 200
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["type"] == "text" and reply.params["text"]["body"] == "echo[-]: habari, nimechoka"
    [(sender, _, metadata)] = stack.seen_by_agent(lambda s: s[1] == "habari, nimechoka")
    assert sender == pseudonymise(f"whatsapp:{wa_id}", "dev-pseudonym-key")
    assert metadata == {"kind": "text", "country": "KE"}  # Kenya: English and Swahili, so no language hint
    row = stack.wait_inbox_status("whatsapp", message_id, "done")
    assert row.text is None
    [address] = stack.rows(ChannelAddress, platform="whatsapp", user_id=sender)
    assert address.last_inbound_at is not None
    assert wa_id.encode() not in stack.database_bytes(), "the phone number is stored only encrypted"


@pytest.mark.parametrize("prefix,country,language", [
    ("34", "ES", "es"), ("52", "MX", "es"), ("55", "BR", "pt"), ("258", "MZ", "pt"), ("221", "SN", "fr"),
    ("20", "EG", "ar"), ("255", "TZ", "sw"), ("91", "IN", None), ("1", None, None), ("44", "GB", "en"),
])
def test_calling_code_gives_country_and_unambiguous_language(stack, prefix, country, language):
    assert country_of(f"{prefix}123456789") == (country, language)
    wa_id = f"{prefix}{600_000_000 + unique()}"
    send(stack, wa_id, wamid(), text={"body": "hi"})
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["text"]["body"] == f"echo[{language or '-'}]: hi"


def test_duplicate_delivery_is_acknowledged_and_answered_once(stack):
    wa_id, message_id = number(), wamid()
    notification = wa_notification(wa_message(message_id, wa_id=wa_id, text={"body": "once"}), wa_id=wa_id)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: stack.post_whatsapp(notification).status_code, range(4)))
    assert statuses == [200] * 4
    stack.whatsapp_replies(wa_id, 1)
    assert stack.post_whatsapp(notification).status_code == 200
    time.sleep(0.5)
    assert len([c for c in stack.graph.calls if c.params.get("to") == wa_id]) == 1
    assert len(stack.inbox("whatsapp", message_id)) == 1


def test_several_messages_in_one_notification_are_each_stored_and_answered_in_order(stack):
    wa_id = number()
    ids = [wamid() for _ in range(3)]
    notification = wa_notification(*[wa_message(i, wa_id=wa_id, text={"body": f"m{n}"}) for n, i in enumerate(ids)],
                                   wa_id=wa_id)
    assert stack.post_whatsapp(notification).status_code == 200
    assert texts(stack.whatsapp_replies(wa_id, 3)) == ["echo[-]: m0", "echo[-]: m1", "echo[-]: m2"]


@pytest.mark.parametrize("kind,content,expected", [
    ("interactive", {"interactive": {"type": "button_reply", "button_reply": {"id": "/affirm", "title": "Yes"}}},
     "/affirm"),
    ("interactive", {"interactive": {"type": "list_reply", "list_reply": {
        "id": '/change_language{"language": "sw"}', "title": "Kiswahili", "description": "Swahili"}}},
     '/change_language{"language": "sw"}'),
    ("button", {"button": {"payload": "/greet", "text": "Hi again"}}, "/greet"),
    ("image", {"image": {"id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "x"}},
     "/unsupported_message"),
    ("image", {"image": {"id": "1", "mime_type": "image/jpeg", "caption": "sijisikii vizuri"}}, "sijisikii vizuri"),
    ("audio", {"audio": {"id": "1", "mime_type": "audio/ogg; codecs=opus", "voice": True}}, "/unsupported_message"),
    ("video", {"video": {"id": "1", "mime_type": "video/mp4"}}, "/unsupported_message"),
    ("document", {"document": {"id": "1", "filename": "a.pdf", "mime_type": "application/pdf"}},
     "/unsupported_message"),
    ("sticker", {"sticker": {"id": "1", "mime_type": "image/webp", "animated": False}}, "/unsupported_message"),
    ("location", {"location": {"latitude": -1.2921, "longitude": 36.8219, "name": "Nairobi"}},
     "/unsupported_message"),
    ("contacts", {"contacts": [{"name": {"formatted_name": "Mum"}, "phones": [{"phone": "+254700000000"}]}]},
     "/unsupported_message"),
    ("unsupported", {"errors": [{"code": 131051, "title": "Message type unknown",
                                 "error_data": {"details": "Message type is currently not supported."}}]},
     "/unsupported_message"),
    ("order", {"order": {"catalog_id": "1", "product_items": []}}, "/unsupported_message"),
    ("interactive", {"interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "name": "flow"}}},
     "/unsupported_message"),
])
def test_every_message_type(stack, kind, content, expected):
    wa_id = number()
    assert send(stack, wa_id, wamid(), kind, **content).status_code == 200
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["text"]["body"] == f"echo[-]: {expected}"


def test_reactions_are_acknowledged_without_an_answer(stack):
    wa_id, message_id = number(), wamid()
    response = send(stack, wa_id, message_id, "reaction", reaction={"message_id": "wamid.X", "emoji": "❤️"})
    assert response.status_code == 200
    assert stack.inbox("whatsapp", message_id) == []


def test_status_callbacks_update_the_sent_reply_and_store_nothing_in_the_inbox(stack):
    wa_id = number()
    send(stack, wa_id, wamid(), text={"body": "status please"})
    stack.whatsapp_replies(wa_id, 1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sent = [r for r in stack.rows(OutboxMessage, platform="whatsapp") if r.platform_message_id and r.status
                == "sent"]
        if sent:
            break
        time.sleep(0.05)
    target = sent[-1].platform_message_id
    statuses = [{"id": target, "status": "delivered", "timestamp": str(int(time.time())), "recipient_id": wa_id,
                 "conversation": {"id": "c", "origin": {"type": "service"}},
                 "pricing": {"billable": False, "pricing_model": "PMP", "category": "service"}}]
    assert stack.post_whatsapp(wa_notification(statuses=statuses)).status_code == 200
    [row] = stack.rows(OutboxMessage, platform_message_id=target)
    assert row.delivery_status == "delivered"


def test_notifications_for_another_number_are_ignored(stack):
    wa_id, message_id = number(), wamid()
    notification = wa_notification(wa_message(message_id, wa_id=wa_id), phone_number_id="999999999", wa_id=wa_id)
    assert stack.post_whatsapp(notification).status_code == 200
    assert stack.inbox("whatsapp", message_id) == []


@pytest.mark.parametrize("count", [1, 3])
def test_up_to_three_buttons_are_reply_buttons(stack, count):
    wa_id = number()
    send(stack, wa_id, wamid(), text={"body": f"/buttons{count}"})
    [reply] = stack.whatsapp_replies(wa_id, 1)
    interactive = reply.params["interactive"]
    assert interactive["type"] == "button" and interactive["body"]["text"] == "Pick one"
    buttons = interactive["action"]["buttons"]
    assert [b["reply"]["id"] for b in buttons] == [f'/choose{{"n": {i}}}' for i in range(1, count + 1)]
    assert all(len(b["reply"]["title"]) <= 20 for b in buttons)


@pytest.mark.parametrize("count,lists", [(4, 1), (7, 1), (10, 1), (12, 2)])
def test_more_options_are_list_messages(stack, count, lists):
    wa_id = number()
    send(stack, wa_id, wamid(), text={"body": f"/buttons{count}"})
    replies = stack.whatsapp_replies(wa_id, lists)
    rows = [row for r in replies for s in r.params["interactive"]["action"]["sections"] for row in s["rows"]]
    assert all(r.params["interactive"]["type"] == "list" for r in replies)
    assert [row["id"] for row in rows] == [f'/choose{{"n": {i}}}' for i in range(1, count + 1)]
    assert all(len(row["title"]) <= 24 and len(row.get("description", "")) <= 72 for row in rows)
    assert rows[0]["description"] == "Option number 1 with a long title"


def test_a_10000_character_reply_is_split_under_4096(stack):
    wa_id = number()
    send(stack, wa_id, wamid(), text={"body": "/long"})
    parts = texts(stack.whatsapp_replies(wa_id, 3))
    assert all(len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == harness.LONG_REPLY.split()
    wa_id2, long_in = number(), ("Ninajisikia mpweke sana. " * 500)[:10_000]
    send(stack, wa_id2, wamid(), text={"body": long_in})
    assert " ".join(texts(stack.whatsapp_replies(wa_id2, 3))).split() == f"echo[-]: {long_in}".split()


def test_outside_the_24_hour_window_one_template_is_sent_instead(stack):
    wa_id = number()
    old = int(time.time()) - 25 * 3600  # redelivered a day late (e.g. after an outage)
    send(stack, wa_id, wamid(), timestamp=old, text={"body": "late one"})
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["type"] == "template"
    assert reply.params["template"] == {"name": "amani_reconnect", "language": {"code": "en"}}
    send(stack, wa_id, wamid(), timestamp=old + 60, text={"body": "late two"})
    stack.seen_by_agent(lambda s: s[1] == "late two")
    time.sleep(0.5)
    assert len([c for c in stack.graph.calls if c.params.get("to") == wa_id]) == 1, "one template per closed window"
    # the person writes again: the window is open, free text flows
    send(stack, wa_id, wamid(), text={"body": "back now"})
    replies = stack.whatsapp_replies(wa_id, 2)
    assert replies[1].params["type"] == "text" and replies[1].params["text"]["body"] == "echo[-]: back now"


def test_inside_the_window_text_is_sent(stack):
    wa_id = number()
    send(stack, wa_id, wamid(), timestamp=int(time.time()) - 23 * 3600, text={"body": "earlier today"})
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["type"] == "text"


def test_platform_reengagement_error_falls_back_to_the_template(stack):
    wa_id = number()
    stack.graph.fail_next(1, 400, code=131047)
    send(stack, wa_id, wamid(), text={"body": "window closed meanwhile"})
    [reply] = stack.whatsapp_replies(wa_id, 1)
    assert reply.params["type"] == "template"


def test_rate_limit_retry_after_is_honoured(stack):
    wa_id = number()
    stack.graph.fail_next(1, 429, retry_after=1)
    send(stack, wa_id, wamid(), text={"body": "slowly"})
    [reply] = stack.whatsapp_replies(wa_id, 1, seconds=20)
    [refused] = [c for c in stack.graph.refused if c.params.get("to") == wa_id]
    assert reply.at - refused.at >= 1.0


def test_throughput_error_code_and_server_errors_are_retried(stack):
    wa_id = number()
    stack.graph.fail_next(1, 400, code=130429)
    stack.graph.fail_next(1, 503)
    send(stack, wa_id, wamid(), text={"body": "eventually"})
    [reply] = stack.whatsapp_replies(wa_id, 1, seconds=20)
    assert reply.params["text"]["body"] == "echo[-]: eventually"
    assert len([c for c in stack.graph.refused if c.params.get("to") == wa_id]) == 2


def test_a_rejected_message_is_not_retried(stack):
    wa_id = number()
    stack.graph.fail_next(1, 400, code=131026)  # undeliverable
    message_id = wamid()
    send(stack, wa_id, message_id, text={"body": "nobody there"})
    inbox = stack.wait_inbox_status("whatsapp", message_id, "done")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = stack.rows(OutboxMessage, inbox_id=inbox.id)
        if rows and rows[0].status == "failed":
            break
        time.sleep(0.05)
    assert rows[0].status == "failed" and rows[0].error == "code 131026"


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b'{"object": "whatsapp_business_account"}', b"{", b'"x"'])
def test_unreadable_signed_bodies_are_400(stack, raw):
    assert stack.post_whatsapp(raw=raw).status_code == 400


def test_malformed_messages_are_skipped_and_the_rest_stored(stack):
    wa_id, good = number(), wamid()
    notification = wa_notification(
        {"from": "not-a-number", "id": wamid(), "timestamp": "1", "type": "text", "text": {"body": "x"}},
        {"from": wa_id, "id": wamid(), "timestamp": "soon", "type": "text", "text": {"body": "x"}},
        {"from": wa_id, "id": wamid(), "timestamp": "1", "type": "text"},
        wa_message(good, wa_id=wa_id, text={"body": "fine"}), wa_id=wa_id)
    assert stack.post_whatsapp(notification).status_code == 200
    assert texts(stack.whatsapp_replies(wa_id, 1)) == ["echo[-]: fine"]


def test_signature_helper_is_constant_time_shaped():
    body = json.dumps({"a": 1}).encode()
    assert verify_signature(body, harness.sign(body), harness.WA_SECRET)
    assert verify_signature(body, harness.sign(body).upper().replace("SHA256=", "sha256="), harness.WA_SECRET)
    assert not verify_signature(body, harness.sign(body)[:-1], harness.WA_SECRET)
    assert not verify_signature(body, None, harness.WA_SECRET)


def test_a_proactive_message_outside_the_window_becomes_the_template(stack):
    wa_id = number()
    send(stack, wa_id, wamid(), text={"body": "hello"})
    stack.whatsapp_replies(wa_id, 1)
    user = pseudonymise(f"whatsapp:{wa_id}", "dev-pseudonym-key")
    with transaction(stack.url) as session:  # a day passes
        session.execute(update(ChannelAddress).where(ChannelAddress.user_id == user).values(
            last_inbound_at=datetime.now(timezone.utc) - timedelta(hours=25)))
    output = stack.server.app.ctx.channels["whatsapp"].get_output_channel()
    asyncio.run_coroutine_threadsafe(output.send_response(user, {"text": "How are you today?"}),
                                     stack.server.loop).result(10)
    replies = stack.whatsapp_replies(wa_id, 2)
    assert replies[1].params["type"] == "template"
