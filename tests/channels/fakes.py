"""Local fake Telegram Bot API and WhatsApp Graph API servers that check requests the way the platforms do.

Both run (aiohttp) in a background thread on a free port, record the calls they accepted, and can be told to
answer the next calls with a rate limit (429 + ``retry_after``) or a server error.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from aiohttp import web

from tests.helpers import free_port


@dataclass
class Call:
    """One request a fake accepted (or refused)."""

    at: float
    method: str
    params: dict[str, Any]
    status: int = 200
    error: Optional[str] = None


@dataclass
class Failure:
    status: int
    retry_after: Optional[int] = None
    code: Optional[int] = None


class ThreadedServer:
    """An aiohttp application served from its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[Call] = []
        self.refused: list[Call] = []
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: Optional[web.AppRunner] = None

    def app(self) -> web.Application:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> "ThreadedServer":
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(self.app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def fail_next(self, count: int, status: int, retry_after: Optional[int] = None,
                  code: Optional[int] = None) -> None:
        """Answer the next ``count`` send calls with this failure."""
        with self._lock:
            self.failures += [Failure(status, retry_after, code) for _ in range(count)]

    def _take_failure(self) -> Optional[Failure]:
        with self._lock:
            return self.failures.pop(0) if self.failures else None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.refused.clear()
            self.failures.clear()

    def wait_for_calls(self, count: int, seconds: float = 15.0, predicate: Any = None) -> list[Call]:
        """Block until ``count`` accepted calls (matching ``predicate``) were recorded."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [c for c in list(self.calls) if predicate is None or predicate(c)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        found = [c for c in list(self.calls) if predicate is None or predicate(c)]
        raise AssertionError(f"expected {count} calls, got {len(found)}: {found}; refused: {self.refused}")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram(ThreadedServer):
    """The Bot API as far as Amani uses it: token in the path, form or JSON parameters, Telegram's limits."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict[str, Any]] = []  # served by getUpdates
        self.webhook: dict[str, Any] = {}
        self._message_id = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update({k: v for k, v in (await request.post()).items()})
        if token != self.token:
            return self._error(401, "Unauthorized", method, params)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found", method, params)
        if method in {"sendMessage", "sendPhoto"}:
            failure = self._take_failure()
            if failure is not None:
                description = "Too Many Requests: retry after %s" % failure.retry_after if failure.status == 429 \
                    else "Internal Server Error"
                extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after else {}
                self.refused.append(Call(time.monotonic(), method, params, failure.status, description))
                return web.json_response(
                    {"ok": False, "error_code": failure.status, "description": description, **extra},
                    status=failure.status,
                )
        try:
            result = await handler(params)
        except ValueError as exc:
            return self._error(400, f"Bad Request: {exc}", method, params)
        self.calls.append(Call(time.monotonic(), method, params))
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str, method: str, params: dict[str, Any]) -> web.Response:
        self.refused.append(Call(time.monotonic(), method, params, status, description))
        return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)

    @staticmethod
    def _chat_id(params: dict[str, Any]) -> int:
        try:
            return int(params["chat_id"])
        except (KeyError, ValueError):
            raise ValueError("chat not found") from None

    def _sent(self, chat_id: int, **extra: Any) -> dict[str, Any]:
        self._message_id += 1
        return {"message_id": self._message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                **extra}

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("message text is empty")
        if utf16_len(text) > 4096:
            raise ValueError("message is too long")
        if "parse_mode" in params:
            raise ValueError("Amani sends plain text only")
        markup = params.get("reply_markup")
        if markup is not None:
            markup = json.loads(markup) if isinstance(markup, str) else markup
            rows = markup.get("inline_keyboard")
            if not isinstance(rows, list) or not rows:
                raise ValueError("inline keyboard expected")
            for row in rows:
                for button in row:
                    if not button.get("text"):
                        raise ValueError("button text is empty")
                    if ("callback_data" in button) == ("url" in button):
                        raise ValueError("exactly one of callback_data and url")
                    if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                        raise ValueError("BUTTON_DATA_INVALID")
            params["reply_markup"] = markup
        return self._sent(chat_id, text=text)

    async def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        if not params.get("photo"):
            raise ValueError("there is no photo in the request")
        return self._sent(chat_id, photo=[{"file_id": "x", "file_unique_id": "x", "width": 1, "height": 1}])

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise ValueError("query is too old")
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        secret = params.get("secret_token", "")
        if secret and not all(c.isalnum() or c in "_-" for c in secret):
            raise ValueError("secret token contains unallowed characters")
        self.webhook = params
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": 1, "is_bot": True, "first_name": "Amani", "username": "amani_test_bot"}

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise ValueError("Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.5)
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return pending
            await asyncio.sleep(0.02)


class FakeGraph(ThreadedServer):
    """The WhatsApp Cloud API messages endpoint: bearer token, phone number id in the path, message limits."""

    def __init__(self, access_token: str, phone_number_id: str, version: str = "v21.0") -> None:
        super().__init__()
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.version = version
        self._message_id = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self.handle)
        return app

    def _error(self, status: int, code: int, message: str, body: Any,
               headers: Optional[dict[str, str]] = None) -> web.Response:
        self.refused.append(Call(time.monotonic(), "messages", body if isinstance(body, dict) else {}, status,
                                 f"{code} {message}"))
        return web.json_response({"error": {"message": message, "type": "OAuthException", "code": code,
                                            "fbtrace_id": "test"}}, status=status, headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, 100, "Invalid JSON", None)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self._error(401, 190, "Invalid OAuth access token", body)
        if (request.match_info["version"], request.match_info["phone_number_id"]) != (self.version,
                                                                                    self.phone_number_id):
            return self._error(400, 100, "Unsupported post request", body)
        failure = self._take_failure()
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
            return self._error(failure.status, failure.code or (130429 if failure.status == 429 else 131000),
                               "injected failure", body, headers)
        try:
            self._validate(body)
        except ValueError as exc:
            return self._error(400, 100, f"Invalid parameter: {exc}", body)
        self.calls.append(Call(time.monotonic(), body.get("type", ""), body))
        self._message_id += 1
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": f"wamid.fake{self._message_id}"}]})

    @staticmethod
    def _validate(body: Any) -> None:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            raise ValueError("messaging_product must be whatsapp")
        if not isinstance(body.get("to"), str) or not body["to"].isdigit():
            raise ValueError("to")
        kind = body.get("type")
        if kind == "text":
            text = body.get("text", {}).get("body")
            if not isinstance(text, str) or not text or len(text) > 4096:
                raise ValueError("text.body must be 1-4096 characters")
        elif kind == "interactive":
            interactive = body["interactive"]
            text = interactive.get("body", {}).get("text")
            action = interactive.get("action", {})
            if interactive.get("type") == "button":
                if not isinstance(text, str) or not text or len(text) > 1024:
                    raise ValueError("interactive body 1-1024 characters")
                buttons = action.get("buttons") or []
                if not 1 <= len(buttons) <= 3:
                    raise ValueError("1-3 buttons")
                titles = [b["reply"]["title"] for b in buttons]
                ids = [b["reply"]["id"] for b in buttons]
                if any(b.get("type") != "reply" for b in buttons):
                    raise ValueError("button type must be reply")
                if any(not t or len(t) > 20 for t in titles) or len(set(titles)) != len(titles):
                    raise ValueError("button titles 1-20 characters, unique")
                if any(not i or len(i) > 256 for i in ids) or len(set(ids)) != len(ids):
                    raise ValueError("button ids 1-256 characters, unique")
            elif interactive.get("type") == "list":
                if not isinstance(text, str) or not text or len(text) > 4096:
                    raise ValueError("list body 1-4096 characters")
                label = action.get("button")
                if not isinstance(label, str) or not label or len(label) > 20:
                    raise ValueError("list button label 1-20 characters")
                sections = action.get("sections") or []
                rows = [row for section in sections for row in section.get("rows", [])]
                if not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
                    raise ValueError("1-10 rows")
                if len(sections) > 1 and any(not s.get("title") for s in sections):
                    raise ValueError("section titles required with several sections")
                for row in rows:
                    if not row.get("title") or len(row["title"]) > 24:
                        raise ValueError("row title 1-24 characters")
                    if not row.get("id") or len(row["id"]) > 200:
                        raise ValueError("row id 1-200 characters")
                    if len(row.get("description", "")) > 72:
                        raise ValueError("row description ≤ 72 characters")
                if len({r["id"] for r in rows}) != len(rows):
                    raise ValueError("row ids unique")
            else:
                raise ValueError("interactive type")
        elif kind == "template":
            template = body.get("template", {})
            if not template.get("name") or not template.get("language", {}).get("code"):
                raise ValueError("template name and language.code")
        elif kind == "image":
            if not body.get("image", {}).get("link"):
                raise ValueError("image.link")
        else:
            raise ValueError(f"unsupported type {kind}")

