"""Logging for every entry point: to stderr, WARNING by default, and never Rasa's debug events.

Rasa's own structlog set-up prints to stdout (which would corrupt ``python -m bot classify`` output) and, at debug
level, logs message texts and parse results; we carry mental-health conversations, so neither is acceptable.
Every handler also gets ``PrivacyFilter``, the last line of defence: phone numbers, e-mail addresses and ID
numbers are redacted from log lines, quoted conversation ids are masked, and exception messages are dropped from
tracebacks (Rasa logs an action server error with the whole tracker in the exception message).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from typing import Any


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
    protect_existing_handlers()
    logging.captureWarnings(True)  # Rasa's warnings can quote parsed entities: through the filter with the rest
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _exception_without_message,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_IDS = re.compile(r"(?i)\b(sender(?:[ _]id)?|conversation(?:[ _]id)?|recipient(?:[ _]id)?|user[ _]id|chat[ _]id)"
                  r"(\s*[=:]?\s*)(['\"])(.+?)\3")
_BARE_IDS = re.compile(r"(?i)\b(sender_id|conversation_id|recipient_id|user_id|chat_id)=(?!['\"])([^\s,;)]+)")


class PrivacyFilter(logging.Filter):
    """Redacts what a log record would show (module docstring); never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        from bot.privacy.redact import Redactor

        self.redactor = Redactor()  # always on in logs, whatever the storage setting

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the message and the traceback of ``record`` in place."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record still gets logged, scrubbed
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = traceback_without_messages(record.exc_info)
        return True

    def scrub(self, text: str) -> str:
        """``text`` without personal identifiers or conversation ids."""
        text = _IDS.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}[id]{m.group(3)}", text)
        text = _BARE_IDS.sub(lambda m: f"{m.group(1)}=[id]", text)
        return self.redactor.redact(text)


def traceback_without_messages(exc_info: Any) -> str:
    """The traceback(s) of ``exc_info`` with every exception reduced to its type: the stack is kept for
    debugging, the messages (which can quote user text or a whole tracker) are not."""
    chain = []
    current = traceback.TracebackException(*exc_info)
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for index, exc in enumerate(reversed(chain)):
        if index:
            parts.append("\nwhich led to (exception messages are not logged):\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(exc.stack.format())
        parts.append(f"{exc.exc_type.__module__}.{exc.exc_type.__qualname__}\n")
    return "".join(parts).rstrip()


def _exception_without_message(_logger: Any, _name: str, event: dict) -> dict:
    """structlog renders tracebacks itself: the same rule as ``PrivacyFilter`` (stack yes, messages no)."""
    exc_info = event.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            event["exception"] = traceback_without_messages(exc_info)
    return event


def protect_existing_handlers() -> None:
    """Add ``PrivacyFilter`` to the root logger's handlers (idempotent); the action server calls it too, since
    rasa-sdk sets up its own logging before it imports our actions."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
            handler.addFilter(PrivacyFilter())
