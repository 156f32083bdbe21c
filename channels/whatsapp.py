"""WhatsApp Cloud API, through the durable inbox and outbox.

``GET /webhooks/whatsapp/webhook`` answers Meta's verification (``hub.mode``, ``hub.verify_token``,
``hub.challenge``). ``POST`` is verified with ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app
secret, constant-time) before the body is parsed; each message is stored with its ``id`` (unique) before the 200.
Replies go to ``POST {base}/{version}/{phone_number_id}/messages``: text (≤ 4,096 characters a message), up to three
reply buttons (titles ≤ 20), a list for more options (rows ≤ 10, titles ≤ 24). Outside the 24-hour customer-service
window (from the person's last message) one approved template is sent instead of free text. The number's country
calling code becomes ``metadata.country`` (and a language hint where one language clearly dominates); the number
itself is stored only encrypted, and Rasa sees a pseudonym.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional, Text

import httpx
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request as SanicRequest
from sanic.response import HTTPResponse

from bot.identity import pseudonymise
from channels.common import (
    MAX_BODY_BYTES,
    UNSUPPORTED_PAYLOAD,
    Inbound,
    Platform,
    Recipient,
    Request,
    SendResult,
    clip,
    split_text,
)
from channels.inbox import AddressCipher, ChannelStore, DurableInputChannel, OutboxOutput

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024  # body of a reply-button message
MAX_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_ID = 3, 20, 256
MAX_ROWS, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION, MAX_ROW_ID = 10, 24, 72, 200
LIST_BUTTON = "☰"  # the list's open button: a symbol, so no language is needed
RATE_LIMIT_CODES = {4, 80007, 130429, 131056}  # Graph / Cloud API throughput and pair rate limits
TRANSIENT_CODES = {1, 2, 131000, 131016, 133004}  # unknown / temporary / service unavailable
REENGAGEMENT_CODE = 131047  # more than 24 hours since the person's last message
_WA_ID = re.compile(r"^[1-9][0-9]{5,19}$")

# Country calling code → (ISO 3166 alpha-2, language hint). Longest prefix wins. A hint only where one of Amani's
# languages clearly dominates; shared codes (+1, +7) and multilingual countries (KE, IN, CA, CH, BE, MA, CM...)
# give no language. `phonenumbers` is not installed; this table covers the helpline registry's countries.
CALLING_CODES: dict[str, tuple[Optional[str], Optional[str]]] = {
    "1": (None, None), "7": (None, None),
    "20": ("EG", "ar"), "27": ("ZA", None), "30": ("GR", None), "31": ("NL", None), "32": ("BE", None),
    "33": ("FR", "fr"), "34": ("ES", "es"), "36": ("HU", None), "39": ("IT", None), "40": ("RO", None),
    "41": ("CH", None), "43": ("AT", None), "44": ("GB", "en"), "45": ("DK", None), "46": ("SE", None),
    "47": ("NO", None), "48": ("PL", None), "49": ("DE", None), "51": ("PE", "es"), "52": ("MX", "es"),
    "53": ("CU", "es"), "54": ("AR", "es"), "55": ("BR", "pt"), "56": ("CL", "es"), "57": ("CO", "es"),
    "58": ("VE", "es"), "60": ("MY", None), "61": ("AU", "en"), "62": ("ID", None), "63": ("PH", None),
    "64": ("NZ", "en"), "65": ("SG", None), "66": ("TH", None), "81": ("JP", None), "82": ("KR", None),
    "84": ("VN", None), "86": ("CN", None), "90": ("TR", None), "91": ("IN", None), "92": ("PK", None),
    "93": ("AF", None), "94": ("LK", None), "95": ("MM", None), "98": ("IR", None),
    "211": ("SS", None), "212": ("MA", None), "213": ("DZ", None), "216": ("TN", None), "218": ("LY", "ar"),
    "220": ("GM", "en"), "221": ("SN", "fr"), "222": ("MR", "ar"), "223": ("ML", "fr"), "224": ("GN", "fr"),
    "225": ("CI", "fr"), "226": ("BF", "fr"), "227": ("NE", "fr"), "228": ("TG", "fr"), "229": ("BJ", "fr"),
    "231": ("LR", "en"), "232": ("SL", "en"), "233": ("GH", "en"), "234": ("NG", "en"), "235": ("TD", None),
    "236": ("CF", "fr"), "237": ("CM", None), "238": ("CV", "pt"), "239": ("ST", "pt"), "240": ("GQ", "es"),
    "241": ("GA", "fr"), "242": ("CG", "fr"), "243": ("CD", "fr"), "244": ("AO", "pt"), "245": ("GW", "pt"),
    "249": ("SD", "ar"), "250": ("RW", None), "251": ("ET", None), "252": ("SO", None), "253": ("DJ", None),
    "254": ("KE", None), "255": ("TZ", "sw"), "256": ("UG", None), "257": ("BI", None), "258": ("MZ", "pt"),
    "260": ("ZM", "en"), "261": ("MG", None), "263": ("ZW", "en"), "264": ("NA", "en"), "265": ("MW", "en"),
    "266": ("LS", None), "267": ("BW", "en"), "268": ("SZ", None), "269": ("KM", None),
    "351": ("PT", "pt"), "352": ("LU", None), "353": ("IE", "en"), "377": ("MC", "fr"),
    "502": ("GT", "es"), "503": ("SV", "es"), "504": ("HN", "es"), "505": ("NI", "es"), "506": ("CR", "es"),
    "507": ("PA", "es"), "509": ("HT", "fr"), "591": ("BO", "es"), "593": ("EC", "es"), "595": ("PY", "es"),
    "598": ("UY", "es"), "670": ("TL", None),
    "880": ("BD", None), "961": ("LB", "ar"), "962": ("JO", "ar"), "963": ("SY", "ar"), "964": ("IQ", "ar"),
    "965": ("KW", "ar"), "966": ("SA", "ar"), "967": ("YE", "ar"), "968": ("OM", "ar"), "970": ("PS", "ar"),
    "971": ("AE", "ar"), "972": ("IL", None), "973": ("BH", "ar"), "974": ("QA", "ar"), "977": ("NP", None),
}


def country_of(wa_id: str) -> tuple[Optional[str], Optional[str]]:
    """(ISO country, language hint) from an international number's calling code; (None, None) if unknown."""
    for length in (3, 2, 1):
        found = CALLING_CODES.get(wa_id[:length])
        if found is not None:
            return found
    return None, None


def verify_signature(body: bytes, header: Optional[str], app_secret: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex>`` is the HMAC-SHA256 of the raw body with the app secret."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), header[len("sha256="):].strip().lower().encode("utf-8"))


class WhatsAppParser:
    """Verified webhook JSON → inbound messages to store and status callbacks."""

    def __init__(self, pseudonym_key: str, phone_number_id: str) -> None:
        self.pseudonym_key = pseudonym_key
        self.phone_number_id = phone_number_id

    def parse(self, data: Any) -> tuple[list[Inbound], list[tuple[str, str]], int]:
        """(messages, (message id, status) pairs, number of malformed items skipped). Raises ``ValueError`` if
        ``data`` is not a WhatsApp Business Account notification at all."""
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise ValueError("not a WhatsApp notification")
        messages: list[Inbound] = []
        statuses: list[tuple[str, str]] = []
        skipped = 0
        for entry in data["entry"]:
            for change in _list(_dict(entry).get("changes")):
                change = _dict(change)
                value = _dict(change.get("value"))
                if change.get("field") != "messages":
                    continue
                if str(_dict(value.get("metadata")).get("phone_number_id")) != self.phone_number_id:
                    continue  # another number on the same app
                for item in _list(value.get("messages")):
                    try:
                        inbound = self._message(_dict(item))
                    except (KeyError, TypeError, ValueError, OverflowError):
                        skipped += 1
                        continue
                    if inbound is not None:
                        messages.append(inbound)
                for status in _list(value.get("statuses")):
                    status = _dict(status)
                    if isinstance(status.get("id"), str) and isinstance(status.get("status"), str):
                        statuses.append((status["id"][:128], status["status"]))
                    else:
                        skipped += 1
        return messages, statuses, skipped

    def _message(self, item: dict[str, Any]) -> Optional[Inbound]:
        wa_id, message_id, kind = item["from"], item["id"], item["type"]
        if not (isinstance(wa_id, str) and _WA_ID.match(wa_id)) or not isinstance(message_id, str):
            raise ValueError("bad sender or id")
        if not 0 < len(message_id) <= 128 or not isinstance(kind, str):
            raise ValueError("bad id or type")
        sent_at = datetime.fromtimestamp(int(item["timestamp"]), timezone.utc)
        country, language = country_of(wa_id)
        meta: dict[str, Any] = {"kind": kind}
        if country:
            meta["country"] = country
        if language:
            meta["language"] = language
        text = self._text(item, kind, meta)
        if text is None:
            return None
        user_id = pseudonymise(f"whatsapp:{wa_id}", self.pseudonym_key)
        return Inbound(message_id, user_id, wa_id, text, meta, sent_at)

    @staticmethod
    def _text(item: dict[str, Any], kind: str, meta: dict[str, Any]) -> Optional[str]:
        if kind == "text":
            body = _dict(item.get("text")).get("body")
            if not isinstance(body, str):
                raise ValueError("text without body")
            return body
        if kind == "interactive":
            interactive = _dict(item.get("interactive"))
            reply = _dict(interactive.get("button_reply") or interactive.get("list_reply"))
            chosen = reply.get("id") or reply.get("title")
            if not isinstance(chosen, str) or not chosen:
                return UNSUPPORTED_PAYLOAD  # e.g. a WhatsApp Flow's nfm_reply
            meta["kind"] = "button"
            return chosen
        if kind == "button":  # a template's quick-reply button
            button = _dict(item.get("button"))
            chosen = button.get("payload") or button.get("text")
            if not isinstance(chosen, str) or not chosen:
                return UNSUPPORTED_PAYLOAD
            meta["kind"] = "button"
            return chosen
        if kind in {"reaction", "system", "request_welcome"}:
            return None  # an emoji on our message, a number change: nothing to answer
        caption = _dict(item.get(kind)).get("caption") if kind in {"image", "video", "document"} else None
        if isinstance(caption, str) and caption.strip():
            meta["kind"] = f"{kind}_caption"
            return caption  # words sent with a picture are read (a crisis can be in a caption)
        return UNSUPPORTED_PAYLOAD


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class WhatsAppPlatform(Platform):
    """Renders Rasa's messages as Cloud API message objects and posts them to the Graph API."""

    name = "whatsapp"

    def __init__(self, access_token: str, phone_number_id: str, api_base_url: str = "https://graph.facebook.com",
                 api_version: str = "v21.0", template_name: str = "amani_reconnect",
                 template_language: str = "en", window_hours: float = 24.0) -> None:
        self.url = f"{api_base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self.access_token = access_token
        self.template = {"name": template_name, "language": {"code": template_language}}
        self.window = timedelta(hours=window_hours)
        self._client: Optional[httpx.AsyncClient] = None

    async def start(self) -> None:
        """Open the HTTP client."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def render(self, message: dict[str, Any]) -> list[Request]:
        """Text parts, then reply buttons (≤ 3) or list messages (≤ 10 rows each) on the last part; images."""
        requests: list[Request] = []
        text = message.get("text") or ""
        buttons = [b for b in (message.get("buttons") or message.get("quick_replies") or []) if isinstance(b, dict)]
        custom = message.get("custom")
        if not text and isinstance(custom, dict) and isinstance(custom.get("text"), str):
            text = custom["text"]
        if buttons:
            limit = MAX_INTERACTIVE_BODY if len(buttons) <= MAX_BUTTONS else MAX_TEXT
            parts = split_text(text or "⬇️", MAX_TEXT)
            parts = parts[:-1] + split_text(parts[-1], limit)
            requests += [_text(part) for part in parts[:-1]]
            if len(buttons) <= MAX_BUTTONS:
                requests.append(Request("interactive", {"type": "interactive", "interactive": _buttons(parts[-1],
                                                                                                       buttons)}))
            else:
                for start in range(0, len(buttons), MAX_ROWS):
                    body = parts[-1] if start == 0 else "…"
                    requests.append(Request("interactive", {"type": "interactive", "interactive": _list_message(
                        body, buttons[start:start + MAX_ROWS])}))
        elif text:
            requests += [_text(part) for part in split_text(text, MAX_TEXT)]
        if message.get("image"):
            requests.append(Request("image", {"type": "image", "image": {"link": str(message["image"])}}))
        if message.get("attachment"):
            requests.append(_text(str(message["attachment"])[:MAX_TEXT]))
        return requests

    def window_open(self, recipient: Recipient, now: Optional[datetime] = None) -> bool:
        """True within 24 hours of the person's last message."""
        now = now or datetime.now(timezone.utc)
        return recipient.last_inbound_at is not None and now - recipient.last_inbound_at < self.window

    async def send(self, recipient: Recipient, request: Request) -> SendResult:
        """One Graph API call; outside the window the re-engagement template instead (once per closed window)."""
        if not self.window_open(recipient):
            return await self._send_template(recipient)
        result = await self._post({**_envelope(recipient.address), **request.body})
        if result.error == f"code {REENGAGEMENT_CODE}":
            return await self._send_template(recipient)
        return result

    async def _send_template(self, recipient: Recipient) -> SendResult:
        since = recipient.last_inbound_at or datetime.fromtimestamp(0, timezone.utc)
        if recipient.template_sent_at is not None and recipient.template_sent_at >= since:
            return SendResult("expired", error="outside the 24-hour window; template already sent")
        result = await self._post({**_envelope(recipient.address), "type": "template", "template": self.template})
        if result.status == "sent":
            return SendResult.sent(result.platform_message_id, template_sent=True)
        return result

    async def _post(self, body: dict[str, Any]) -> SendResult:
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            reply = await self._client.post(
                self.url, json=body, headers={"Authorization": f"Bearer {self.access_token}"}
            )
        except httpx.HTTPError as exc:  # connection refused, timeouts...
            return SendResult.retry(type(exc).__name__)
        retry_after = _retry_after(reply.headers.get("Retry-After"))
        try:
            data = reply.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if 200 <= reply.status_code < 300:
            messages = _list(data.get("messages"))
            message_id = _dict(messages[0]).get("id") if messages else None
            return SendResult.sent(message_id if isinstance(message_id, str) else None)
        code = _dict(data.get("error")).get("code")
        error = f"code {code}" if isinstance(code, int) else f"http {reply.status_code}"
        if reply.status_code == 429 or code in RATE_LIMIT_CODES:
            return SendResult.retry(error, retry_after)
        if reply.status_code >= 500 or reply.status_code == 401 or code in TRANSIENT_CODES or code == 190:
            return SendResult.retry(error, retry_after)
        if code == REENGAGEMENT_CODE:
            return SendResult("retry", error=error)
        return SendResult.failed(error)


def _envelope(address: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": address}


def _text(body: str) -> Request:
    return Request("text", {"type": "text", "text": {"body": body, "preview_url": False}})


def _reply_id(button: dict[str, Any], limit: int) -> str:
    payload = str(button.get("payload") or button.get("title") or "")
    return payload if 0 < len(payload) <= limit else clip(str(button.get("title") or payload), limit)


def _unique(titles: list[str], limit: int) -> list[str]:
    seen: set[str] = set()
    out = []
    for index, title in enumerate(titles):
        candidate = clip(title, limit) or "…"
        if candidate in seen:
            suffix = f" {index + 1}"
            candidate = clip(title, limit - len(suffix)) + suffix
        seen.add(candidate)
        out.append(candidate)
    return out


def _buttons(body: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    titles = _unique([str(b.get("title") or b.get("payload") or "…") for b in buttons], MAX_BUTTON_TITLE)
    return {
        "type": "button",
        "body": {"text": body},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": _reply_id(b, MAX_BUTTON_ID), "title": t}} for b, t in zip(buttons, titles)
        ]},
    }


def _list_message(body: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    full = [str(b.get("title") or b.get("payload") or "…") for b in buttons]
    titles = _unique(full, MAX_ROW_TITLE)
    rows = []
    for button, title, whole in zip(buttons, titles, full):
        row = {"id": _reply_id(button, MAX_ROW_ID), "title": title}
        if title != whole:
            row["description"] = clip(whole, MAX_ROW_DESCRIPTION)
        rows.append(row)
    return {"type": "list", "body": {"text": body}, "action": {"button": LIST_BUTTON, "sections": [{"rows": rows}]}}


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class WhatsAppOutput(OutboxOutput):
    """Replies to WhatsApp users go through the outbox (sent by the worker, in order, with retries)."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name."""
        return "whatsapp"


class WhatsAppInput(DurableInputChannel):
    """``/webhooks/whatsapp/webhook``: verification, signed notifications, durable processing."""

    @classmethod
    def name(cls) -> Text:
        """URL prefix and channel name."""
        return "whatsapp"

    def __init__(self, access_token: str, app_secret: str, verify_token: str, phone_number_id: str,
                 database_url: str, pseudonym_key: str, address_key: str,
                 api_base_url: str = "https://graph.facebook.com", settings: Any = None) -> None:
        missing = [name for name, value in (("WHATSAPP_ACCESS_TOKEN", access_token),
                                            ("WHATSAPP_APP_SECRET", app_secret),
                                            ("WHATSAPP_VERIFY_TOKEN", verify_token),
                                            ("WHATSAPP_PHONE_NUMBER_ID", phone_number_id)) if not value]
        if missing:
            raise ValueError("WhatsApp needs " + ", ".join(missing))
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.settings = settings
        self.platform = WhatsAppPlatform(
            access_token, phone_number_id, api_base_url,
            api_version=getattr(settings, "whatsapp_api_version", "v21.0"),
            template_name=getattr(settings, "whatsapp_template_name", "amani_reconnect"),
            template_language=getattr(settings, "whatsapp_template_language", "en"),
            window_hours=getattr(settings, "whatsapp_window_hours", 24.0),
        )
        self.store = ChannelStore(database_url, "whatsapp", AddressCipher(address_key))
        self.parser = WhatsAppParser(pseudonym_key, phone_number_id)
        self.run_worker = bool(getattr(settings, "channel_worker", True))

    @classmethod
    def from_settings(cls, settings: Any) -> "WhatsAppInput":
        """Built from ``bot.settings.Settings`` (``WHATSAPP_*``); raises if any is missing."""
        return cls(
            settings.whatsapp_access_token or "", settings.whatsapp_app_secret or "",
            settings.whatsapp_verify_token or "", settings.whatsapp_phone_number_id or "", settings.database_url,
            settings.pseudonym_key, settings.channel_address_key, settings.whatsapp_api_base_url, settings,
        )

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """From credentials.yml (``access_token``, ``app_secret``, ``verify_token``, ``phone_number_id``)."""
        from bot.settings import get_settings

        if not credentials:
            cls.raise_missing_credentials_exception()
        base = get_settings()
        return cls.from_settings(base.copy(update={
            "whatsapp_access_token": credentials.get("access_token"),
            "whatsapp_app_secret": credentials.get("app_secret"),
            "whatsapp_verify_token": credentials.get("verify_token"),
            "whatsapp_phone_number_id": str(credentials.get("phone_number_id") or ""),
            "whatsapp_api_base_url": credentials.get("api_base_url", base.whatsapp_api_base_url),
        }))

    def blueprint(self, on_new_message: Any) -> Blueprint:
        """Health route, verification and the webhook; the worker starts and stops with the server."""
        from bot.settings import get_settings

        self._make_worker(on_new_message, self.settings or get_settings())
        whatsapp_webhook = Blueprint("whatsapp_webhook", __name__)

        @whatsapp_webhook.route("/", methods=["GET"])
        async def health(_request: SanicRequest) -> HTTPResponse:
            return response.json({"status": "ok"})

        @whatsapp_webhook.route("/webhook", methods=["GET"])
        async def verify(request: SanicRequest) -> HTTPResponse:
            return self.handle_verification(request)

        @whatsapp_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: SanicRequest) -> HTTPResponse:
            return await self.handle_webhook(request)

        self._attach_lifecycle(whatsapp_webhook)
        return whatsapp_webhook

    def handle_verification(self, request: SanicRequest) -> HTTPResponse:
        """Meta's subscription check: echo ``hub.challenge`` when the verify token matches."""
        mode = request.args.get("hub.mode", "")
        token = request.args.get("hub.verify_token", "")
        challenge = request.args.get("hub.challenge", "")
        if mode == "subscribe" and hmac.compare_digest(token.encode("utf-8"), self.verify_token.encode("utf-8")):
            return response.text(challenge)
        logger.warning("whatsapp verification refused")
        return response.text("forbidden", status=403)

    async def handle_webhook(self, request: SanicRequest) -> HTTPResponse:
        """Verify the signature on the raw body, then store every message before answering 200."""
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return response.json({"error": "too large"}, status=413)
        if not verify_signature(body, request.headers.get("X-Hub-Signature-256"), self.app_secret):
            logger.warning("whatsapp webhook: bad or missing signature")
            return response.json({"error": "forbidden"}, status=403)
        try:
            messages, statuses, skipped = self.parser.parse(json.loads(body))
        except (ValueError, RecursionError):
            return response.json({"error": "bad notification"}, status=400)
        if skipped:
            logger.warning("whatsapp webhook: %s malformed item(s) skipped", skipped)
        duplicates = 0
        for message in messages:
            duplicates += 0 if await self.accept(message) else 1
        if duplicates:
            logger.info("whatsapp: %s duplicate message(s) acknowledged", duplicates)
        for message_id, status in statuses:
            await asyncio.to_thread(self.store.set_delivery_status, message_id, status)
            if status == "failed":
                logger.warning("whatsapp: the platform reports a reply as failed")
        return response.json({"status": "ok"})

    def get_output_channel(self) -> WhatsAppOutput:
        """Proactive messages through the outbox (the template rule applies)."""
        wake = self.worker.wake_outbound if self.worker is not None else (lambda: None)
        return WhatsAppOutput(self.platform, self.store, wake)
