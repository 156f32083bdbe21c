"""Which country a person is in: from their answer (country names in every language, via Babel/CLDR), the channel's
``metadata.country``, a locale such as ``pt-BR``, or a phone number's calling code."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import regex
import yaml
from babel import Locale, UnknownLocaleError

from bot.nlu.textnorm import normalise

_ALPHA2 = regex.compile(r"^[A-Z]{2}$")
_LOCALE = regex.compile(r"^[a-zA-Z]{2,3}[-_](?P<region>[a-zA-Z]{2})\b")
NOT_COUNTRIES = {"EU", "UN", "EZ", "XK", "ZZ", "QO", "XA", "XB"}


class CountryNames:
    """Country names in the given languages (plus English and configured aliases) → ISO alpha-2 code."""

    def __init__(self, languages: Iterable[str], aliases: Optional[Mapping[str, list[str]]] = None) -> None:
        names: dict[str, str] = {}
        for lang in {"en", *languages}:
            try:
                territories = Locale.parse(lang).territories
            except (UnknownLocaleError, ValueError):
                continue
            for code, name in territories.items():
                if _ALPHA2.match(code) and code not in NOT_COUNTRIES:
                    names.setdefault(normalise(name), code)
                    # "Kenya", "the Kenya"? no; but strip bracketed parts such as "Congo (Kinshasa)"
                    short = regex.sub(r"\s*\(.*?\)", "", name)
                    names.setdefault(normalise(short), code)
        for code, extra in (aliases or {}).items():
            for name in extra:
                names[normalise(name)] = code.upper()
        self.names = names
        alternatives = sorted(names, key=len, reverse=True)
        self._pattern = regex.compile(
            r"(?<![\p{L}\p{M}])(?:ال|بال|في)?(" + "|".join(regex.escape(n) for n in alternatives) + r")(?![\p{L}\p{M}])"
        )

    @classmethod
    def load(cls, languages: Iterable[str], path: Path) -> "CountryNames":
        """Names for ``languages`` plus the aliases in ``config/countries.yml``."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(languages, (data or {}).get("aliases") or {})

    def find(self, text: str) -> Optional[str]:
        """The country a short answer names ("I'm in Kenya", "México", "مصر"), or None."""
        folded = normalise(text)
        if _ALPHA2.match(text.strip()):
            code = text.strip().upper()
            return code if code in set(self.names.values()) else None
        match = self._pattern.search(folded)
        return self.names[match.group(1)] if match else None


def from_metadata(metadata: Mapping[str, Any]) -> Optional[str]:
    """A channel's country hint: ``country`` (ISO alpha-2) or a ``locale``/``language`` with a region (``pt-BR``)."""
    country = str(metadata.get("country") or "").strip().upper()
    if _ALPHA2.match(country) and country not in NOT_COUNTRIES:
        return country
    for key in ("locale", "language"):
        match = _LOCALE.match(str(metadata.get(key) or ""))
        if match and match["region"].upper() not in NOT_COUNTRIES:
            return match["region"].upper()
    return None


@lru_cache(maxsize=4)
def country_names(languages: tuple[str, ...], path: str) -> CountryNames:
    """A cached ``CountryNames`` (building the pattern takes ~50 ms)."""
    return CountryNames.load(languages, Path(path))
