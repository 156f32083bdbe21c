"""Telegram over HTTP: the real channel, inbox and worker against the fake Bot API (echo dialogue)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.identity import pseudonymise
from bot.store.channel_models import ChannelAddress, InboxMessage, OutboxMessage
from channels.common import utf16_len
from channels.telegram import keyboard
from tests.channels import harness
from tests.channels.conftest import start_stack
from tests.channels.harness import tg_callback, tg_message, unique


def chat() -> int:
    return 700_000_000 + unique()


def update_id() -> int:
    return 900_000 + unique()


@pytest.mark.parametrize("secret", [None, "", "wrong", harness.SECRET[:-1], harness.SECRET + "x",
                                    harness.SECRET.upper()])
def test_forged_secret_is_rejected_and_nothing_stored(stack, secret):
    uid = update_id()
    response = stack.post_telegram(tg_message(uid, "hola", chat_id=chat()), secret=secret)
    assert response.status_code == 403
    assert stack.inbox("telegram", str(uid)) == []


def test_text_is_stored_before_the_ack_then_answered_with_the_language_hint(stack):
    cid, uid = chat(), update_id()
    response = stack.post_telegram(tg_message(uid, "hola, ¿qué tal?", chat_id=cid, language_code="es"))
    assert response.status_code == 200
    assert stack.inbox("telegram", str(uid)), "stored before the webhook answered"
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "echo[es]: hola, ¿qué tal?"
    # Rasa saw the pseudonym, never the chat id
    [(sender, _, metadata)] = stack.seen_by_agent(lambda s: s[1] == "hola, ¿qué tal?")
    assert sender == pseudonymise(f"telegram:{cid}", "dev-pseudonym-key") and str(cid) not in sender
    assert metadata == {"kind": "text", "language": "es"}
    row = stack.wait_inbox_status("telegram", str(uid), "done")
    assert row.text is None and row.user_id == sender, "text cleared once processed"
    [address] = stack.rows(ChannelAddress, platform="telegram", user_id=sender)
    assert str(cid).encode() not in address.address
    assert str(cid).encode() not in stack.database_bytes(), "the chat id is stored only encrypted"


def test_duplicate_delivery_is_acknowledged_and_answered_once(stack):
    cid, uid = chat(), update_id()
    update = tg_message(uid, "once please", chat_id=cid)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: stack.post_telegram(update).status_code, range(4)))
    assert statuses == [200] * 4
    stack.telegram_replies(cid, 1)
    assert stack.post_telegram(update).status_code == 200  # a redelivery after processing
    time.sleep(0.5)
    calls = [c for c in stack.telegram.calls if c.params.get("chat_id") == str(cid)]
    assert len(calls) == 1
    assert len(stack.inbox("telegram", str(uid))) == 1
    assert len(stack.seen_by_agent(lambda s: s[1] == "once please")) == 1


@pytest.mark.parametrize("command,payload", [
    ("/start", "/greet"), ("/help", "/ask_capabilities"), ("/language", "/change_language"),
    ("/language es", '/change_language{"language": "es"}'),
    ("/language pt-BR", '/change_language{"language": "pt-BR"}'),
    ("/stop", "/stop"), ("/delete", "/delete_data"), ("/start@amani_test_bot", "/greet"), ("/START", "/greet"),
    ("/language x}{", "/change_language"), ("/somethingelse", "/somethingelse"),
])
def test_commands_become_rasa_payloads(stack, command, payload):
    cid = chat()
    assert stack.post_telegram(tg_message(update_id(), command, chat_id=cid)).status_code == 200
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == f"echo[es]: {payload}"


def test_button_press_is_the_payload_and_the_callback_is_answered(stack):
    cid, uid = chat(), update_id()
    response = stack.post_telegram(tg_callback(uid, '/choose{"n": 2}', chat_id=cid))
    assert response.status_code == 200
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": f"4382bfdwdsb323b2d9{uid}"}
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == 'echo[es]: /choose{"n": 2}'


def test_buttons_are_sent_as_an_inline_keyboard(stack):
    cid = chat()
    stack.post_telegram(tg_message(update_id(), "/buttons3", chat_id=cid))
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "Pick one"
    rows = reply.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in rows for b in row] == [f'/choose{{"n": {i}}}' for i in (1, 2, 3)]


def test_keyboard_falls_back_to_the_title_when_a_payload_exceeds_64_bytes():
    long_payload = '/choose_topic{"topic": "' + "x" * 80 + '"}'
    markup = keyboard([{"title": "Sleep", "payload": long_payload}, {"title": "Web", "url": "https://example.org"},
                       {"title": "Ok", "payload": "/affirm"}])
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    assert buttons[0] == {"text": "Sleep", "callback_data": "Sleep"}
    assert buttons[1] == {"text": "Web", "url": "https://example.org"}
    assert buttons[2] == {"text": "Ok", "callback_data": "/affirm"}


NON_TEXT = {
    "voice": {"voice": {"file_id": "AwACAgIAAxkBAAIB", "file_unique_id": "AgAD", "duration": 3}},
    "audio": {"audio": {"file_id": "CQACAgIAAxkBAAIB", "file_unique_id": "AgAD", "duration": 120}},
    "video_note": {"video_note": {"file_id": "DQACAgIAAxkBAAIB", "file_unique_id": "AgAD", "length": 240,
                                  "duration": 5}},
    "photo": {"photo": [{"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "AQAD", "width": 90, "height": 67}]},
    "sticker": {"sticker": {"file_id": "CAACAgIAAxkBAAIB", "file_unique_id": "AgAD", "type": "regular",
                            "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "😢"}},
    "location": {"location": {"latitude": -1.2921, "longitude": 36.8219}},
    "venue": {"venue": {"location": {"latitude": -1.29, "longitude": 36.82}, "title": "Park", "address": "Rd 1"},
              "location": {"latitude": -1.29, "longitude": 36.82}},
    "contact": {"contact": {"phone_number": "+254700000000", "first_name": "Mum"}},
    "document": {"document": {"file_id": "BQACAgIAAxkBAAIB", "file_unique_id": "AgAD", "file_name": "a.pdf"}},
    "animation": {"animation": {"file_id": "CgACAgIAAxkBAAIB", "file_unique_id": "AgAD", "width": 1, "height": 1,
                                "duration": 1}, "document": {"file_id": "CgAC", "file_unique_id": "AgAD"}},
    "poll": {"poll": {"id": "1", "question": "?", "options": [{"text": "a", "voter_count": 0, "persistent_id": "a"}],
                      "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
                      "allows_multiple_answers": False}},
    "dice": {"dice": {"emoji": "🎲", "value": 4}},
    "video": {"video": {"file_id": "BAACAgIAAxkBAAIB", "file_unique_id": "AgAD", "width": 1, "height": 1,
                        "duration": 1}},
}


@pytest.mark.parametrize("kind", sorted(NON_TEXT))
def test_every_non_text_message_gets_the_unsupported_payload_and_an_answer(stack, kind):
    cid = chat()
    assert stack.post_telegram(tg_message(update_id(), None, chat_id=cid, **NON_TEXT[kind])).status_code == 200
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "echo[es]: /unsupported_message"
    [(_, _, metadata)] = stack.seen_by_agent(lambda s: s[0] == pseudonymise(f"telegram:{cid}", "dev-pseudonym-key"))
    assert metadata["kind"] == kind


def test_a_message_the_library_cannot_read_is_still_answered(stack):
    cid = chat()
    future = tg_message(update_id(), None, chat_id=cid, poll={"id": "1", "question": "?", "options": [{"text": "a"}]})
    assert stack.post_telegram(future).status_code == 200
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "echo[es]: /unsupported_message"


def test_words_sent_with_a_photo_are_read(stack):
    cid = chat()
    stack.post_telegram(tg_message(update_id(), None, chat_id=cid, caption="no puedo más", **NON_TEXT["photo"]))
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "echo[es]: no puedo más"


def test_edited_message_is_answered_kindly_not_reprocessed(stack):
    cid, uid = chat(), update_id()
    edited = tg_message(uid, "hola (edited)", chat_id=cid)
    edited["edited_message"] = dict(edited.pop("message"), edit_date=int(time.time()))
    assert stack.post_telegram(edited).status_code == 200
    [reply] = stack.telegram_replies(cid, 1)
    assert reply.params["text"] == "echo[es]: /unsupported_message"
    assert stack.inbox("telegram", str(uid))[0].meta["kind"] == "edited"


def test_a_crisis_in_a_group_chat_still_reaches_the_dialogue(stack):
    group = -1_000_000_000_000 - unique()
    text = "@amani_test_bot quiero suicidarme"
    assert stack.post_telegram(tg_message(update_id(), text, chat_id=group, chat_type="group")).status_code == 200
    [reply] = stack.telegram_replies(group, 1, seconds=30)  # the lexicons load on the first group message
    assert reply.params["text"] == f"echo[es]: {text}"


def test_group_chat_is_answered_in_the_group_with_the_unsupported_payload(stack):
    group = -1_000_000_000_000 - unique()
    assert stack.post_telegram(tg_message(update_id(), "hi all", chat_id=group, chat_type="supergroup")).status_code \
        == 200
    [reply] = stack.telegram_replies(group, 1)
    assert reply.params["text"] == "echo[es]: /unsupported_message"
    senders = stack.seen_by_agent(lambda s: s[0] == pseudonymise(f"telegram-group:{group}", "dev-pseudonym-key"))
    assert senders and senders[0][2]["kind"] == "group"


@pytest.mark.parametrize("update", [
    {"update_id": 1, "channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"},
                                      "text": "x"}},
    {"update_id": 2, "my_chat_member": {"chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": False,
     "first_name": "A"}, "date": 0, "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True,
     "first_name": "B"}}, "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True,
     "first_name": "B"}, "until_date": 0}}},
])
def test_updates_that_need_no_answer_are_acknowledged_and_not_stored(stack, update):
    update = dict(update, update_id=update_id())
    assert stack.post_telegram(update).status_code == 200
    assert stack.inbox("telegram", str(update["update_id"])) == []


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"update_id": "1"}', b'{"message": {}}', b"null",
                                 b'{"update_id": 5, "message": {"chat": 3}}'])
def test_unreadable_bodies_with_the_right_secret_are_400(stack, raw):
    assert stack.post_telegram(None, raw=raw).status_code == 400


def test_a_10000_character_message_in_and_out(stack):
    cid = chat()
    long_in = ("Me siento muy sola últimamente. " * 400)[:10_000]
    stack.post_telegram(tg_message(update_id(), long_in, chat_id=cid))
    assert stack.seen_by_agent(lambda s: s[1] == long_in.strip()), "the whole text reached the dialogue"
    cid2 = chat()
    stack.post_telegram(tg_message(update_id(), "/long", chat_id=cid2))
    parts = stack.telegram_replies(cid2, 3)
    texts = [p.params["text"] for p in parts]
    assert len(texts) == 3 and all(utf16_len(t) <= 4096 for t in texts)
    assert " ".join(texts).split() == harness.LONG_REPLY.split(), "nothing lost, in order"
    echoed = stack.telegram_replies(cid, 3)  # the echo is longer than 4,096 characters: split in three
    assert " ".join(c.params["text"] for c in echoed).split() == f"echo[es]: {long_in.strip()}".split()


def test_rate_limit_retry_after_is_honoured_and_order_kept(stack):
    cid = chat()
    stack.telegram.fail_next(1, 429, retry_after=1)
    stack.post_telegram(tg_message(update_id(), "first", chat_id=cid))
    stack.post_telegram(tg_message(update_id(), "second", chat_id=cid))
    replies = stack.telegram_replies(cid, 2, seconds=20)
    refused = [c for c in stack.telegram.refused if c.params.get("chat_id") == str(cid)]
    assert len(refused) == 1 and refused[0].status == 429
    assert replies[0].at - refused[0].at >= 1.0, "waited retry_after seconds"
    assert [r.params["text"] for r in replies] == ["echo[es]: first", "echo[es]: second"]


def test_server_errors_are_retried_with_backoff(stack):
    cid = chat()
    stack.telegram.fail_next(2, 502)
    stack.post_telegram(tg_message(update_id(), "through", chat_id=cid))
    [reply] = stack.telegram_replies(cid, 1, seconds=20)
    refused = [c for c in stack.telegram.refused if c.params.get("chat_id") == str(cid)]
    assert [c.status for c in refused] == [502, 502]
    assert reply.params["text"] == "echo[es]: through"
    assert reply.at - refused[0].at >= 0.05, "backed off"


def test_a_user_who_blocked_the_bot_is_not_retried(stack):
    cid = chat()
    stack.telegram.fail_next(1, 403)
    uid = update_id()
    stack.post_telegram(tg_message(uid, "blocked", chat_id=cid))
    inbox = stack.wait_inbox_status("telegram", str(uid), "done")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = stack.rows(OutboxMessage, inbox_id=inbox.id)
        if rows and rows[0].status == "failed":
            break
        time.sleep(0.05)
    assert rows[0].status == "failed" and rows[0].error == "Forbidden" and rows[0].body is None
    time.sleep(0.3)
    assert not [c for c in stack.telegram.calls if c.params.get("chat_id") == str(cid)]


def test_processing_errors_are_retried_then_answered(stack):
    cid, uid = chat(), update_id()
    stack.agent.failures_left = 2
    stack.post_telegram(tg_message(uid, "/boom", chat_id=cid))
    [reply] = stack.telegram_replies(cid, 1, seconds=20)
    assert reply.params["text"] == "echo[es]: /boom"
    row = stack.wait_inbox_status("telegram", str(uid), "done")
    assert row.attempts == 3 and row.error is None


def test_logs_hold_no_text_and_no_ids(stack, caplog):
    cid, uid = chat(), update_id()
    caplog.set_level(logging.INFO)
    stack.telegram.fail_next(1, 502)
    stack.post_telegram(tg_message(uid, "secret words", chat_id=cid), secret="forged")
    stack.post_telegram(tg_message(uid, "secret words", chat_id=cid))
    stack.post_telegram(tg_message(uid, "secret words", chat_id=cid))
    stack.telegram_replies(cid, 1, seconds=20)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "secret words" not in logged and str(cid) not in logged
    assert "wrong or missing secret token" in logged and "duplicate update" in logged


def test_polling_mode_stores_and_answers_updates(tmp_path, fakes):
    telegram, _ = fakes
    polling = start_stack(tmp_path, fakes, telegram_mode="polling", telegram_secret_token=None)
    try:
        cid, uid = chat(), update_id()
        telegram.updates.append(tg_message(uid, "por polling", chat_id=cid))
        telegram.updates.append(tg_callback(uid + 1, "/affirm", chat_id=cid))
        replies = polling.telegram_replies(cid, 2)
        assert [r.params["text"] for r in replies] == ["echo[es]: por polling", "echo[es]: /affirm"]
        assert any(c.method == "deleteWebhook" for c in telegram.calls)
        assert any(c.method == "answerCallbackQuery" for c in telegram.calls)
        assert polling.post_telegram(tg_message(update_id(), "x")).status_code == 404
    finally:
        polling.server.stop()
        telegram.updates.clear()


def test_webhook_is_registered_with_the_secret_when_a_url_is_set(tmp_path, fakes):
    telegram, _ = fakes
    running = start_stack(tmp_path, fakes, telegram_webhook_url="https://amani.example.org/webhooks/telegram/webhook")
    try:
        assert telegram.webhook["url"] == "https://amani.example.org/webhooks/telegram/webhook"
        assert telegram.webhook["secret_token"] == harness.SECRET
        assert json.loads(telegram.webhook["allowed_updates"]) == ["message", "edited_message", "callback_query"]
    finally:
        running.server.stop()
        telegram.webhook = {}


def test_processed_rows_keep_no_text(stack):
    cid, uid = chat(), update_id()
    stack.post_telegram(tg_message(uid, "forget me", chat_id=cid))
    stack.telegram_replies(cid, 1)
    row = stack.wait_inbox_status("telegram", str(uid), "done")
    assert row.text is None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sent = stack.rows(OutboxMessage, inbox_id=row.id)
        if sent and all(s.status == "sent" for s in sent):
            break
        time.sleep(0.05)
    assert sent and all(s.body is None for s in sent), "reply texts cleared once sent"
    assert stack.rows(InboxMessage, id=row.id)[0].text is None


def test_a_message_after_the_turn_goes_through_the_outbox(stack):
    cid = chat()
    stack.post_telegram(tg_message(update_id(), "/later", chat_id=cid))
    assert [c.params["text"] for c in stack.telegram_replies(cid, 2)] == ["now", "a little later"]


def test_proactive_messages_use_the_output_channel_with_the_pseudonym(stack):
    cid = chat()
    stack.post_telegram(tg_message(update_id(), "hi", chat_id=cid))
    stack.telegram_replies(cid, 1)
    output = stack.server.app.ctx.channels["telegram"].get_output_channel()
    user = pseudonymise(f"telegram:{cid}", "dev-pseudonym-key")
    message = {"text": "A counsellor has replied.", "buttons": [{"title": "Open", "payload": "/affirm"}]}
    asyncio.run_coroutine_threadsafe(output.send_response(user, message), stack.server.loop).result(10)
    replies = stack.telegram_replies(cid, 2)
    assert replies[1].params["text"] == "A counsellor has replied."
    assert replies[1].params["reply_markup"]["inline_keyboard"] == [[{"text": "Open", "callback_data": "/affirm"}]]


def test_the_channels_offer_their_outbox_to_the_counsellor_handoff(stack):
    from bot.handoff import relay
    from channels.telegram import TelegramOutput
    from channels.whatsapp import WhatsAppOutput

    assert isinstance(relay._OUTPUTS.get("telegram"), TelegramOutput)
    assert isinstance(relay._OUTPUTS.get("whatsapp"), WhatsAppOutput)
