"""Text normalisation shared by the crisis lexicon and the language router."""

from __future__ import annotations

import unicodedata

import regex

_ARABIC_DIACRITICS = regex.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")  # harakat, dagger alef, tatweel
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_REPEATS_3 = regex.compile(r"(\p{L})\1{2,}")
_SPACE = regex.compile(r"\s+")
_SMART_QUOTES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "“": '"', "”": '"'})


def _strip_latin_accents(text: str) -> str:
    """Remove combining marks that sit on Latin letters only (Devanagari vowel signs must stay)."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn" and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def normalise(text: str) -> str:
    """Lower-case, fold accents and Arabic letter variants, collapse white space."""
    text = unicodedata.normalize("NFKC", text).translate(_SMART_QUOTES).lower()
    text = _strip_latin_accents(text)
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)
    return _SPACE.sub(" ", text).strip()


def squeezed_forms(text: str) -> tuple[str, ...]:
    """The normalised text with letters stretched 3+ times cut to two, and to one ("diee", "die")."""
    base = normalise(text)
    two = _REPEATS_3.sub(r"\1\1", base)
    one = _REPEATS_3.sub(r"\1", base)
    return (two,) if two == one else (two, one)
