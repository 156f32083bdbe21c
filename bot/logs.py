"""Logging for every entry point: to stderr, WARNING by default, and never Rasa's debug events.

Rasa's own structlog set-up prints to stdout (which would corrupt ``python -m bot classify`` output) and, at debug
level, logs message texts and parse results; we carry mental-health conversations, so neither is acceptable.
"""

from __future__ import annotations

import logging
import os
import sys


def configure(level_name: str | None = None) -> None:
    """Route stdlib logging and structlog to stderr at ``AMANI_LOG_LEVEL`` (default WARNING, never below INFO)."""
    import structlog

    level = logging.getLevelName((level_name or os.environ.get("AMANI_LOG_LEVEL", "WARNING")).upper())
    if not isinstance(level, int):
        level = logging.WARNING
    level = max(level, logging.INFO)  # DEBUG would log message texts (Rasa's processor logs parse data)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    for name in ("rasa", "rasa_sdk", "sanic", "tensorflow", "absl", "bot"):
        logging.getLogger(name).setLevel(level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
