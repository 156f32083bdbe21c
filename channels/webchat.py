"""A local web chat page for previews and demos: ``GET /webhooks/webchat/`` (language picker, buttons) talking to
``POST /webhooks/webchat/webhook``. On by default outside production (``AMANI_WEBCHAT_ENABLED``).

It answers synchronously like the REST channel (the browser shows a failure and the person can send again), so it
does not use the durable inbox. The browser's random session id is pseudonymised like every platform id.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request as SanicRequest
from sanic.response import HTTPResponse

from bot.identity import pseudonymise
from channels.inbox import privacy_gate

PAGE = Path(__file__).resolve().parent / "webchat" / "index.html"
MAX_MESSAGE = 10_000
_SESSION = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class WebChatInput(InputChannel):
    """The preview page and its JSON endpoint."""

    @classmethod
    def name(cls) -> Text:
        """URL prefix and channel name."""
        return "webchat"

    use_privacy_gate: bool = True

    def __init__(self, pseudonym_key: str, languages: dict[str, str], default_language: str = "en") -> None:
        self.pseudonym_key = pseudonym_key
        self.languages = languages
        self.default_language = default_language

    @classmethod
    def from_settings(cls, settings: Any) -> "WebChatInput":
        """Languages (code → own name) from the registry."""
        from bot.languages import LanguageRegistry

        registry = LanguageRegistry.load(settings.languages_file)
        return cls(settings.pseudonym_key, {code: spec.get("name", code) for code, spec in registry.languages.items()},
                   registry.default)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """From credentials.yml (no keys needed): everything comes from the settings."""
        from bot.settings import get_settings

        return cls.from_settings(get_settings())

    def page(self) -> str:
        """The HTML page with the language list filled in."""
        options = "".join(
            f'<option value="{html.escape(code)}">{html.escape(name)}</option>' for code, name in self.languages.items()
        )
        # inside <script type="application/json"> entities are not decoded: escape "<" the JSON way instead
        data = json.dumps({"languages": list(self.languages), "default": self.default_language}).replace("<", "\\u003c")
        return PAGE.read_text(encoding="utf-8").replace("{{options}}", options).replace("{{config}}", data)

    def blueprint(self, on_new_message: Any) -> Blueprint:
        """``GET /`` the page, ``POST /webhook`` one message → the bot's replies."""
        webchat = Blueprint("webchat", __name__)

        @webchat.route("/", methods=["GET"])
        async def page(_request: SanicRequest) -> HTTPResponse:
            return response.html(self.page(), headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
                "Cache-Control": "no-store",
            })

        @webchat.route("/webhook", methods=["POST"])
        async def receive(request: SanicRequest) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else None
            if body is None:
                return response.json({"error": "expected a JSON object"}, status=400)
            session, text = body.get("session"), body.get("message")
            if not isinstance(session, str) or not _SESSION.match(session) or not isinstance(text, str):
                return response.json({"error": "session and message are required"}, status=400)
            if len(text) > MAX_MESSAGE:
                return response.json({"error": "message too long"}, status=413)
            language = body.get("language")
            metadata = {"language": language} if language in self.languages else None
            collector = CollectingOutputChannel()
            sender = pseudonymise(f"webchat:{session}", self.pseudonym_key)
            gate = privacy_gate() if self.use_privacy_gate else None
            notices: list[dict[str, Any]] = []
            if gate is not None:  # the rate and length limits, as on every channel
                text, notices = await gate(sender, text, metadata or {})
            if text is not None:
                await on_new_message(UserMessage(text, collector, sender, input_channel="webchat", metadata=metadata))
            return response.json([
                {k: m[k] for k in ("text", "buttons", "image") if m.get(k)} for m in notices + collector.messages
            ])

        return webchat
