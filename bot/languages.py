"""The language registry (``config/languages.yml``): which languages Amani speaks and how people name them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import regex
import yaml

from bot.nlu.textnorm import normalise


@dataclass(frozen=True)
class LanguageRegistry:
    """Supported languages, their scripts, detector names and the words people use to ask for them."""

    default: str
    languages: dict[str, dict]
    aliases: dict[str, list[str]] = field(default_factory=dict)
    probe_languages: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "LanguageRegistry":
        """Read the registry file."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            default=data["default"],
            languages=dict(data["languages"]),
            aliases={k: list(v) for k, v in (data.get("aliases") or {}).items()},
            probe_languages=list(data.get("probe_languages") or []),
        )

    @property
    def codes(self) -> list[str]:
        """Language codes in registry order."""
        return list(self.languages)

    def supported(self, code: Optional[str]) -> Optional[str]:
        """The supported base language for a code or locale ("es-MX" → "es", "pt_BR" → "pt"), else None."""
        if not code:
            return None
        base = str(code).replace("_", "-").split("-")[0].lower()
        return base if base in self.languages else None

    def named_language(self, text: str) -> Optional[str]:
        """The language a message asks for by name ("en español", "switch to english"); the last one named wins."""
        found: list[tuple[int, str]] = []
        folded = normalise(text)
        for code, names in self._alias_patterns().items():
            for pattern in names:
                found.extend((m.start(), code) for m in pattern.finditer(folded))
        return max(found)[1] if found else None

    def _alias_patterns(self) -> dict[str, list[regex.Pattern]]:
        cached = self.__dict__.get("_patterns")
        if cached is None:
            cached = {
                code: [regex.compile(rf"(?<!\w){regex.escape(normalise(n))}(?!\w)") for n in names + [code]]
                for code, names in self.aliases.items()
            }
            object.__setattr__(self, "_patterns", cached)
        return cached
