"""The REST channel, accepting ``metadata`` hints (``language``, ``country``) that Rasa's own RestInput drops."""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.request import Request


class AmaniRestInput(RestInput):
    """``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata": {"language", "country"}}``."""

    @classmethod
    def name(cls) -> Text:
        """Keep Rasa's URL: /webhooks/rest/webhook."""
        return "rest"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Pass only the known, small hints on to the router."""
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            return None
        return {k: str(metadata[k])[:16] for k in ("language", "country") if isinstance(metadata.get(k), str)}
