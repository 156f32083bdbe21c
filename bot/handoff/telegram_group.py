"""The Accept button of a handoff notice in the counsellors' Telegram group (see dispatcher.TelegramGroupTarget).

The press arrives as a Telegram ``callback_query`` on the bot's webhook. Only presses from the configured group are
honoured; the counsellor is the console account with the same username as their Telegram username (so they can go
on in the console), otherwise ``tg:<username>`` until a supervisor transfers it.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from sqlalchemy import select

from bot.handoff.auth import Identity
from bot.handoff.relay import Conversations
from bot.handoff.service import HandoffError, HandoffService
from bot.settings import Settings
from bot.store.db import transaction
from bot.store.models import Counsellor

logger = logging.getLogger(__name__)
PREFIX = "handoff:accept:"


def is_group_accept(data: Any, settings: Settings) -> bool:
    """Whether an update is an Accept press in the counsellors' group."""
    query = data.get("callback_query") if isinstance(data, dict) else None
    if not isinstance(query, dict) or not str(query.get("data") or "").startswith(PREFIX):
        return False
    chat = (query.get("message") or {}).get("chat") or {}
    return bool(settings.crisis_telegram_chat_id) and str(chat.get("id")) == str(settings.crisis_telegram_chat_id)


async def accept_from_group(data: dict[str, Any], settings: Settings, agent: Optional[Any]) -> dict[str, Any]:
    """Accept the handoff; the webhook answers with ``answerCallbackQuery`` telling the counsellor what happened."""
    query = data["callback_query"]
    escalation_id = str(query["data"])[len(PREFIX):]
    username = str((query.get("from") or {}).get("username") or "")
    with transaction(settings.database_url) as session:
        account = session.execute(select(Counsellor).where(Counsellor.username == username,
                                                           Counsellor.active.is_(True))).scalars().first() \
            if username else None
        who = Identity(account.username, account.role) if account else Identity(f"tg:{username or 'unknown'}",
                                                                                  "counsellor")
    service = HandoffService(settings, Conversations.of(agent, settings.database_url) if agent else None)
    try:
        await service.accept(escalation_id, who)
        text = f"Accepted by {who.username}. Continue in the console."
    except HandoffError as error:
        text = f"Not accepted: {error}"
    logger.info("handoff accept from the Telegram group: %s", text.split(".")[0])
    return {"method": "answerCallbackQuery", "callback_query_id": str(query.get("id", "")), "text": text[:200]}
