"""The Amani Sanic app with the real Telegram/WhatsApp channels, served from a background thread, and a small echo
agent standing in for Rasa's (the channels, inbox and worker are the real code; only the dialogue is a stand-in).
Run as a script (``python -m tests.channels.harness``) it serves until killed: the crash test kills it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import threading
import time
from typing import Any, Optional

from bot.settings import Settings

_APP_NUMBER = itertools.count()
_IDS = itertools.count(1)
TOKEN = "123456:TEST-telegram-token"
SECRET = "telegram-secret-token-for-tests"
WA_TOKEN = "EAAG-test-access-token"
WA_SECRET = "whatsapp-app-secret-for-tests"
WA_VERIFY = "whatsapp-verify-token-for-tests"
WA_PHONE_ID = "106540352242922"
LONG_REPLY = ("Breathe in slowly. " * 600)[:10_000]


def unique() -> int:
    """A number no other test uses (update ids, chat ids, phone numbers)."""
    return next(_IDS)


class EchoAgent:
    """Answers like a tiny bot: echoes text; ``/buttonsN`` → N buttons; ``/long`` → 10,000 characters;
    ``/boom`` fails (``fail_times`` times, then works)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Optional[dict]]] = []
        self.failures_left = 0

    async def handle_message(self, message: Any) -> None:
        text = message.text or ""
        self.seen.append((message.sender_id, text, message.metadata))
        out, sender = message.output_channel, message.sender_id
        if text == "/boom" and self.failures_left > 0:
            self.failures_left -= 1
            raise RuntimeError("simulated failure")
        if text.startswith("/buttons"):
            count = int(text[len("/buttons"):] or 3)
            buttons = [{"title": f"Option number {i} with a long title", "payload": f'/choose{{"n": {i}}}'}
                       for i in range(1, count + 1)]
            await out.send_response(sender, {"text": "Pick one", "buttons": buttons})
        elif text == "/long":
            await out.send_response(sender, {"text": LONG_REPLY})
        elif text == "/later":  # like a Rasa reminder: a message on this turn's output channel after the turn
            await out.send_response(sender, {"text": "now"})
            asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(
                out.send_response(sender, {"text": "a little later"})))
        elif text == "/slow":
            await asyncio.sleep(1.0)
            await out.send_response(sender, {"text": "slow done"})
        else:
            language = (message.metadata or {}).get("language", "-")
            await out.send_response(sender, {"text": f"echo[{language}]: {text}"})


def make_settings(database_url: str, telegram_url: Optional[str] = None, graph_url: Optional[str] = None,
                  **overrides: Any) -> Settings:
    """Test settings pointing the channels at the fakes."""
    values: dict[str, Any] = dict(
        environment="test", database_url=database_url, channel_retry_base_seconds=0.05,
        channel_retry_max_seconds=2.0, channel_lease_seconds=5.0,
    )
    if telegram_url:
        values.update(telegram_token=TOKEN, telegram_secret_token=SECRET, telegram_api_base_url=telegram_url)
    if graph_url:
        values.update(whatsapp_access_token=WA_TOKEN, whatsapp_app_secret=WA_SECRET, whatsapp_verify_token=WA_VERIFY,
                      whatsapp_phone_number_id=WA_PHONE_ID, whatsapp_api_base_url=graph_url)
    values.update(overrides)
    return Settings(**values)


def build_app(settings: Settings, agent: Any, gate: bool = False) -> Any:
    """A Sanic app with the messaging channels registered the way Rasa registers input channels."""
    from rasa.core.channels.channel import register
    from sanic import Sanic

    from channels.common import messaging_channels

    Sanic.test_mode = True
    app = Sanic(f"amani_channels_test_{os.getpid()}_{next(_APP_NUMBER)}", configure_logging=False)
    app.ctx.agent = agent
    channels = messaging_channels(settings)
    for channel in channels:  # the echo dialogue sees exactly what was sent (test_privacy_gate.py turns it on)
        channel.use_privacy_gate = gate
    register(channels, app, route="/webhooks/")
    app.ctx.channels = {c.name(): c for c in channels}
    return app


class ServerThread:
    """Serve ``app`` on a free port from a daemon thread with its own event loop."""

    def __init__(self, app: Any, port: int) -> None:
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self.loop = asyncio.new_event_loop()
        self._server: Any = None

    def start(self) -> "ServerThread":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._start())
            except BaseException as exc:  # surfaced to the test below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    async def _start(self) -> None:
        self._server = await self.app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True,
                                                    access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._server.before_stop()
            self._server.close()
            await self._server.wait_closed()
            await self._server.after_stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def sign(body: bytes, secret: str = WA_SECRET) -> str:
    """``X-Hub-Signature-256`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- payloads shaped like the platforms' documented examples ---

def tg_user(user_id: int = 111111111, language_code: Optional[str] = "es") -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Ana", "username": "ana_test"}
    if language_code:
        user["language_code"] = language_code
    return user


def tg_message(update_id: int, text: Optional[str] = "hola", chat_id: int = 111111111, chat_type: str = "private",
               language_code: Optional[str] = "es", **content: Any) -> dict[str, Any]:
    chat = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "Ana"} if chat_type == "private" else {"title": "Friends"})
    message: dict[str, Any] = {"message_id": update_id % 100000, "from": tg_user(chat_id if chat_type == "private"
                                                                                 else 222, language_code),
                               "chat": chat, "date": int(time.time())}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    message.update(content)
    return {"update_id": update_id, "message": message}


def tg_callback(update_id: int, data: str, chat_id: int = 111111111) -> dict[str, Any]:
    return {"update_id": update_id, "callback_query": {
        "id": f"4382bfdwdsb323b2d9{update_id}", "from": tg_user(chat_id), "chat_instance": "-1234567890",
        "data": data,
        "message": {"message_id": 7, "from": {"id": 1, "is_bot": True, "first_name": "Amani"},
                    "chat": {"id": chat_id, "type": "private", "first_name": "Ana"}, "date": int(time.time()),
                    "text": "Pick one"},
    }}


def wa_notification(*messages: dict[str, Any], statuses: Optional[list[dict[str, Any]]] = None,
                    phone_number_id: str = WA_PHONE_ID, wa_id: str = "254712345678") -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Wanjiru"}, "wa_id": wa_id}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def wa_message(message_id: str, kind: str = "text", wa_id: str = "254712345678", timestamp: Optional[int] = None,
               **content: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"from": wa_id, "id": message_id, "timestamp": str(timestamp or int(time.time())),
                               "type": kind}
    if kind == "text" and not content:
        content = {"text": {"body": "habari"}}
    message.update(content)
    return message


def wa_body(notification: dict[str, Any]) -> bytes:
    return json.dumps(notification).encode()


if __name__ == "__main__":  # the crash test's server process
    from bot import logs
    from bot.store.db import migrate

    logs.configure("INFO")
    settings = make_settings(os.environ["TEST_DATABASE_URL"], os.environ.get("TEST_TELEGRAM_URL"),
                             os.environ.get("TEST_GRAPH_URL"),
                             channel_worker=os.environ.get("TEST_WORKER", "1") == "1")
    migrate(settings.database_url)
    server = ServerThread(build_app(settings, EchoAgent()), int(os.environ["TEST_PORT"])).start()
    print("ready", flush=True)
    threading.Event().wait()
