"""Redaction: phone numbers, e-mail addresses and ID numbers in user text become ``[phone]``, ``[email]``, ``[id]``
(and ``[handle]`` for @usernames) before the text is stored. NLU and crisis detection read the original message;
only what is written to the tracker store and the database is redacted (``bot/privacy/tracker_store.py``).

Every rule runs on every message whatever its language: the language guess can be wrong and people write numbers
from other countries. Digits in other scripts (Arabic-Indic ٠-٩, Extended Arabic-Indic ۰-۹, Devanagari ०-९,
Bengali, full-width) are read as digits. The rules, in order (the first to claim a span wins):

``email``      name@example.org
``iban``       ES91 2100 0418 4502 0005 1332 (two letters, two digits, groups; at least 10 digits)
``es_dni``     12345678Z — Spanish DNI (8 digits and the control letter)
``es_nie``     X1234567L — Spanish NIE
``in_pan``     ABCDE1234F — Indian PAN
``mx_curp``    GODE561231HDFRRN09 — Mexican CURP
``br_cnpj``    12.345.678/0001-95 — Brazilian CNPJ
``alnum_id``   A12345678 — one or two letters and 6-9 digits (passports, Kenyan ID variants)
``handle``     @someone — social-media handles
``number``     any run of 7 or more digits, allowing single spaces, dots, hyphens and brackets between groups,
               labelled by shape: ``[phone]`` for +/00 international numbers and the national formats of
               the countries we serve (Kenya 07xx/01xx, Tanzania 06xx/07xx, India 10 digits from 6-9, Brazil
               (11) 91234-5678, Spain/Portugal 9 digits, France 0x xx xx xx xx, Egypt 01x, Lebanon 03/7x/81,
               Senegal 7x, Mozambique 8x, Mexico 10 digits) and ``[id]`` for the rest (Aadhaar-like 12 digits,
               CPF 123.456.789-09, Kenyan ID, Egyptian national ID...). Dates (24.11.2026, 2026-11-24), decimals
               (3.14159265) and numbers of fewer than 7 digits (a mood "3", an age, a six-digit short code) are kept.

Settings (``bot/settings.py``, privacy block): ``AMANI_REDACTION_ENABLED`` (off: nothing is redacted),
``AMANI_REDACTION_PATTERNS`` (JSON ``{"name": "regex"}``: extra rules, run first, placeholder ``[name]``),
``AMANI_REDACTION_DISABLED_RULES`` (JSON list of the rule names above).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Optional

# length-preserving: every digit of another script becomes one ASCII digit, so spans map back 1:1
_DIGIT_BLOCKS = (0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10, 0x07C0, 0x0A66, 0x0AE6, 0x0BE6)
_DIGITS = {block + i: str(i) for block in _DIGIT_BLOCKS for i in range(10)}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")

_A = r"(?<![0-9A-Za-z])"  # not glued to a Latin letter or a digit before...
_Z = r"(?![0-9A-Za-z])"  # ...or after
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKEtrwagmyfpdxbnjzsqvhlcke"
# a hexadecimal identifier (uuid4().hex, a hyphenated UUID, a hash) that holds at least one letter a-f is not a
# number, even when it starts with a run of digits: "16124426d12d4f89..." must not lose its head in a log line
_HEX_ID = (r"(?!(?=[0-9a-fA-F\-]*[a-fA-F])(?:[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})"
           + _Z + ")")
_NUMBER = re.compile(_A + _HEX_ID + r"(?:\+|00)?\(?\d+\)?(?:(?:[ \u00a0.\-]\(?|\()" + _HEX_ID + r"\d+\)?)*")
_DATE = re.compile(r"^(?:\d{1,2}[.\-]\d{1,2}[.\-](?:\d{2}|\d{4})|\d{4}[.\-]\d{1,2}[.\-]\d{1,2})$")
_DECIMAL = re.compile(r"^\d{1,2}\.\d+$")  # 3.14159265, the seconds of a timestamp (07.975123)
_CPF = re.compile(r"^\d{3}\.\d{3}\.\d{3}-\d{2}$")
_AADHAAR = re.compile(r"^[2-9]\d{3}[ \u00a0\-]\d{4}[ \u00a0\-]\d{4}$")
# national phone formats (digits only, after the shape checks): see the module docstring
_PHONE_FORMATS = re.compile(
    r"^(?:"
    r"0\d{7,10}"  # trunk prefix 0: KE/TZ 07xx, 01xx, 06xx; FR 0x; EG 01x; IN 0 + 10; LB 03/07/081
    r"|[6-9]\d{9}"  # India mobile
    r"|[1-9]\d9\d{8}|[1-9]\d[2-5]\d{7}"  # Brazil (DD) 9xxxx-xxxx / (DD) xxxx-xxxx
    r"|[2-9]\d{8}"  # Spain / Portugal / Senegal 7x / Mozambique 8x (9 digits)
    r"|[1-9]\d{9}"  # Mexico and other 10-digit plans
    r"|(?:3|7[016-9]|81)\d{6}"  # Lebanon without the 0
    r"|(?:254|255|91|55|34|33|20|961|221|258|52|351|44|1)\d{7,10}"  # a country code written without +
    r")$"
)


@dataclass(frozen=True)
class Rule:
    """One redaction rule: what it matches and the placeholder kind (``[kind]``)."""

    name: str
    kind: str
    pattern: re.Pattern
    check: Optional[Callable[[str], Optional[str]]] = None  # matched text → kind, or None to keep it


@dataclass(frozen=True)
class Span:
    """A redacted span of the original text."""

    start: int
    end: int
    kind: str


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _iban(match: str) -> Optional[str]:
    return "id" if len(_digits(match)) >= 10 else None


def _cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    for n in (9, 10):
        total = sum(int(d) * w for d, w in zip(digits[:n], range(n + 1, 1, -1)))
        if (total * 10 % 11) % 10 != int(digits[n]):
            return False
    return True


def classify_number(candidate: str) -> Optional[str]:
    """``phone``, ``id`` or None (keep) for a run of digits with separators."""
    shape = candidate.strip()
    digits = _digits(shape)
    if len(digits) < 7 or _DATE.match(shape) or _DECIMAL.match(shape):
        return None
    if shape.startswith("+") or (shape.startswith("00") and len(digits) >= 10):
        return "phone" if len(digits) <= 15 else "id"
    if _CPF.match(shape) or _AADHAAR.match(shape) or _cpf_valid(digits):
        return "id"
    if len(digits) == 12 and digits[0] in "23456789" and not digits.startswith(("254", "255", "55", "34", "33",
                                                                                  "20", "221", "258", "52", "351",
                                                                                  "44", "91")):
        return "id"  # Aadhaar-like
    if 8 <= len(digits) <= 13 and _PHONE_FORMATS.match(digits):
        return "phone"
    return "id"


def _number(match: str) -> Optional[str]:
    return classify_number(match)


BUILTIN_RULES: tuple[Rule, ...] = (
    Rule("email", "email", re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")),
    Rule("iban", "id", re.compile(_A + r"[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?" + _Z), _iban),
    Rule("es_dni", "id", re.compile(_A + r"\d{8}[ \-]?[" + _DNI_LETTERS + "]" + _Z)),
    Rule("es_nie", "id", re.compile(_A + r"[XYZxyz][ \-]?\d{7}[ \-]?[" + _DNI_LETTERS + "]" + _Z)),
    Rule("in_pan", "id", re.compile(_A + r"[A-Z]{5}\d{4}[A-Z]" + _Z)),
    Rule("mx_curp", "id", re.compile(_A + r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[A-Z0-9]\d" + _Z, re.IGNORECASE)),
    Rule("br_cnpj", "id", re.compile(_A + r"\d{2}\.?\d{3}\.?\d{3}/\d{4}-?\d{2}" + _Z)),
    Rule("alnum_id", "id", re.compile(_A + r"[A-Za-z]{1,2}\d{6,9}" + _Z)),
    Rule("handle", "handle", re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_])" + _Z)),
    Rule("number", "number", _NUMBER, _number),
)
RULE_NAMES = tuple(rule.name for rule in BUILTIN_RULES)


class Redactor:
    """Finds and replaces personal identifiers in a text."""

    def __init__(self, enabled: bool = True, extra: Optional[Mapping[str, str]] = None,
                 disabled: Iterable[str] = ()) -> None:
        unknown = set(disabled) - set(RULE_NAMES)
        if unknown:
            raise ValueError(f"unknown redaction rules {sorted(unknown)}; known: {', '.join(RULE_NAMES)}")
        custom = []
        for name, source in (extra or {}).items():
            if not _NAME.match(name):
                raise ValueError(f"redaction pattern name {name!r}: use lower-case letters, digits and _")
            try:
                custom.append(Rule(name, name, re.compile(source)))
            except re.error as error:
                raise ValueError(f"redaction pattern {name!r} is not a valid regular expression: {error}") from None
        self.enabled = enabled
        self.rules = tuple(custom) + tuple(r for r in BUILTIN_RULES if r.name not in set(disabled))
        self._needs_scan = bool(custom)

    @classmethod
    def from_settings(cls, settings: Any) -> "Redactor":
        """The redactor the settings describe."""
        return cls(settings.redaction_enabled, settings.redaction_patterns, settings.redaction_disabled_rules)

    def spans(self, text: str) -> list[Span]:
        """The spans to redact, in order, not overlapping."""
        if not self.enabled or not text or (not self._needs_scan and "@" not in text
                                            and not any(ch.isdigit() for ch in text)):
            return []
        normalised = text.translate(_DIGITS)
        taken: list[Span] = []
        for rule in self.rules:
            for match in rule.pattern.finditer(normalised):
                start, end = match.span()
                if start == end or any(start < s.end and s.start < end for s in taken):
                    continue
                kind = rule.check(match.group()) if rule.check else rule.kind
                if kind:
                    taken.append(Span(start, end, kind))
        return sorted(taken, key=lambda s: s.start)

    def redact(self, text: str) -> str:
        """``text`` with every span replaced by its placeholder."""
        return apply(text, self.spans(text))


def apply(text: str, spans: list[Span]) -> str:
    """Replace ``spans`` (from ``Redactor.spans(text)``) in ``text``."""
    if not spans:
        return text
    out, last = [], 0
    for span in spans:
        out.append(text[last:span.start])
        out.append(f"[{span.kind}]")
        last = span.end
    out.append(text[last:])
    return "".join(out)


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """The redactor of this process's settings."""
    from bot.settings import get_settings

    return Redactor.from_settings(get_settings())


def redact_text(text: str) -> str:
    """``text`` redacted with this process's settings (for anything about to be stored)."""
    return default_redactor().redact(text)
