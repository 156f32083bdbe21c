"""Telegram on python-telegram-bot 22: webhook (secret token) or polling, through the durable inbox and outbox.

``POST /webhooks/telegram/webhook`` checks ``X-Telegram-Bot-Api-Secret-Token`` in constant time, stores the update
(``update_id`` unique) and answers 200; the worker (``channels/inbox.py``) hands it to Rasa and sends the replies
with the Bot API at ``TELEGRAM_API_BASE_URL``. Commands map to Rasa payloads; buttons become inline keyboards;
voice notes, photos without a caption, stickers, locations, edited messages and group chats get the
``/unsupported_message`` payload, answered in the user's language. The sender id Rasa sees is a pseudonym.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request as SanicRequest
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.handoff.telegram_group import accept_from_group, is_group_accept
from bot.identity import pseudonymise
from channels.common import (
    MAX_BODY_BYTES,
    UNSUPPORTED_PAYLOAD,
    Inbound,
    Platform,
    Recipient,
    Request,
    SendResult,
    backoff,
    split_text,
    utf16_len,
)
from channels.inbox import AddressCipher, ChannelStore, DurableInputChannel, OutboxOutput

logger = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit per message (UTF-16 code units)
MAX_CALLBACK_DATA = 64  # bytes
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
COMMANDS = {"start": "/greet", "help": "/ask_capabilities", "language": "/change_language", "stop": "/stop",
            "delete": "/delete_data"}
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]+)(?:@\w+)?(?:\s+(?P<arg>.*))?$", re.DOTALL)
_LANGUAGE_ARG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
# message contents we cannot read; each becomes UNSUPPORTED_PAYLOAD with meta.kind
UNSUPPORTED_KINDS = ("voice", "audio", "video_note", "sticker", "venue", "location", "contact", "poll", "dice",
                     "animation", "photo", "video", "document", "game", "invoice", "story", "paid_media")


class BadUpdate(ValueError):
    """The body is not a Telegram update we can read."""


class TelegramParser:
    """Verified update JSON → ``Inbound`` (or None for updates that need no answer) and a webhook reply."""

    def __init__(self, pseudonym_key: str) -> None:
        self.pseudonym_key = pseudonym_key

    def parse(self, data: Any) -> tuple[Optional[Inbound], Optional[dict[str, Any]]]:
        """The message to store and the method to answer the webhook with (``answerCallbackQuery``)."""
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(
            data.get("update_id"), bool
        ):
            raise BadUpdate("not an update")
        update_id = str(data["update_id"])
        try:
            update = Update.de_json(dict(data), None)
        except Exception as exc:  # PTB raises many kinds on objects it cannot read (e.g. newer Bot API fields)
            inbound = self._fallback(update_id, data)
            if inbound is None:
                raise BadUpdate(type(exc).__name__) from exc
            return inbound, None
        try:
            if update.callback_query is not None:
                return self._callback(update_id, update)
            if update.message is not None:
                return self._message(update_id, update.message, edited=False), None
            if update.edited_message is not None:
                return self._message(update_id, update.edited_message, edited=True), None
        except (AttributeError, TypeError, ValueError) as exc:
            raise BadUpdate(type(exc).__name__) from exc
        return None, None  # channel posts, membership changes...: nothing to answer

    def _fallback(self, update_id: str, data: dict[str, Any]) -> Optional[Inbound]:
        """A message PTB cannot read (a newer Bot API object): answered as unsupported if its chat is readable."""
        message = data.get("message") or data.get("edited_message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(chat, dict):
            return None
        try:
            chat_id = _chat_id(chat.get("id"))
        except ValueError:
            return None
        user = message.get("from") if isinstance(message.get("from"), dict) else {}
        private = chat.get("type") == "private"
        kind = next((k for k in UNSUPPORTED_KINDS if k in message), "unreadable")
        meta = self._meta(user.get("language_code"), kind if private else "group")
        return Inbound(update_id, self._user_id(chat_id, private), str(chat_id), UNSUPPORTED_PAYLOAD, meta, _utcnow())

    def _callback(self, update_id: str, update: Update) -> tuple[Optional[Inbound], dict[str, Any]]:
        query = update.callback_query
        answer = {"method": "answerCallbackQuery", "callback_query_id": str(query.id)}
        chat = getattr(query.message, "chat", None) if query.message is not None else None
        chat_id = _chat_id(chat.id if chat is not None else query.from_user.id)
        private = chat is None or chat.type == "private"
        text = query.data if isinstance(query.data, str) else ""  # PTB does not check types
        meta = self._meta(query.from_user.language_code, "button")
        if not private:
            text, meta["kind"] = UNSUPPORTED_PAYLOAD, "group"
        if not text:
            text, meta["kind"] = UNSUPPORTED_PAYLOAD, "game"
        inbound = Inbound(update_id, self._user_id(chat_id, private), str(chat_id), text, meta, _utcnow())
        return inbound, answer

    def _message(self, update_id: str, message: Any, edited: bool) -> Inbound:
        chat = message.chat
        chat_id = _chat_id(chat.id)
        private = chat.type == "private"
        user = message.from_user
        meta = self._meta(user.language_code if user is not None else None, "text")
        text = message.text if isinstance(message.text, str) else None  # PTB does not check types
        caption = message.caption if isinstance(message.caption, str) else None
        if not private:
            # kept for the crisis lexicons only (TelegramPlatform.prepare); otherwise a group gets the payload
            text, meta["kind"] = (text or caption or UNSUPPORTED_PAYLOAD), "group"
        elif edited:
            text, meta["kind"] = UNSUPPORTED_PAYLOAD, "edited"
        elif text is not None:
            text = self._command(text)
        elif caption:
            # a photo or document with words: the words are read (a crisis can be in a caption)
            text, meta["kind"] = caption, _kind(message) + "_caption"
        else:
            text, meta["kind"] = UNSUPPORTED_PAYLOAD, _kind(message)
        sent_at = message.date if isinstance(message.date, datetime) else _utcnow()
        return Inbound(update_id, self._user_id(chat_id, private), str(chat_id), text, meta, sent_at)

    @staticmethod
    def _command(text: str) -> str:
        match = _COMMAND.match(text.strip())
        if not match or match["name"].lower() not in COMMANDS:
            return text
        payload = COMMANDS[match["name"].lower()]
        arg = (match["arg"] or "").strip()
        if payload == "/change_language" and _LANGUAGE_ARG.match(arg):
            return payload + json.dumps({"language": arg})
        return payload

    def _meta(self, language_code: Optional[str], kind: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"kind": kind}
        if isinstance(language_code, str) and _LANGUAGE_CODE.match(language_code) and len(language_code) <= 16:
            meta["language"] = language_code
        return meta

    def _user_id(self, chat_id: int, private: bool) -> str:
        namespace = "telegram" if private else "telegram-group"
        return pseudonymise(f"{namespace}:{chat_id}", self.pseudonym_key)


def _chat_id(value: Any) -> int:
    """A chat id as Telegram sends it (a signed 64-bit integer), else ``ValueError``."""
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
        raise ValueError("bad chat id")
    return value


def _kind(message: Any) -> str:
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


class TelegramPlatform(Platform):
    """Renders Rasa's messages as Bot API calls and makes them with ``telegram.Bot``."""

    name = "telegram"

    def __init__(self, token: str, api_base_url: str = "https://api.telegram.org",
                 crisis_scan: Optional[Callable[[str], bool]] = None) -> None:
        self.crisis_scan = crisis_scan
        root = api_base_url.rstrip("/")
        root = root[:-4] if root.endswith("/bot") else root
        self.bot = Bot(
            token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15.0, connect_timeout=5.0),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=40.0, connect_timeout=5.0),
        )

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self.bot.shutdown()

    def prepare(self, text: str, meta: dict[str, Any]) -> str:
        """Group chats get the unsupported payload, unless the crisis lexicons (every language) fire on the text:
        then the text goes to Rasa and the crisis reply is given, even in a group."""
        if meta.get("kind") != "group" or text == UNSUPPORTED_PAYLOAD:
            return text
        if self.crisis_scan is not None and self.crisis_scan(text):
            return text
        return UNSUPPORTED_PAYLOAD

    def render(self, message: dict[str, Any]) -> list[Request]:
        """Text parts of at most 4,096 characters, buttons as an inline keyboard on the last part, images."""
        requests: list[Request] = []
        text = message.get("text") or ""
        buttons = message.get("buttons") or message.get("quick_replies") or []
        custom = message.get("custom")
        if not text and isinstance(custom, dict) and isinstance(custom.get("text"), str):
            text = custom["text"]
        if text or buttons:
            parts = split_text(text or "⬇️", MAX_TEXT, utf16_len)
            for part in parts[:-1]:
                requests.append(Request("sendMessage", {"text": part}))
            last: dict[str, Any] = {"text": parts[-1]}
            if buttons:
                last["reply_markup"] = keyboard(buttons)
            requests.append(Request("sendMessage", last))
        if message.get("image"):
            requests.append(Request("sendPhoto", {"photo": str(message["image"])}))
        if message.get("attachment"):
            requests.append(Request("sendMessage", {"text": str(message["attachment"])[:MAX_TEXT]}))
        return requests

    async def send(self, recipient: Recipient, request: Request) -> SendResult:
        """One Bot API call; 429 → retry after ``retry_after``, network/5xx → retry, 400/403 → failed."""
        body = request.body
        if not recipient.address.lstrip("-").isdigit():
            return SendResult.failed("bad address")
        try:
            if request.method == "sendMessage":
                markup = body.get("reply_markup")
                sent = await self.bot.send_message(
                    chat_id=int(recipient.address), text=body["text"],
                    reply_markup=InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None,
                )
            elif request.method == "sendPhoto":
                sent = await self.bot.send_photo(chat_id=int(recipient.address), photo=body["photo"])
            else:
                return SendResult.failed(f"unknown method {request.method}")
        except RetryAfter as exc:
            return SendResult.retry("429 flood control", retry_after=_seconds(exc.retry_after))
        except (BadRequest, Forbidden, ChatMigrated) as exc:
            return SendResult.failed(type(exc).__name__)  # bad request, bot blocked, chat moved: retrying won't help
        except (InvalidToken, NetworkError) as exc:  # timeouts, 5xx, connection errors; a token being fixed
            return SendResult.retry(type(exc).__name__)
        except TelegramError as exc:
            return SendResult.failed(type(exc).__name__)
        return SendResult.sent(str(sent.message_id))


def keyboard(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """Rasa buttons as an inline keyboard; short titles two to a row. A payload too long for ``callback_data``
    (64 bytes) sends the title instead, which the NLU reads like typed text."""
    rows: list[list[dict[str, Any]]] = []
    short = all(len(str(b.get("title", ""))) <= 18 for b in buttons)
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "…")
        if button.get("url"):
            item = {"text": title, "url": str(button["url"])}
        else:
            data = str(button.get("payload") or title)
            if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                data = _fit_bytes(title, MAX_CALLBACK_DATA)
            item = {"text": title, "callback_data": data}
        if short and rows and len(rows[-1]) < 2:
            rows[-1].append(item)
        else:
            rows.append([item])
    return {"inline_keyboard": rows}


def _fit_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", errors="ignore")


class CrisisLexicons:
    """Every language's crisis lexicon (``content/crisis``), loaded on first use (a few seconds), thread-safe."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._detector: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> bool:
        """True if any language's lexicon fires on ``text``."""
        with self._lock:
            if self._detector is None:
                from bot.runtime import load_crisis_detector
                from bot.settings import get_settings

                self._detector = load_crisis_detector(self.settings or get_settings())
        return any(self._detector.scan(text, language) for language in self._detector.lexicons)


class TelegramOutput(OutboxOutput):
    """Replies to Telegram users go through the outbox (sent by the worker, in order, with retries)."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name."""
        return "telegram"


class TelegramInput(DurableInputChannel):
    """``/webhooks/telegram/webhook`` (or polling), durable, for Rasa."""

    @classmethod
    def name(cls) -> Text:
        """URL prefix and channel name."""
        return "telegram"

    def __init__(
        self,
        token: str,
        secret_token: Optional[str],
        database_url: str,
        pseudonym_key: str,
        address_key: str,
        api_base_url: str = "https://api.telegram.org",
        mode: str = "webhook",
        webhook_url: Optional[str] = None,
        settings: Any = None,
    ) -> None:
        if mode not in {"webhook", "polling"}:
            raise ValueError("telegram mode must be webhook or polling")
        if mode == "webhook" and not secret_token:
            raise ValueError("TELEGRAM_SECRET_TOKEN is required for the Telegram webhook (or use polling mode)")
        self.secret_token = secret_token or ""
        self.mode = mode
        self.webhook_url = webhook_url
        self.settings = settings
        self.platform = TelegramPlatform(token, api_base_url, crisis_scan=CrisisLexicons(settings))
        self.store = ChannelStore(database_url, "telegram", AddressCipher(address_key))
        self.parser = TelegramParser(pseudonym_key)
        self.run_worker = bool(getattr(settings, "channel_worker", True))
        self._poller: Optional[asyncio.Task] = None

    @classmethod
    def from_settings(cls, settings: Any) -> "TelegramInput":
        """Built from ``bot.settings.Settings`` (``TELEGRAM_*``)."""
        if not settings.telegram_token:
            raise ValueError("TELEGRAM_TOKEN is not set")
        return cls(
            settings.telegram_token, settings.telegram_secret_token, settings.database_url, settings.pseudonym_key,
            settings.channel_address_key, settings.telegram_api_base_url, settings.telegram_mode,
            settings.telegram_webhook_url, settings,
        )

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """From credentials.yml (``token``, ``secret_token``...); the rest comes from the settings."""
        from bot.settings import get_settings

        if not credentials or not credentials.get("token"):
            cls.raise_missing_credentials_exception()
        settings = get_settings().copy(update={
            "telegram_token": credentials["token"],
            "telegram_secret_token": credentials.get("secret_token"),
            "telegram_api_base_url": credentials.get("api_base_url", get_settings().telegram_api_base_url),
            "telegram_mode": credentials.get("mode", "webhook"),
        })
        return cls.from_settings(settings)

    def blueprint(self, on_new_message: Any) -> Blueprint:
        """Health route and webhook; the worker starts and stops with the server."""
        from bot.settings import get_settings

        self._make_worker(on_new_message, self.settings or get_settings())
        telegram_webhook = Blueprint("telegram_webhook", __name__)

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_request: SanicRequest) -> HTTPResponse:
            return response.json({"status": "ok", "mode": self.mode})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: SanicRequest) -> HTTPResponse:
            return await self.handle_webhook(request)

        self._attach_lifecycle(telegram_webhook)
        return telegram_webhook

    async def handle_webhook(self, request: SanicRequest) -> HTTPResponse:
        """Verify, store, acknowledge. A storage error is a 500, so Telegram delivers the update again."""
        if self.mode != "webhook":
            return response.json({"error": "polling mode"}, status=404)
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode("utf-8"), self.secret_token.encode("utf-8")):
            logger.warning("telegram webhook: wrong or missing secret token")
            return response.json({"error": "forbidden"}, status=403)
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return response.json({"error": "too large"}, status=413)
        try:
            data = json.loads(body)
            if self.settings is not None and is_group_accept(data, self.settings):  # a counsellor's Accept press
                return response.json(await accept_from_group(data, self.settings,
                                                             getattr(request.app.ctx, "agent", None)))
            inbound, answer = self.parser.parse(data)
        except (ValueError, RecursionError):
            return response.json({"error": "bad update"}, status=400)
        if inbound is not None and not await self.accept(inbound):
            logger.info("telegram: duplicate update acknowledged")
        return response.json(answer or {})

    async def on_start(self) -> None:
        """Polling: drop any webhook and start polling. Webhook with a URL set: register it with the secret."""
        if self.mode == "polling":
            self._poller = asyncio.ensure_future(self._poll())
        elif self.webhook_url:
            try:
                await self.platform.bot.set_webhook(
                    self.webhook_url, secret_token=self.secret_token, allowed_updates=ALLOWED_UPDATES
                )
            except TelegramError as exc:
                logger.error("telegram: setWebhook failed (%s); updates will not arrive", type(exc).__name__)

    async def on_stop(self) -> None:
        """Stop polling."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def _poll(self) -> None:
        """getUpdates long polling for local development: an update is confirmed (offset) only once stored."""
        bot = self.platform.bot
        offset: Optional[int] = None
        failures = 0
        while True:
            try:
                if offset is None:
                    await bot.delete_webhook(drop_pending_updates=False)
                    offset = 0
                updates = await bot.get_updates(offset=offset or None, timeout=25, allowed_updates=ALLOWED_UPDATES)
                failures = 0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except TelegramError as exc:
                failures += 1
                logger.warning("telegram polling: %s", type(exc).__name__)
                await asyncio.sleep(backoff(failures, 1.0, 60.0))
                continue
            for update in updates:
                try:
                    inbound, answer = self.parser.parse(update.to_dict())
                except BadUpdate:
                    logger.warning("telegram polling: unreadable update skipped")
                    offset = update.update_id + 1
                    continue
                try:
                    if inbound is not None:
                        await self.accept(inbound)
                except Exception as exc:  # the database is down: the offset is not advanced, the update comes again
                    failures += 1
                    logger.error("telegram polling: storing failed (%s)", type(exc).__name__)
                    await asyncio.sleep(backoff(failures, 1.0, 60.0))
                    break
                offset = update.update_id + 1
                if answer is not None:
                    try:
                        await bot.answer_callback_query(answer["callback_query_id"])
                    except TelegramError as exc:
                        logger.info("telegram: answerCallbackQuery failed (%s)", type(exc).__name__)

    def get_output_channel(self) -> TelegramOutput:
        """Proactive messages through the outbox."""
        wake = self.worker.wake_outbound if self.worker is not None else (lambda: None)
        return TelegramOutput(self.platform, self.store, wake)
