"""Where messages enter: ``admit(sender_id, text)`` applies the per-person rate limit and the maximum message length
before a channel hands a message to Rasa; ``notice_messages`` renders the kind replies in the person's language.

A channel does::

    admission = await asyncio.to_thread(admit, sender_id, text)   # Redis and the lexicons may block briefly
    for notice in await notice_messages(admission, sender_id, metadata):
        await output.send_response(sender_id, notice)
    if admission.allowed:
        ... hand UserMessage(admission.text, ...) to Rasa

* Rate limit (``AMANI_RATE_LIMIT_MESSAGES`` per ``AMANI_RATE_LIMIT_WINDOW_SECONDS``, ``bot.privacy.ratelimit``):
  over the limit a message is dropped, and the first one in a window gets ``utter_rate_limited``. A message in which
  any language's crisis lexicon fires is always let through.
* Length (``AMANI_MAX_MESSAGE_CHARS``): a longer message is cut to that length for Rasa and the person gets
  ``utter_message_too_long`` first. Sentences after the cut in which a crisis lexicon fires are kept (appended
  after " … "), so the crisis layer still reads them; at most ``SCAN_FACTOR`` times the limit is scanned.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping, Optional

import yaml

from bot.identity import pseudonymise
from bot.privacy.ratelimit import Limiter, make_limiter

logger = logging.getLogger(__name__)

RATE_LIMITED = "utter_rate_limited"
TOO_LONG = "utter_message_too_long"
SCAN_FACTOR = 10
_SENTENCE_END = re.compile(r"(?<=[.!?؟।\n])\s+")


@dataclass(frozen=True)
class Admission:
    """What to do with one incoming message."""

    allowed: bool
    text: str
    notices: tuple[str, ...] = ()  # responses to send the person before (or instead of) the reply
    truncated: bool = False
    rate_limited: bool = False
    crisis_bypass: bool = False  # over the limit but let through: a crisis lexicon fired


@dataclass
class Gate:
    """The rate limiter and length limit of one process."""

    limiter: Limiter
    max_chars: int
    pseudonym_key: str
    crisis_scan: Callable[[str], bool]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Any) -> "Gate":
        """The gate the settings describe, with every language's crisis lexicon."""
        return cls(make_limiter(settings), settings.max_message_chars, settings.pseudonym_key, CrisisScan(settings))

    def admit(self, sender_id: str, text: str, now: Optional[float] = None) -> Admission:
        """Apply the length limit and the rate limit to one message."""
        text = text if isinstance(text, str) else ""
        notices: list[str] = []
        truncated = len(text) > self.max_chars
        if truncated:
            text = self.truncate(text)
            notices.append(TOO_LONG)
        decision = self.limiter.hit(pseudonymise(str(sender_id or ""), self.pseudonym_key), now)
        if not decision.allowed:
            if self.crisis_scan(text):
                return Admission(True, text, tuple(notices), truncated, rate_limited=True, crisis_bypass=True)
            return Admission(False, text, (RATE_LIMITED,) if decision.notify else (), truncated, rate_limited=True)
        return Admission(True, text, tuple(notices), truncated)

    def truncate(self, text: str) -> str:
        """The first ``max_chars`` characters, plus later sentences in which a crisis lexicon fires."""
        tail = text[self.max_chars:self.max_chars * SCAN_FACTOR]
        kept: list[str] = []
        if self.crisis_scan(tail):
            budget = self.max_chars // 2
            for sentence in _SENTENCE_END.split(tail):
                if sentence.strip() and self.crisis_scan(sentence):
                    kept.append(sentence.strip()[:budget])
                    budget -= len(kept[-1]) + 3
                    if budget <= 0:
                        break
        if not kept:
            return text[:self.max_chars]
        extra = " … ".join(kept)
        return text[:max(0, self.max_chars - len(extra) - 3)] + " … " + extra


class CrisisScan:
    """True if any language's crisis lexicon fires on a text (lexicons loaded on first use, thread-safe)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._detector: Any = None
        self._lock = threading.Lock()

    def use(self, detector: Any) -> None:
        """Share an already loaded ``CrisisDetector`` (the router's) instead of loading the lexicons again."""
        with self._lock:
            self._detector = detector

    def __call__(self, text: str) -> bool:
        """Scan ``text`` with every language's lexicon."""
        if not text.strip():
            return False
        with self._lock:
            if self._detector is None:
                from bot.runtime import load_crisis_detector

                self._detector = load_crisis_detector(self.settings)
        return any(self._detector.scan(text, language) for language in self._detector.lexicons)


_gate: Optional[Gate] = None
_gate_lock = threading.Lock()
_agent: Any = None


def gate() -> Gate:
    """This process's gate, built from the settings on first use."""
    global _gate
    with _gate_lock:
        if _gate is None:
            from bot.settings import get_settings

            _gate = Gate.from_settings(get_settings())
        return _gate


def admit(sender_id: str, text: str) -> Admission:
    """Rate limit and length limit for one incoming message (``Gate.admit`` of this process)."""
    return gate().admit(sender_id, text)


def attach(agent: Any) -> None:
    """Let notices use the running agent's domain and conversations, and the gate its router's crisis lexicons
    (``bot/server.py`` calls this at start-up)."""
    global _agent
    _agent = agent
    detector = getattr(getattr(agent, "http_interpreter", None), "crisis", None)
    scan = gate().crisis_scan
    if detector is not None and isinstance(scan, CrisisScan):
        scan.use(detector)


async def notice_messages(admission: Admission, sender_id: str,
                          metadata: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """The admission's notices as bot messages in the person's language (``_language``)."""
    if not admission.notices:
        return []
    language = await _language(sender_id, metadata or {}, admission.text)
    responses = _agent.domain.responses if _agent is not None else _domain_responses()
    messages = []
    for name in admission.notices:
        message = render(responses, name, language)
        if message is None:
            logger.warning("response %s is missing from the domain", name)
        else:
            messages.append(message)
    return messages


def render(responses: Mapping[str, Any], name: str, language: Optional[str]) -> Optional[dict[str, Any]]:
    """The variation of response ``name`` for ``language`` (else its default) as a bot message."""
    chosen = None
    for variation in responses.get(name) or []:
        conditions = variation.get("condition") or []
        if not conditions and chosen is None:
            chosen = variation
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            chosen = variation
            break
    if chosen is None:
        return None
    return {k: v for k, v in chosen.items() if k in ("text", "buttons") and v}


async def _language(sender_id: str, metadata: Mapping[str, Any], text: str = "") -> str:
    """The conversation's language; else the router's choice for this text (channel hint, identification);
    else the channel hint; else the default language."""
    from bot.settings import get_settings

    settings = get_settings()
    if _agent is not None:
        try:
            tracker = await _agent.tracker_store.retrieve(sender_id) if sender_id else None
            if tracker is not None and tracker.get_slot("language"):
                return str(tracker.get_slot("language"))
            router = getattr(_agent, "http_interpreter", None)
            if router is not None and hasattr(router, "route") and text.strip():
                return router.route(text.strip()[:1000], None, metadata).language
        except Exception as error:  # noqa: BLE001 - the hint or the default will do
            logger.error("conversation language unavailable: %s", type(error).__name__)
    hint = str(metadata.get("language") or "").replace("_", "-").split("-")[0].lower()
    return hint if hint in _languages(str(settings.languages_file)) else settings.default_language


@lru_cache(maxsize=2)
def _languages(path: str) -> frozenset[str]:
    from pathlib import Path

    from bot.languages import LanguageRegistry

    return frozenset(LanguageRegistry.load(Path(path)).codes)


@lru_cache(maxsize=1)
def _domain_responses() -> dict[str, Any]:
    from bot.settings import get_settings

    domain = yaml.safe_load((get_settings().root / "domain.yml").read_text(encoding="utf-8"))
    return domain.get("responses") or {}
