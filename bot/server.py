"""Serving the assistant: the Rasa HTTP server with the language router plugged in, and the action server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any, Optional

from sqlalchemy.engine import make_url

from bot.settings import Settings

logger = logging.getLogger(__name__)


# Rasa's SQL tracker store that redacts stored user text and honours "delete my data" (bot/privacy/tracker_store.py)
TRACKER_STORE = "bot.privacy.tracker_store.RedactingSQLTrackerStore"


def tracker_store_config(settings: Settings) -> Any:
    """Rasa's SQL tracker store (redacting) on the project's database URL."""
    from rasa.utils.endpoints import EndpointConfig

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        return EndpointConfig(type=TRACKER_STORE, dialect="sqlite", db=url.database,
                              database_url=settings.database_url)
    return EndpointConfig(
        type=TRACKER_STORE,
        database_url=settings.database_url,
        dialect=url.drivername,
        url=url.host,  # Rasa passes the endpoint's url as the store's host (a `host` keyword would clash)
        port=url.port,
        db=url.database,
        username=url.username,
        password=url.password,
    )


def endpoints(settings: Settings) -> Any:
    """Action server and tracker store endpoints from settings."""
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    return AvailableEndpoints(
        action=EndpointConfig(url=f"http://{settings.action_host}:{settings.action_port}/webhook"),
        tracker_store=tracker_store_config(settings),
    )


def start_action_server(settings: Settings) -> subprocess.Popen:
    """Run rasa-sdk's action server for ``bot.actions`` on ``action_host`` (localhost; rasa-sdk would bind every
    interface unless told through SANIC_HOST)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(settings.action_port)],
        cwd=settings.root, env={**os.environ, "SANIC_HOST": settings.action_host},
    )


def install_handoff(app: Any, settings: Settings) -> None:
    """The counsellor console and its API on the Rasa server (they pause, resume and write to conversations)."""
    from bot.handoff.console import blueprint
    from bot.handoff.relay import Conversations
    from bot.handoff.service import HandoffService

    def service_for(request: Any) -> HandoffService:
        agent = getattr(request.app.ctx, "agent", None)
        return HandoffService(settings, Conversations.of(agent, settings.database_url) if agent else None)

    app.blueprint(blueprint(service_for))


def start_handoff(app: Any, settings: Settings) -> None:
    """Deliver the handoff outbox and watch for handoffs nobody accepts, in this process; crisis messages while a
    counsellor has the conversation raise the risk."""
    import asyncio

    from bot.handoff.dispatcher import Dispatcher
    from bot.handoff.relay import Conversations
    from bot.handoff.service import HandoffService

    service = HandoffService(settings, Conversations.of(app.ctx.agent, settings.database_url))
    router = getattr(app.ctx.agent, "http_interpreter", None)
    if router is not None and hasattr(router, "crisis_listeners"):
        router.crisis_listeners.append(service.crisis_while_paused)
    app.ctx.handoff_stop = asyncio.Event()
    dispatcher = Dispatcher(settings, on_timeout=service.notify_timeout)
    app.ctx.handoff_task = asyncio.get_event_loop().create_task(dispatcher.run_forever(app.ctx.handoff_stop))


async def stop_handoff(app: Any, loop: Any) -> None:
    """Let the delivery loop finish its pass (nothing is lost if it does not: deliveries are durable)."""
    if getattr(app.ctx, "handoff_stop", None) is not None:
        app.ctx.handoff_stop.set()
        await app.ctx.handoff_task


def start_privacy(app: Any, settings: Settings) -> None:
    """The daily retention purge in this process; the rate-limit notices read the running agent's domain."""
    from bot.privacy import gate, retention

    gate.attach(app.ctx.agent)
    retention.start_schedule(app, settings)


async def stop_privacy(app: Any, loop: Any) -> None:
    """Stop the retention schedule."""
    from bot.privacy import retention

    await retention.stop_schedule(app, loop)


def serve(settings: Settings, with_actions: bool = True) -> None:
    """Start the Rasa server (REST at /webhooks/rest/webhook) with the router; blocks until stopped."""
    import rasa.core.run
    from rasa.core import constants

    from bot.runtime import load_agent
    from bot.store.db import migrate
    from channels.common import messaging_channels

    migrate(settings.database_url)
    eps = endpoints(settings)
    credentials = str(settings.root / "credentials.yml")
    # REST always (credentials.yml); Telegram and WhatsApp when their settings are present
    channels = rasa.core.run.create_http_input_channels(None, credentials) + messaging_channels(settings)
    app = rasa.core.run.configure_app(
        channels,
        cors=None,
        auth_token=settings.api_token if settings.enable_api else None,
        enable_api=settings.enable_api,
        response_timeout=constants.DEFAULT_RESPONSE_TIMEOUT,
        port=settings.port,
        endpoints=eps,
    )

    install_handoff(app, settings)

    async def _load(app: Any, loop: Any) -> None:
        app.ctx.agent = await load_agent(settings, eps)
        start_handoff(app, settings)
        start_privacy(app, settings)
        logger.info("Amani is ready on port %s", settings.port)

    app.register_listener(_load, "before_server_start")
    app.register_listener(stop_handoff, "before_server_stop")
    app.register_listener(stop_privacy, "before_server_stop")
    app.register_listener(rasa.core.run.close_resources, "after_server_stop")
    actions: Optional[subprocess.Popen] = start_action_server(settings) if with_actions else None
    try:
        app.run(host=settings.host, port=settings.port, access_log=False, workers=1)
    finally:
        if actions is not None:
            actions.terminate()
            actions.wait(timeout=10)
