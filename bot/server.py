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


def tracker_store_config(settings: Settings) -> Any:
    """Rasa's SQL tracker store on the project's database URL."""
    from rasa.utils.endpoints import EndpointConfig

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        return EndpointConfig(type="SQL", dialect="sqlite", db=url.database)
    return EndpointConfig(
        type="SQL",
        dialect=url.drivername,
        host=url.host,
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
    """Run rasa-sdk's action server for ``bot.actions`` on localhost."""
    return subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(settings.action_port)],
        cwd=settings.root,
    )


def serve(settings: Settings, with_actions: bool = True) -> None:
    """Start the Rasa server (REST at /webhooks/rest/webhook) with the router; blocks until stopped."""
    import rasa.core.run
    from rasa.core import constants

    from bot.runtime import load_agent
    from bot.store.db import migrate

    migrate(settings.database_url)
    eps = endpoints(settings)
    credentials = str(settings.root / "credentials.yml")
    channels = rasa.core.run.create_http_input_channels(None, credentials)
    app = rasa.core.run.configure_app(
        channels,
        cors=None,
        auth_token=settings.api_token if settings.enable_api else None,
        enable_api=settings.enable_api,
        response_timeout=constants.DEFAULT_RESPONSE_TIMEOUT,
        port=settings.port,
        endpoints=eps,
    )

    async def _load(app: Any, loop: Any) -> None:
        app.ctx.agent = await load_agent(settings, eps)
        logger.info("Amani is ready on port %s", settings.port)

    app.register_listener(_load, "before_server_start")
    app.register_listener(rasa.core.run.close_resources, "after_server_stop")
    actions: Optional[subprocess.Popen] = start_action_server(settings) if with_actions else None
    try:
        app.run(host=settings.host, port=settings.port, access_log=False, workers=1)
    finally:
        if actions is not None:
            actions.terminate()
            actions.wait(timeout=10)
