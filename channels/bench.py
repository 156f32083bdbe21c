"""Webhook acknowledgement latency (``make bench``): verify + store + 200, over HTTP, on SQLite.

The server runs the real Telegram and WhatsApp channels with their workers on and a dialogue stand-in that
answers nothing, so the inbox is being claimed and completed while the webhooks are hit (as in production).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from typing import Any

PHONE_NUMBER_ID = "106540352242922"


class _SilentAgent:
    async def handle_message(self, message: Any) -> None:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
            "max_ms": round(ordered[-1], 3), "n": len(ordered)}


def bench_webhook(requests: int = 300) -> dict[str, Any]:
    """p50/p99 milliseconds from sending a webhook request to its 200, for Telegram and WhatsApp, on SQLite."""
    from rasa.core.channels.channel import register
    from sanic import Sanic

    from bot.settings import Settings
    from bot.store.db import migrate
    from channels.common import messaging_channels

    folder = tempfile.mkdtemp(prefix="amani-bench-")
    url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
    migrate(url)
    unused = f"http://127.0.0.1:{_free_port()}"  # nothing is sent: the stand-in dialogue answers nothing
    settings = Settings(
        environment="test", database_url=url, telegram_token="1:bench", telegram_secret_token="bench-secret-token",
        telegram_api_base_url=unused, whatsapp_access_token="bench", whatsapp_app_secret="bench-app-secret",
        whatsapp_verify_token="bench-verify", whatsapp_phone_number_id=PHONE_NUMBER_ID, whatsapp_api_base_url=unused,
    )
    Sanic.test_mode = True
    app = Sanic(f"amani_bench_{os.getpid()}", configure_logging=False)
    app.ctx.agent = _SilentAgent()
    register(messaging_channels(settings), app, route="/webhooks/")
    port = _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
        await server.startup()
        await server.before_start()
        await server.after_start()
        holder["server"] = server

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(30)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        results = {
            "telegram": _measure(connection, requests, lambda i: _telegram(i)),
            "whatsapp": _measure(connection, requests, lambda i: _whatsapp(i)),
        }
        connection.close()
    finally:
        async def stop() -> None:
            server = holder["server"]
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        shutil.rmtree(folder, ignore_errors=True)
    return results


def _measure(connection: http.client.HTTPConnection, count: int, make: Any) -> dict[str, float]:
    samples = []
    for i in range(count + 20):
        path, body, headers = make(i)
        start = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        reply.read()
        elapsed = (time.perf_counter() - start) * 1000
        if reply.status != 200:
            raise RuntimeError(f"{path} answered {reply.status}")
        if i >= 20:  # warm-up excluded
            samples.append(elapsed)
    return _percentiles(samples)


def _telegram(i: int) -> tuple[str, bytes, dict[str, str]]:
    update = {"update_id": 10_000 + i, "message": {
        "message_id": i, "date": int(time.time()), "text": "habari, I'm feeling a bit low today",
        "chat": {"id": 5_000_000 + i % 50, "type": "private", "first_name": "A"},
        "from": {"id": 5_000_000 + i % 50, "is_bot": False, "first_name": "A", "language_code": "sw"},
    }}
    return ("/webhooks/telegram/webhook", json.dumps(update).encode(),
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "bench-secret-token"})


def _whatsapp(i: int) -> tuple[str, bytes, dict[str, str]]:
    wa_id = f"2547{12_000_000 + i % 50}"
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "W"}, "wa_id": wa_id}],
                  "messages": [{"from": wa_id, "id": f"wamid.bench{i}", "timestamp": str(int(time.time())),
                                "type": "text", "text": {"body": "habari, I'm feeling a bit low today"}}]}}]}]}
    ).encode()
    signature = "sha256=" + hmac.new(b"bench-app-secret", body, hashlib.sha256).hexdigest()
    return ("/webhooks/whatsapp/webhook", body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature})


if __name__ == "__main__":
    print(json.dumps(bench_webhook(), indent=2))
