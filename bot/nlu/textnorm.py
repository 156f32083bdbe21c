"""Text normalisation shared by the crisis lexicon and the language router."""

from __future__ import annotations

import unicodedata

import regex

_ARABIC_DIACRITICS = regex.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")  # harakat, dagger alef, tatweel
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_REPEATS_3 = regex.compile(r"(\p{L})\1{2,}")
_SPACE = regex.compile(r"\s+")
# filter evasion: letters written as digits or split by dots ("tu3r", "k1ll", "s.u.i.c.i.d.e", "الا.ن.ت.ح.ا.ر",
# "انت7ر" with Arabizi 7 for ح); the de-obfuscated form is scanned in addition to the plain ones
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_ARABIZI_IN_ARABIC = str.maketrans({"2": "ء", "3": "ع", "5": "خ", "6": "ط", "7": "ح", "8": "غ", "9": "ق"})
_LATIN_MIXED = regex.compile(r"(?<![\p{L}\d@$!])(?=[a-z@$!\d]*[a-z])(?=[a-z@$!\d]*(?:[\d@$]|![a-z]))"
                             r"[a-z@$!\d]*[a-z][a-z@$!\d]*(?![\p{L}\d])")
_ARABIC_MIXED = regex.compile(r"[\p{Arabic}\d]*\p{Arabic}\d[\p{Arabic}\d]*|[\p{Arabic}\d]*\d\p{Arabic}[\p{Arabic}\d]*")
_SPLIT_WORD = regex.compile(r"(?<![\p{L}.\-_*·•])\p{L}{1,3}(?:[.\-_*·•]\p{L}){2,}(?![\p{L}])")
_SPLITTERS = regex.compile(r"[.\-_*·•]")
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


def deobfuscate(text: str) -> str:
    """Normalised ``text`` with filter-evading spellings undone: single letters split by dots or dashes joined
    ("s.u.i.c.i.d.e" → "suicide"), digits and symbols inside Latin words read as letters ("tu3r" → "tuer",
    "k1ll" → "kill") and Arabizi digits inside Arabic words read as Arabic letters ("انت7ر" → "انتحر").
    Whole numbers ("2019", "24/7") and words without a letter are left alone."""
    text = _SPLIT_WORD.sub(lambda m: _SPLITTERS.sub("", m.group()), text)
    text = _LATIN_MIXED.sub(lambda m: m.group().translate(_LEET), text)
    return _ARABIC_MIXED.sub(lambda m: m.group().translate(_ARABIZI_IN_ARABIC), text)


def squeezed_forms(text: str) -> tuple[str, ...]:
    """The normalised text with letters stretched 3+ times cut to two, and to one ("diee", "die"), and its
    de-obfuscated form when that differs (``deobfuscate``)."""
    base = normalise(text)
    two = _REPEATS_3.sub(r"\1\1", base)
    one = _REPEATS_3.sub(r"\1", base)
    forms = [two] if two == one else [two, one]
    clear = deobfuscate(two)
    if clear != two:
        forms.append(_REPEATS_3.sub(r"\1", clear))
    return tuple(forms)
