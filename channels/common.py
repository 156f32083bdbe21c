"""What the messaging channels share: the inbound/outbound shapes, the platform interface, text splitting,
backoff and the list of channels enabled by the settings."""

from __future__ import annotations

import abc
import logging
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from rasa.core.channels.channel import InputChannel

    from bot.settings import Settings

UNSUPPORTED_PAYLOAD = "/unsupported_message"  # voice notes, photos, stickers, edits, group chats...
MAX_BODY_BYTES = 1_000_000  # a webhook body larger than this is refused (413) before it is read as JSON


@dataclass(frozen=True)
class Inbound:
    """A verified, parsed platform message, ready to be stored.

    ``address`` is what a reply needs (Telegram chat id, WhatsApp number): it is stored encrypted and never logged.
    ``meta`` holds hints for the router only (``language``, ``country``) and what kind of message it was.
    """

    platform_message_id: str
    user_id: str
    address: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    sent_at: Optional[datetime] = None


@dataclass(frozen=True)
class Request:
    """One platform API call (without the address, which is added when it is sent)."""

    method: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Recipient:
    """A user's decrypted address and the times the platform rules need."""

    user_id: str
    address: str
    last_inbound_at: Optional[datetime]
    template_sent_at: Optional[datetime]


@dataclass(frozen=True)
class SendResult:
    """What came of one API call: ``sent``, ``retry`` (after ``retry_after`` s, or backoff), ``failed`` (for good),
    ``expired`` (not sendable any more, e.g. outside WhatsApp's window after the re-engagement template)."""

    status: str
    retry_after: Optional[float] = None
    platform_message_id: Optional[str] = None
    error: Optional[str] = None
    template_sent: bool = False

    @classmethod
    def sent(cls, platform_message_id: Optional[str] = None, template_sent: bool = False) -> "SendResult":
        """The platform accepted the call."""
        return cls("sent", platform_message_id=platform_message_id, template_sent=template_sent)

    @classmethod
    def retry(cls, error: str, retry_after: Optional[float] = None) -> "SendResult":
        """A transient failure: try again later."""
        return cls("retry", retry_after=retry_after, error=error)

    @classmethod
    def failed(cls, error: str) -> "SendResult":
        """A permanent failure: do not try again."""
        return cls("failed", error=error)


class Platform(abc.ABC):
    """A messaging platform as the inbox worker sees it: render Rasa's replies, send one API call."""

    name: str

    @abc.abstractmethod
    def render(self, message: dict[str, Any]) -> list[Request]:
        """API calls for one Rasa bot message (``text``, ``buttons``, ``quick_replies``, ``image``...)."""

    @abc.abstractmethod
    async def send(self, recipient: Recipient, request: Request) -> SendResult:
        """Make one API call; never raises for platform or network errors (they become a ``SendResult``)."""

    def prepare(self, text: str, meta: dict[str, Any]) -> str:
        """The text Rasa gets for a stored message (runs in a worker thread, off the event loop)."""
        return text

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open clients (called once the server runs)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO, and Telegram's URLs contain the bot token: keep it to warnings."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential with jitter, at most ``cap``."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.5, 1.0)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram counts message length)."""
    return len(text.encode("utf-16-le")) // 2


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?؟।])\s+"), re.compile(r"\s+"))


def split_text(text: str, limit: int, measure: Any = len) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` (by ``measure``), preferring paragraph, line, sentence and
    word boundaries; nothing is lost but the whitespace at a break."""
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        cut = _fit(rest, limit, measure)
        head = rest[:cut]
        best = None
        for pattern in _BREAKS:
            matches = [m for m in pattern.finditer(head) if m.start() > 0]
            if matches and matches[-1].start() >= cut // 3:
                best = matches[-1]
                break
        if best is not None:
            parts.append(rest[: best.start()])
            rest = rest[best.end():]
        else:
            parts.append(head)
            rest = rest[cut:]
    if rest.strip() or not parts:
        parts.append(rest)
    return [p for p in parts if p] or [""]


def _fit(text: str, limit: int, measure: Any) -> int:
    """The longest prefix length of ``text`` whose measure is within ``limit``."""
    if measure is len:
        return limit
    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return max(1, low)


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def messaging_channels(settings: "Settings") -> list["InputChannel"]:
    """The Telegram and WhatsApp input channels whose settings are present, and the local web chat outside
    production (``make run`` adds them to REST)."""
    channels: list[InputChannel] = []
    if settings.telegram_token:
        from channels.telegram import TelegramInput

        channels.append(TelegramInput.from_settings(settings))
    if settings.whatsapp_access_token or settings.whatsapp_phone_number_id:
        from channels.whatsapp import WhatsAppInput

        channels.append(WhatsAppInput.from_settings(settings))
    webchat = settings.webchat_enabled
    if webchat or (webchat is None and not settings.is_production):
        from channels.webchat import WebChatInput

        channels.append(WebChatInput.from_settings(settings))
    return channels
