"""Hypothesis fuzzing of both parsers and both webhooks: garbage never causes a 5xx, and nothing unverified is
ever stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.store.channel_models import InboxMessage
from bot.store.db import session_factory
from channels.telegram import BadUpdate, TelegramParser
from channels.whatsapp import WhatsAppParser
from tests.channels import harness

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=20)


def maybe(strategy: Any) -> Any:
    """Mostly the right shape, sometimes anything."""
    return st.one_of(strategy, strategy, strategy, strategy, strategy, json_values)


# shaped like updates, with every field possibly wrong
tg_chat = st.fixed_dictionaries({"id": maybe(st.integers()), "type": maybe(st.sampled_from(
    ["private", "group", "supergroup", "channel"]))})
tg_user = st.fixed_dictionaries({"id": maybe(st.integers()), "is_bot": maybe(st.booleans()),
                                 "first_name": maybe(st.text(max_size=5))},
                                optional={"language_code": maybe(st.text(max_size=8))})
tg_message = st.fixed_dictionaries(
    {"message_id": maybe(st.integers()), "date": maybe(st.integers(0, 2**31)), "chat": maybe(tg_chat)},
    optional={"from": maybe(tg_user), "text": maybe(st.text(max_size=50)), "caption": maybe(st.text(max_size=10)),
              "sticker": json_values, "voice": json_values, "photo": json_values, "location": json_values},
)
tg_updates = st.fixed_dictionaries({"update_id": maybe(st.integers())}, optional={
    "message": maybe(tg_message), "edited_message": maybe(tg_message),
    "callback_query": maybe(st.fixed_dictionaries({"id": maybe(st.text(max_size=5)), "from": maybe(tg_user),
                                                   "chat_instance": maybe(st.text(max_size=5))},
                                                  optional={"data": maybe(st.text(max_size=70)),
                                                            "message": maybe(tg_message)})),
})
wa_messages = st.fixed_dictionaries(
    {"from": maybe(st.from_regex(r"\A[1-9][0-9]{6,14}\Z")), "id": maybe(st.text(min_size=1, max_size=40)),
     "timestamp": maybe(st.integers(0, 2**34).map(str)),
     "type": maybe(st.sampled_from(["text", "interactive", "button", "image", "audio", "reaction", "unsupported"]))},
    optional={"text": maybe(st.fixed_dictionaries({"body": maybe(st.text(max_size=40))})),
              "interactive": json_values, "button": json_values, "image": json_values},
)
wa_notifications = st.fixed_dictionaries({"object": maybe(st.just("whatsapp_business_account")), "entry": maybe(
    st.lists(st.fixed_dictionaries({"id": json_values, "changes": maybe(st.lists(st.fixed_dictionaries({
        "field": maybe(st.just("messages")),
        "value": maybe(st.fixed_dictionaries({"metadata": maybe(st.fixed_dictionaries({
            "phone_number_id": maybe(st.just(harness.WA_PHONE_ID))})),
            "messages": maybe(st.lists(maybe(wa_messages), max_size=3)),
            "statuses": maybe(st.lists(json_values, max_size=2))})),
    }), max_size=2))}), max_size=2))})


@FUZZ
@given(st.one_of(json_values, tg_updates))
def test_telegram_parser_reads_or_refuses_garbage(data):
    try:
        inbound, answer = TelegramParser("k").parse(data)
    except BadUpdate:
        return
    if inbound is not None:
        assert isinstance(inbound.text, str) and isinstance(inbound.user_id, str)
        assert inbound.address.lstrip("-").isdigit() and all(isinstance(v, str) for v in inbound.meta.values())


@FUZZ
@given(st.one_of(json_values, wa_notifications))
def test_whatsapp_parser_reads_or_refuses_garbage(data):
    try:
        messages, statuses, _ = WhatsAppParser("k", harness.WA_PHONE_ID).parse(data)
    except ValueError:
        return
    for message in messages:
        assert isinstance(message.text, str) and message.address.isdigit()
        assert all(isinstance(v, str) for v in message.meta.values())
    assert all(isinstance(i, str) and isinstance(s, str) for i, s in statuses)


def inbox_count(url: str) -> int:
    session = session_factory(url)()
    try:
        return session.execute(select(func.count()).select_from(InboxMessage)).scalar_one()
    finally:
        session.close()


def encoded(strategy: Any) -> Any:
    return strategy.map(lambda value: json.dumps(value).encode())


bodies = st.one_of(st.binary(max_size=200), encoded(json_values), encoded(tg_updates), encoded(wa_notifications))


@FUZZ
@given(body=bodies, secret=st.one_of(st.none(), st.text(max_size=40)))
def test_telegram_webhook_unverified_garbage_is_refused_and_not_stored(stack, body, secret):
    before = inbox_count(stack.url)
    headers = {"Content-Type": "application/json"}
    if secret is not None and secret.isascii() and secret.isprintable() and secret == secret.strip():
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = stack.post_telegram(None, secret=None, raw=body, headers=headers)
    assert response.status_code == 403
    assert inbox_count(stack.url) == before


@FUZZ
@given(body=st.one_of(encoded(tg_updates), bodies))
def test_telegram_webhook_verified_garbage_never_5xx(stack, body):
    status = stack.post_telegram(None, raw=body).status_code
    event(f"telegram {status}")
    assert status in {200, 400}


@FUZZ
@given(body=bodies, signature=st.one_of(st.none(), st.text(max_size=80).filter(
    lambda s: s.isascii() and s.isprintable() and s == s.strip())))
def test_whatsapp_webhook_unverified_garbage_is_refused_and_not_stored(stack, body, signature):
    before = inbox_count(stack.url)
    response = stack.post_whatsapp(raw=body, signature=signature)
    assert response.status_code == 403
    assert inbox_count(stack.url) == before


@FUZZ
@given(body=st.one_of(encoded(wa_notifications), bodies))
def test_whatsapp_webhook_verified_garbage_never_5xx(stack, body):
    status = stack.post_whatsapp(raw=body).status_code
    event(f"whatsapp {status}")
    assert status in {200, 400}
