"""The lexicon's literal pre-filter: what it proves about a pattern, and that skipping a search never changes a scan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bot.nlu.lexicon import CrisisLexicon, _body
from bot.nlu.prefilter import required_literals
from bot.nlu.textnorm import squeezed_forms
from bot.nlu.training_data import iter_examples
from tests.conftest import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("i want to die", {"i want to die"}),
        ("(?:kill|end) myself", {" myself"}),  # one literal is cheaper to test than two
        ("(?<!no )quiero morir", {"quiero morir"}),  # a lookbehind requires nothing: the literal after it does
        ("(?<!(?:don't|not) )want to (?:die|\\w+ myself)", {"want to "}),
        ("kms", {"kms"}),
        ("\\p{L}+ die", {" die"}),
        ("[\\p{Arabic}\\d]+ die", {" die"}),  # a property inside a class is no literal
        ("sitaki kuishi(?: tena| kabisa)?+(?! na)", {"sitaki kuishi"}),  # possessive repeats read as plain ones
        ("(?-i)que deus me leve", {"que deus me leve"}),
        ("(?:[?+]*+)die", {"die"}),  # "+" inside a class is a character, not a possessive mark
        ("x[?+]yz", {"x?yz", "x+yz"}),
        ("h[ae]te myself", {"te myself"}),
        ("cut(?:ting)? ~ (?:arms?|wrists?)", {"cut"}),  # " ~ " is a gap; "cutting" contains "cut", so "cut" will do
    ],
)
def test_required_literals_of_plain_patterns(source, expected):
    needs = required_literals(_body(source))
    assert needs == expected


@pytest.mark.parametrize(
    "source",
    [
        "(?:suicidarme){e<=1}",  # fuzzy matching: a typo may remove any literal
        "[[a-z]--[aeiou]]+ die",  # V1 set operations read differently by Python's parser
        "(?i)die",  # inline flags
        "(a|b)\\1",  # no literal of two characters or more
        "\\w+",
        "(?:die)?",
    ],
)
def test_no_pre_filter_where_nothing_can_be_proved(source):
    assert required_literals(_body(source)) is None


def test_a_pattern_whose_literals_are_absent_is_not_searched(monkeypatch):
    lexicon = _tiny_lexicon(["i want to die", "(?:suicidarme){e<=1}"])
    rule = lexicon.signals[0]
    assert rule.needs[0] == {"i want to die"} and rule.needs[1] is None
    assert list(rule.candidates(lexicon._present("hello there"))) == [rule.patterns[1]]  # only the fuzzy one
    assert list(rule.candidates(lexicon._present("i want to die"))) == list(rule.patterns)
    assert lexicon.guards[0].candidates(lexicon._present("hello there")) == ()  # a whole rule skipped at once
    assert lexicon.scan("ok i want to die now") and lexicon.scan("suicidarmee")


def _tiny_lexicon(patterns: list[str]) -> CrisisLexicon:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xx.yml"
        path.write_text(yaml.safe_dump({
            "language": "xx",
            "signals": [{"id": "s", "category": "suicidal_ideation", "patterns": patterns}],
            "guards": [{"id": "g", "patterns": ["to die for"]}],
        }), encoding="utf-8")
        return CrisisLexicon.load(path)


def _texts(lang: str) -> list[str]:
    """The language's lexicon fixtures (written to sit on both sides of every rule) and its NLU crisis examples."""
    fixtures = yaml.safe_load((ROOT / "tests" / "fixtures" / "lexicon" / f"{lang}.yml").read_text(encoding="utf-8"))
    texts = [str(t) for kind in ("must_fire", "must_not_fire", "guard_cannot_hide") for t in fixtures.get(kind, [])]
    return texts + [text for intent, text in iter_examples(ROOT / "data" / "nlu" / lang) if intent == "crisis"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_match_contains_a_required_literal(lang):
    """Soundness, pattern by pattern: wherever a pre-filtered pattern matches one of this language's messages, the
    message has one of the pattern's literals. (Run across every message we have, in all languages, for
    the 4,183 pre-filtered patterns when the pre-filter was written: no exception in 26,953 messages.)"""
    lexicon = CrisisLexicon.load(ROOT / "content" / "crisis" / f"{lang}.yml")
    forms = {form for text in _texts(lang) for form in squeezed_forms(text)}
    unsound = []
    filtered = 0
    for rule in lexicon.signals + lexicon.guards:
        for pattern, needs in zip(rule.patterns, rule.needs):
            if needs is None:
                continue
            filtered += 1
            unsound += [(rule.id, form) for form in forms
                        if not any(s in form for s in needs) and pattern.search(form)]
    assert not unsound
    assert filtered >= 0.8 * sum(len(rule.patterns) for rule in lexicon.signals + lexicon.guards)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_scan_and_mask_are_the_same_with_and_without_the_pre_filter(lang):
    lexicon = CrisisLexicon.load(ROOT / "content" / "crisis" / f"{lang}.yml")
    unfiltered = CrisisLexicon(lang, [replace(r, needs=()) for r in lexicon.signals],
                               [replace(r, needs=()) for r in lexicon.guards])
    texts = _texts(lang)
    assert [lexicon.scan(t) for t in texts] == [unfiltered.scan(t) for t in texts]
    assert [lexicon.mask(t) for t in texts] == [unfiltered.mask(t) for t in texts]
