"""The REST channel, accepting ``metadata`` hints (``language``, ``country``) that Rasa's own RestInput drops."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic.request import Request


class AmaniRestInput(RestInput):
    """``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata": {"language", "country"}}``."""

    @classmethod
    def name(cls) -> Text:
        """Keep Rasa's URL: /webhooks/rest/webhook."""
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Any:
        """Rasa's REST routes; each reply also carries messages relayed while the person was away (a counsellor's
        words, a note that nobody has answered yet), since REST cannot push them."""
        from bot.handoff.relay import take_pending
        from bot.privacy.gate import admit, notice_messages
        from bot.settings import get_settings

        async def relay(message: UserMessage) -> None:
            for relayed in take_pending(get_settings().database_url, message.sender_id):
                await message.output_channel.send_response(message.sender_id, relayed)

        async def handle(message: UserMessage) -> None:
            # the rate limit and the length limit (bot/privacy/gate.py), with their kind replies
            admission = await asyncio.to_thread(admit, message.sender_id, message.text or "")
            for notice in await notice_messages(admission, message.sender_id, message.metadata):
                await message.output_channel.send_response(message.sender_id, notice)
            if not admission.allowed:
                return
            message.text = admission.text
            if message.sender_id:
                await relay(message)  # what was waiting comes first (e.g. the check-in after a handoff)
            await on_new_message(message)
            if message.sender_id:
                await relay(message)  # and what a counsellor wrote meanwhile

        return super().blueprint(handle)

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Pass only the known, small hints on to the router."""
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            return None
        return {k: str(metadata[k])[:16] for k in ("language", "country") if isinstance(metadata.get(k), str)}
