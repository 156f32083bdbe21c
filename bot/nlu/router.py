"""The language router: chooses a per-language NLU pipeline for each message and runs the crisis layer.

Plugged into Rasa as the agent's ``http_interpreter`` (any object with ``async parse(UserMessage) -> dict``).
Order of decisions (``language_source`` in the parse result):

1. ``explicit``     a change-language request: a ``/language xx`` command, a button payload, or the
                    ``change_language`` intent naming a language;
2. ``conversation`` the conversation's current language (sticky: "ok", "👍", "3" never flip it). Only a confident
                    identification of another supported language in a message of two or more words switches
                    (``autodetect``); a confident one-word message in another language ("gracias") is read by that
                    language's NLU but answered in the conversation's language;
3. ``channel``      the channel's hint (``metadata.language``, e.g. Telegram's ``language_code``), unless the text
                    itself is confidently in another supported language;
4. ``autodetect``   automatic identification above a confidence threshold;
5. ``default``      the registry's default language.
A message confidently identified as a language we do not serve gets the ``unsupported_language`` intent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional, Protocol

import regex

from bot.languages import LanguageRegistry
from bot.nlu.crisis import CRISIS_INTENT, CrisisDetector
from bot.nlu.entities import EntityNormaliser
from bot.nlu.langid import Guess, LanguageIdentifier
from bot.safety import countries

logger = logging.getLogger(__name__)

ROUTER_ENTITIES = ("language", "country", "crisis_reason", "crisis_category")
MAX_NLU_CHARS = 1000  # long posts are classified on their start; the crisis layer always reads all of it
# the pipelines' FallbackClassifier threshold (config/nlu/<lang>.yml): a demoted crisis intent is replaced by the next
# intent only when that one is at least this sure, else by nlu_fallback (a clarifying question)
DEMOTED_FALLBACK_THRESHOLD = 0.3
_PAYLOAD = regex.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", regex.DOTALL)
_COMMAND = regex.compile(r"^/(?P<command>[a-z]+)(?:@\w+)?(?:\s+(?P<arg>\S+))?\s*$", regex.IGNORECASE)
COMMANDS = {"start": "greet", "help": "ask_capabilities", "language": "change_language", "privacy": "ask_privacy",
            "delete": "delete_data", "stop": "stop"}


class Parser(Protocol):
    """One language's NLU: text in, Rasa parse data out."""

    async def parse_message(self, message_data: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Route:
    """The language chosen for a message and why."""

    language: str
    source: str
    unsupported: Optional[str] = None
    nlu_language: Optional[str] = None  # a one-word reply in another language is read by that language's NLU

    @property
    def parser_language(self) -> str:
        """The language whose NLU reads the message."""
        return self.nlu_language or self.language


class LanguageRouter:
    """Route each message to its language's NLU, then apply the crisis layer."""

    def __init__(
        self,
        registry: LanguageRegistry,
        identifier: LanguageIdentifier,
        parsers: Mapping[str, Parser],
        crisis: CrisisDetector,
        min_confidence: float = 0.55,
        switch_confidence: float = 0.8,
        language_lookup: Optional[Callable[[str], Awaitable[Optional[str]]]] = None,
        known_intents: Optional[set[str]] = None,
        entity_normaliser: Optional[EntityNormaliser] = None,
    ) -> None:
        self.registry = registry
        self.identifier = identifier
        self.parsers = dict(parsers)
        self.crisis = crisis
        self.min_confidence = min_confidence
        self.switch_confidence = switch_confidence
        self.language_lookup = language_lookup
        self.known_intents = known_intents
        self.entity_normaliser = entity_normaliser
        # called with (sender id, parse result) for every crisis message, e.g. by the handoff while a counsellor
        # has the conversation and the bot is paused (bot/server.py)
        self.crisis_listeners: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []

    async def parse(self, message: Any) -> dict[str, Any]:
        """Rasa's interpreter interface: parse a ``UserMessage``."""
        current = None
        if self.language_lookup is not None and message.sender_id:
            current = await self.language_lookup(message.sender_id)
        result = await self.parse_text(message.text or "", metadata=message.metadata, current=current)
        if result.get("crisis") and message.sender_id:
            for listener in self.crisis_listeners:
                try:
                    await listener(message.sender_id, result)
                except Exception as error:  # noqa: BLE001 - a listener must never stop the reply
                    logger.error("crisis listener failed: %s", type(error).__name__)
        return result

    async def parse_text(
        self,
        text: str,
        metadata: Optional[Mapping[str, Any]] = None,
        current: Optional[str] = None,
        explicit: Optional[str] = None,
    ) -> dict[str, Any]:
        """Parse ``text`` given the conversation's current language and the channel's metadata."""
        metadata = metadata or {}
        current = self.registry.supported(current)
        stripped = text.strip()
        payload = self._payload(stripped) or scale_answer(stripped)
        if payload is not None:
            # a button or command has no language of its own: the conversation's, else the channel's hint
            hint = self.registry.supported(metadata.get("language"))
            source = "conversation" if current or explicit else "channel" if hint else "default"
            route = Route(self.registry.supported(explicit) or current or hint or self.registry.default, source)
            result = payload
        else:
            route = self.route(stripped, current, metadata, explicit)
            parser = self.parsers[route.parser_language]
            result = await parser.parse_message(stripped[:MAX_NLU_CHARS])
            result["text"] = text
            if self.entity_normaliser is not None:
                result["entities"] = self.entity_normaliser.apply(
                    route.parser_language, result.get("entities") or [], (result.get("intent") or {}).get("name"),
                    stripped[:MAX_NLU_CHARS],
                )
        intent = (result.get("intent") or {}).get("name")
        if intent == "change_language":
            named = self._requested_language(result, stripped)
            if named:
                route = Route(named, "explicit")
            else:
                result["intent"] = {"name": "choose_language", "confidence": 1.0}
        # a model reading a language it does not know says nothing reliable: there only the lexicons count
        reasons = self.crisis.scan(text, route.language) if route.unsupported else self.crisis.detect(
            text, route.language, result, nlu_text=stripped[:MAX_NLU_CHARS]
        )
        if reasons and payload is None and not route.unsupported and not any(r.startswith("lexicon:") for r in reasons):
            reasons = await self._recheck_without_guarded_phrases(text, route, reasons)
        if reasons:
            result["intent"] = {"name": CRISIS_INTENT, "confidence": 1.0}
        elif route.unsupported:
            result["intent"] = {"name": "unsupported_language", "confidence": 1.0}
        elif (result.get("intent") or {}).get("name") == CRISIS_INTENT:
            demote_crisis_intent(result)
        entities = [
            e for e in result.get("entities") or []
            if e.get("entity") not in ROUTER_ENTITIES or (e["entity"] == "country" and e.get("extractor") == "payload")
        ]
        entities.append({"entity": "language", "value": route.language, "extractor": "LanguageRouter"})
        categories = self.crisis.categories(reasons)
        # entities survive into the tracker (custom parse keys do not), so the action server sees why
        entities += [{"entity": "crisis_reason", "value": r, "extractor": "LanguageRouter"} for r in reasons]
        entities += [{"entity": "crisis_category", "value": c, "extractor": "LanguageRouter"} for c in categories]
        country = countries.from_metadata(metadata)
        if country and not any(e.get("entity") == "country" for e in entities):
            entities.append({"entity": "country", "value": country, "extractor": "LanguageRouter"})
        result.update(
            entities=entities,
            language=route.language,
            language_source=route.source,
            unsupported_language=route.unsupported,
            crisis=bool(reasons),
            crisis_reasons=reasons,
            crisis_categories=categories,
        )
        return result

    async def _recheck_without_guarded_phrases(self, text: str, route: Route, reasons: list[str]) -> list[str]:
        """Only a model layer fired, and a lexicon guard matched ("me muero de risa", "used to self-harm, clean
        for 2 years"): the models read the message again without the guarded phrase. What remains still counts."""
        masked = self.crisis.masked(text, route.language)
        if masked is None:
            return reasons
        if len(masked.split()) < 2:
            return []
        reparsed = await self.parsers[route.parser_language].parse_message(masked[:MAX_NLU_CHARS])
        return self.crisis.detect(masked, route.language, reparsed, nlu_text=masked[:MAX_NLU_CHARS])

    def route(
        self, text: str, current: Optional[str], metadata: Mapping[str, Any], explicit: Optional[str] = None
    ) -> Route:
        """Choose the language for ``text`` (see the module docstring for the order)."""
        chosen = self.registry.supported(explicit)
        if chosen:
            return Route(chosen, "explicit")
        guess = self.identifier.identify(text) if text else Guess(None, 0.0)
        confident_other = (
            guess.language is not None and guess.confidence >= self.switch_confidence
        )
        if guess.unsupported and guess.words >= 3:
            return Route(current or self.registry.default, "autodetect", unsupported=guess.unsupported)
        if current:
            if confident_other and guess.language != current:
                if guess.words >= 2:
                    return Route(guess.language, "autodetect")
                return Route(current, "conversation", nlu_language=guess.language)
            return Route(current, "conversation")
        hint = self.registry.supported(metadata.get("language"))
        if hint:
            if confident_other and guess.language != hint:
                return Route(guess.language, "autodetect")
            return Route(hint, "channel")
        if guess.language and guess.confidence >= self.min_confidence:
            return Route(guess.language, "autodetect")
        if guess.unsupported:
            return Route(self.registry.default, "autodetect", unsupported=guess.unsupported)
        return Route(self.registry.default, "default")

    def _requested_language(self, result: Mapping[str, Any], text: str) -> Optional[str]:
        for entity in result.get("entities") or []:
            if entity.get("entity") == "language" and entity.get("extractor") != "LanguageRouter":
                named = self.registry.supported(entity.get("value"))
                if named:
                    return named
        return self.registry.named_language(text)

    def _payload(self, text: str) -> Optional[dict[str, Any]]:
        """Button payloads (``/intent{"entity": "value"}``) and chat commands (``/language es``)."""
        match = _PAYLOAD.match(text)
        entities: list[dict[str, Any]] = []
        if match and (self.known_intents is None or match["intent"] in self.known_intents):
            intent = match["intent"]
            if match["entities"]:
                try:
                    values = json.loads(match["entities"])
                except ValueError:
                    return None
                if not isinstance(values, dict):
                    return None
                entities = [{"entity": str(k), "value": v, "extractor": "payload"} for k, v in values.items()]
        else:
            command = _COMMAND.match(text)
            if not command or command["command"].lower() not in COMMANDS:
                return None
            intent = COMMANDS[command["command"].lower()]
            if command["arg"]:
                entities = [{"entity": "language", "value": command["arg"], "extractor": "payload"}]
        return {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": entities,
        }


_SCALE_FACES = {"😞": 1, "🙁": 2, "☹️": 2, "☹": 2, "😐": 3, "🙂": 4, "😊": 4, "😄": 5, "😁": 5}
_SCALE_NUMBER = regex.compile(r"^([1-5])(?:\s*/\s*5)?$")


def scale_answer(text: str) -> Optional[dict[str, Any]]:
    """A bare 1-5 (or "3/5") or one face of the mood scale is a mood rating in any language."""
    match = _SCALE_NUMBER.match(text)
    score = int(match.group(1)) if match else _SCALE_FACES.get(text)
    if score is None:
        return None
    return {
        "text": text,
        "intent": {"name": "rate_mood", "confidence": 1.0},
        "entities": [{"entity": "mood_score", "value": str(score), "extractor": "ScaleAnswer"}],
        "intent_ranking": [{"name": "rate_mood", "confidence": 1.0}],
    }


def demote_crisis_intent(result: dict[str, Any]) -> None:
    """The classifier ranked ``crisis`` first but the crisis layer (lexicons and the models' joint vote) did not
    fire: the crisis layer decides, so the dialogue must not see a crisis intent ("train phir late hai yaar" had
    crisis at 0.35 and started the crisis flow). The next intent takes its place if it is sure enough, else
    ``nlu_fallback``; crisis leaves the ranking."""
    ranking = [i for i in result.get("intent_ranking") or [] if i.get("name") != CRISIS_INTENT]
    runner_up = next((i for i in ranking if i.get("name") != "nlu_fallback"), None)
    if runner_up is not None and float(runner_up.get("confidence") or 0) >= DEMOTED_FALLBACK_THRESHOLD:
        result["intent"] = dict(runner_up)
    else:
        result["intent"] = {"name": "nlu_fallback", "confidence": float((runner_up or {}).get("confidence") or 0)}
    result["intent_ranking"] = ranking
