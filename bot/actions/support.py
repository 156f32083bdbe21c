"""Shared helpers for actions: settings, the helpline registry, country names and escalation writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from babel import Locale
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.handoff.outbox import configured_targets
from bot.identity import pseudonymise
from bot.languages import LanguageRegistry
from bot.safety import countries, risk
from bot.safety.helplines import HelplineRegistry
from bot.settings import Settings, get_settings
from bot.store.db import migrate, transaction
from bot.store.escalations import EscalationRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrisisInfo:
    """What the crisis layer recorded on the latest message."""

    reasons: list[str]
    categories: list[str]
    country: Optional[str]


def settings() -> Settings:
    """The action server's settings."""
    return get_settings()


@lru_cache(maxsize=1)
def helplines() -> HelplineRegistry:
    """The verified crisis-line registry."""
    return HelplineRegistry.load(settings().helplines_file)


@lru_cache(maxsize=1)
def _languages() -> tuple[str, ...]:
    return tuple(LanguageRegistry.load(settings().languages_file).codes)


@lru_cache(maxsize=4)
def _migrated(url: str) -> bool:
    migrate(url)
    return True


def crisis_info(tracker: Tracker) -> CrisisInfo:
    """Reasons, categories and a channel country hint from the latest user message."""
    message = tracker.latest_message or {}
    metadata = message.get("metadata") or {}
    entities = message.get("entities") or []
    reasons = [str(e["value"]) for e in entities if e.get("entity") == "crisis_reason"]
    categories = [str(e["value"]) for e in entities if e.get("entity") == "crisis_category"]
    country = next((str(e["value"]).upper() for e in entities if e.get("entity") == "country"), None)
    return CrisisInfo(reasons or ["intent"], categories, country or countries.from_metadata(metadata))


def country_from_answer(tracker: Tracker) -> Optional[str]:
    """The country named by the latest message: a button's entity or a name in any of our languages."""
    message = tracker.latest_message or {}
    for entity in message.get("entities") or []:
        if entity.get("entity") == "country" and entity.get("extractor") != "LanguageRouter":
            return str(entity["value"]).upper()
    text = str(message.get("text") or "")
    if text.startswith("/") or not text.strip():
        return None
    names = countries.country_names(_languages(), str(settings().countries_file))
    return names.find(text[:200])


def send_crisis_lines(dispatcher: CollectingDispatcher, tracker: Tracker, country: str) -> None:
    """Local crisis lines (registry only), or the emergency number and directories when there are none."""
    language = tracker.get_slot("language") or "en"
    help_ = helplines().for_country(country, language_name=_english_name(language))
    name = country_name(country, language)
    rendered = "\n".join(line.render() for line in help_.lines)
    if help_.lines and help_.emergency:
        dispatcher.utter_message(
            response="utter_crisis_lines", country_name=name, lines=rendered, emergency_number=help_.emergency
        )
    elif help_.lines:  # lines but no confirmed emergency number: the lines, then the directory and generic advice
        dispatcher.utter_message(text=rendered)
        dispatcher.utter_message(response="utter_country_unknown")
    elif help_.emergency:
        dispatcher.utter_message(
            response="utter_crisis_lines_emergency_only", country_name=name, emergency_number=help_.emergency
        )
    else:
        dispatcher.utter_message(response="utter_crisis_lines_none", country_name=name)


def country_name(code: str, language: str) -> str:
    """The country's name in the user's language (CLDR), or its code."""
    try:
        return Locale.parse(language).territories.get(code.upper(), code.upper())
    except Exception:  # noqa: BLE001 - an unknown locale still gets the code
        return code.upper()


def _english_name(language: str) -> Optional[str]:
    try:
        return Locale("en").languages.get(language)
    except Exception:  # noqa: BLE001
        return None


def user_id(tracker: Tracker) -> str:
    """The pseudonymous id under which this conversation's records are stored."""
    return pseudonymise(tracker.sender_id, settings().pseudonym_key)


def _channel(tracker: Tracker) -> str:
    return str(tracker.get_latest_input_channel() or "unknown")


def record_detection(tracker: Tracker, reasons: list[str], level: str, country: Optional[str]) -> Optional[str]:
    """Open or update the user's escalation; returns its id, or None when the database is unavailable."""
    url = settings().database_url
    try:
        _migrated(url)
        with transaction(url) as session:
            escalation = EscalationRepository(session).record_detection(
                user_id(tracker), channel=_channel(tracker), language=tracker.get_slot("language") or "en",
                country=country, risk_level=level, reasons=reasons,
            )
            escalation.conversation_id = tracker.sender_id
            return escalation.id
    except SQLAlchemyError as error:
        logger.error("escalation not stored (database unavailable): %s", type(error).__name__)
        return None


def update_escalation(tracker: Tracker, **changes: Any) -> Optional[str]:
    """Apply ``changes`` to this conversation's escalation, creating it if an earlier write failed."""
    url = settings().database_url
    try:
        _migrated(url)
        with transaction(url) as session:
            repository = EscalationRepository(session, configured_targets(settings()), settings().public_url)
            escalation = repository.get(tracker.get_slot("escalation_id") or "") or repository.active_for(
                user_id(tracker)
            )
            if escalation is None:
                escalation = repository.record_detection(
                    user_id(tracker), channel=_channel(tracker), language=tracker.get_slot("language") or "en",
                    country=tracker.get_slot("country"), risk_level=tracker.get_slot("risk_level") or "moderate",
                    reasons=["intent"],
                )
            if "risk_level" in changes:
                changes["risk_level"] = risk.higher(escalation.risk_level, changes["risk_level"])
            if changes.get("status") == "pending":  # what the counsellor reads first
                changes.update(conversation_id=tracker.sender_id, transcript=transcript(tracker))
            repository.update(escalation, **changes)
            return escalation.id
    except SQLAlchemyError as error:
        logger.error("escalation not updated (database unavailable): %s", type(error).__name__)
        return None


def record_handoff_answer(tracker: Tracker, keep_waiting: bool) -> None:
    """The person's answer to "keep waiting for a counsellor?": recorded; "no" marks the handoff timed out."""
    url = settings().database_url
    try:
        _migrated(url)
        with transaction(url) as session:
            repository = EscalationRepository(session)
            escalation = repository.get(tracker.get_slot("escalation_id") or "") or repository.active_for(
                user_id(tracker))
            if escalation is None or escalation.status != "pending":
                return
            if keep_waiting:
                repository.record(escalation, "person", "keeps_waiting")
            else:
                repository.update(escalation, actor="person", status="timed_out")
    except SQLAlchemyError as error:
        logger.error("handoff answer not stored (database unavailable): %s", type(error).__name__)


def transcript(tracker: Tracker, limit: Optional[int] = None) -> list[dict[str, Any]]:
    """The conversation's last user and bot messages (user text redacted), for the counsellor."""
    from bot.handoff.config import load
    from bot.privacy.redact import redact_text

    limit = limit or load(settings().handoff_file).transcript_messages
    out: list[dict[str, Any]] = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            text = str(event["text"])
            if event["event"] == "user":
                if text.startswith("/"):
                    continue
                text = redact_text(text)
            out.append({"from": event["event"], "text": text[:2000], "at": event.get("timestamp")})
    return out[-limit:]


def response_text(domain: DomainDict, name: str, language: Optional[str]) -> Optional[str]:
    """The text of response ``name`` in ``language`` (its English default otherwise)."""
    variations = (domain.get("responses") or {}).get(name) or []
    default = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            default = variation.get("text")
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return variation.get("text")
    return default
