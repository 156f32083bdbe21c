"""The crisis-line registry: built only from ``content/helplines.yaml`` (a copy of the verified shared registry).

Rules of the registry, applied here: users see only entries whose status is ``confirmed`` with confidence ``high``
or ``medium``; an emergency number is shown only when its own status is ``confirmed``; where a country has no line,
its emergency number (if confirmed) and the international directories are shown. Nothing is ever added to a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Optional

import yaml

USABLE_CONFIDENCE = ("high", "medium")
INTERNATIONAL = "INTL"
DIRECTORIES = ("https://findahelpline.com", "https://www.befrienders.org")
_COMPILED = re.compile(r"compiled (\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Line:
    """One crisis line as shown to a user."""

    service: str
    phones: tuple[str, ...]
    sms: Optional[str]
    url: Optional[str]
    region: Optional[str]
    languages: tuple[str, ...]
    confidence: str

    def render(self) -> str:
        """One bullet line: service, region, numbers, text and web contact (all as the registry writes them)."""
        name = f"{self.service} ({self.region})" if self.region else self.service
        contacts = [*self.phones]
        if self.sms:
            contacts.append(f"SMS: {self.sms}")
        if self.url:
            contacts.append(self.url)
        return f"• {name}: " + " · ".join(contacts)


@dataclass(frozen=True)
class CountryHelp:
    """What we can show for one country."""

    country: str
    lines: tuple[Line, ...] = ()
    emergency: Optional[str] = None

    @property
    def known(self) -> bool:
        """True when there is anything verified to show."""
        return bool(self.lines or self.emergency)


@dataclass
class HelplineRegistry:
    """Verified crisis lines per ISO country code."""

    entries: list[dict[str, Any]]
    compiled: Optional[date] = None
    _by_country: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_country.setdefault(str(entry.get("country", "")).upper(), []).append(entry)

    @classmethod
    def load(cls, path: Path) -> "HelplineRegistry":
        """Read the registry file (a YAML list of entries)."""
        text = path.read_text(encoding="utf-8")
        match = _COMPILED.search(text[:500])
        entries = yaml.safe_load(text) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of helpline entries")
        return cls(entries, date.fromisoformat(match.group(1)) if match else None)

    @property
    def countries(self) -> list[str]:
        """Countries with at least one usable line or a confirmed emergency number."""
        return sorted(c for c in self._by_country if c != INTERNATIONAL and self.for_country(c).known)

    def for_country(self, country: Optional[str], language_name: Optional[str] = None, limit: int = 3) -> CountryHelp:
        """Usable lines for ``country``: lines serving ``language_name`` first, then higher confidence."""
        code = (country or "").upper()
        entries = self._by_country.get(code, []) if code != INTERNATIONAL else []
        lines = [_line(e) for e in entries if usable(e)]
        lines = [line for line in lines if line.phones or line.sms or line.url]

        def rank(line: Line) -> tuple[int, int]:
            speaks = language_name is not None and any(language_name.lower() in x.lower() for x in line.languages)
            return (0 if speaks else 1, USABLE_CONFIDENCE.index(line.confidence))

        lines.sort(key=rank)
        emergency = next(
            (str(e["emergency_number"]["number"]) for e in entries
             if isinstance(e.get("emergency_number"), dict) and e["emergency_number"].get("status") == "confirmed"
             and e["emergency_number"].get("number")),
            None,
        )
        return CountryHelp(code, tuple(lines[:limit]), emergency)


def usable(entry: dict[str, Any]) -> bool:
    """The registry's rule: confirmed, with high or medium confidence."""
    return entry.get("status") == "confirmed" and entry.get("confidence") in USABLE_CONFIDENCE


def _line(entry: dict[str, Any]) -> Line:
    phone = entry.get("phone")
    phones = tuple(str(p) for p in phone) if isinstance(phone, list) else ((str(phone),) if phone else ())
    url = entry.get("chat_url")
    url = str(url).split(" ")[0] if url and str(url).startswith("http") else None
    return Line(
        service=str(entry.get("service", "")).strip(),
        phones=phones,
        sms=str(entry["sms"]) if entry.get("sms") else None,
        url=url,
        region=str(entry["region"]) if entry.get("region") else None,
        languages=tuple(str(x) for x in entry.get("languages") or ()),
        confidence=str(entry.get("confidence")),
    )
