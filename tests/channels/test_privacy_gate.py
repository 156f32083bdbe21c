"""Telegram and WhatsApp messages pass the project's privacy gate (bot/privacy/gate.py) like REST: the rate limit
(a crisis message always passes) and the length limit, applied by the worker before Rasa."""

from __future__ import annotations

import time

import pytest

from bot.settings import get_settings
from tests.channels.conftest import start_stack
from tests.channels.harness import tg_message, unique, wa_message, wa_notification


@pytest.fixture(scope="module")
def gated(tmp_path_factory, fakes):
    running = start_stack(tmp_path_factory.mktemp("gated"), fakes, gate=True)
    yield running
    running.server.stop()


def test_a_long_message_is_cut_to_the_limit_before_rasa(gated):
    cid = 710_000_000 + unique()
    long_in = ("Estoy muy cansada de todo. " * 500)[:10_000]
    gated.post_telegram(tg_message(5_500_000 + unique(), long_in, chat_id=cid))
    seen = gated.seen_by_agent(lambda s: s[1].startswith("Estoy muy cansada"), seconds=30)
    assert seen and len(seen[0][1]) <= get_settings().max_message_chars


def test_over_the_rate_limit_messages_are_dropped_but_a_crisis_passes(gated):
    wa_id = f"2557{30_000_000 + unique()}"
    limit = get_settings().rate_limit_messages
    for n in range(limit + 5):
        gated.post_whatsapp(wa_notification(wa_message(f"wamid.rl{unique()}", wa_id=wa_id,
                                                       text={"body": f"mensaje {n}"}), wa_id=wa_id))
    gated.post_whatsapp(wa_notification(wa_message(f"wamid.rl{unique()}", wa_id=wa_id,
                                                   text={"body": "quiero suicidarme"}), wa_id=wa_id))
    crisis = gated.seen_by_agent(lambda s: s[1] == "quiero suicidarme", seconds=60)
    assert crisis, "a crisis message is never rate limited"
    time.sleep(0.5)
    counted = gated.seen_by_agent(lambda s: s[1].startswith("mensaje "), count=limit + 5, seconds=1)
    assert len(counted) == limit
