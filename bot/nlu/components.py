"""Custom Rasa NLU components."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

import spacy
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.textnorm import normalise


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class BlankSpacyTokenizer(Tokenizer):
    """Tokenises with spaCy's rule-based ``spacy.blank(language)`` (no downloaded pipeline).

    Token texts are normalised (lower case, accents and Arabic letter variants folded) so that people who type
    without accents are understood; entity values still come from the original text through token offsets.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The language code for ``spacy.blank`` ("xx" for languages spaCy has no class for)."""
        return {
            "language": "xx",
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._nlp = spacy.blank(config["language"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "BlankSpacyTokenizer":
        """Create the component (see the parent class)."""
        return cls(config)

    @staticmethod
    def not_supported_languages() -> Optional[List[Text]]:
        """Every language with a spaCy class, or "xx", works."""
        return None

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Split ``message[attribute]`` into normalised tokens, dropping punctuation and spaces."""
        text = message.get(attribute)
        tokens = [
            Token(normalise(t.text), t.idx, t.idx + len(t.text))
            for t in self._nlp.make_doc(text)
            if not (t.is_punct or t.is_space) and normalise(t.text)
        ]
        if not tokens:  # a message of only emoji or punctuation is still one token
            tokens = [Token(text, 0)]
        return self._apply_token_pattern(tokens)
