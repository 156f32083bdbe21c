"""The crisis lexicons: per-language test cases written with them, and the guard rule that keeps real signals."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex
import yaml

from bot.nlu.crisis import CrisisDetector
from bot.nlu.lexicon import CrisisLexicon, LexiconError
from bot.nlu.textnorm import deobfuscate, normalise
from tests.conftest import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


def lexicon(lang: str) -> CrisisLexicon:
    return CrisisLexicon.load(ROOT / "content" / "crisis" / f"{lang}.yml")


def cases(lang: str, kind: str) -> list[str]:
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "lexicon" / f"{lang}.yml").read_text(encoding="utf-8"))
    return data[kind]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_a_lexicon_with_guards(lang):
    lex = lexicon(lang)
    assert lex.language == lang
    assert sum(len(rule.patterns) for rule in lex.signals) >= 20 and lex.guards
    categories = {rule.category for rule in lex.signals}
    assert {"suicidal_ideation", "self_harm", "child_abuse"} <= categories


@pytest.mark.parametrize("lang", LANGUAGES)
def test_crisis_messages_fire(lang):
    lex = lexicon(lang)
    missed = [text for text in cases(lang, "must_fire") if not lex.scan(text)]
    assert not missed


@pytest.mark.parametrize("lang", LANGUAGES)
def test_figurative_and_everyday_messages_do_not_fire(lang):
    lex = lexicon(lang)
    fired = {text: [h.rule_id for h in lex.scan(text)] for text in cases(lang, "must_not_fire")}
    assert not {t: r for t, r in fired.items() if r}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_guard_never_hides_a_real_signal_in_the_same_message(lang):
    lex = lexicon(lang)
    hidden = [text for text in cases(lang, "guard_cannot_hide") if not lex.scan(text)]
    assert not hidden


def test_guard_only_removes_the_match_it_covers(tmp_path):
    path = tmp_path / "xx.yml"
    path.write_text(
        "language: xx\n"
        "signals:\n"
        "  - {id: die, category: suicidal_ideation, patterns: ['want to die', 'killing me']}\n"
        "guards:\n"
        "  - {id: homework, patterns: ['homework is killing me']}\n",
        encoding="utf-8",
    )
    lex = CrisisLexicon.load(path)
    assert lex.scan("this homework is killing me") == []
    assert [h.rule_id for h in lex.scan("this homework is killing me and i want to die")] == ["die"]
    assert [h.rule_id for h in lex.scan("homework is killing me. no really, it's killing me")] == ["die"]


def test_normalisation_accents_stretching_and_gap_macro(tmp_path):
    path = tmp_path / "xx.yml"
    path.write_text(
        "language: xx\nsignals:\n  - {id: m, category: suicidal_ideation, patterns: ['quiero ~ morir', 'die']}\n",
        encoding="utf-8",
    )
    lex = CrisisLexicon.load(path)
    assert lex.scan("QUIERO de verdad MORÍR")
    assert lex.scan("i just want to dieeeee")
    assert not lex.scan("quiero comer y luego dormir y no morir")
    assert not lex.scan("diet coke please")
    assert CrisisLexicon.load(path).signals[0].patterns[0].flags & regex.IGNORECASE == 0


def test_escapes_and_classes_are_not_upper_case_letters(tmp_path):
    path = tmp_path / "xx.yml"
    path.write_text("language: xx\nsignals:\n  - {id: m, category: self_harm, patterns: ['cut\\W+\\p{L}+ ~ \\S+']}\n",
                    encoding="utf-8")
    assert CrisisLexicon.load(path).scan("cut, myself deep")


@pytest.mark.parametrize(
    "body,problem",
    [
        ("language: xx\nsignals:\n  - {id: a, category: nonsense, patterns: ['x']}\n", "unknown category"),
        ("language: xx\nsignals:\n  - {id: a, category: self_harm, patterns: ['(unclosed']}\n", "does not compile"),
        ("signals: []\n", "needs a top-level 'language'"),
        ("language: xx\nsignals:\n  - {id: a, category: self_harm}\n", "needs an 'id'"),
        ("language: xx\nsignals:\n  - {id: a, category: self_harm, patterns: ['Cut myself']}\n", "upper-case"),
    ],
)
def test_bad_lexicon_files_are_reported_with_file_and_line(tmp_path, body, problem):
    path = tmp_path / "bad.yml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        CrisisLexicon.load(path)
    assert problem in str(err.value)
    assert str(err.value).startswith(f"{path}:")


@pytest.mark.parametrize("text, clear", [
    ("je veux me tu3r", "je veux me tuer"),
    ("k1ll mys3lf", "kill myself"),
    ("i want to d!e", "i want to die"),
    ("hello! how are you!!", "hello! how are you!!"),
    ("thinking about s.u.i.c.i.d.e", "thinking about suicide"),
    ("بفكر في الا.ن.ت.ح.ا.ر", "بفكر في الانتحار"),
    ("انت7ر", "انتحر"),
    ("in 2019 i was 17", "in 2019 i was 17"),  # numbers stay numbers
    ("see you at 10.30", "see you at 10.30"),
])
def test_deobfuscation_undoes_filter_evasion_and_keeps_numbers(text, clear):
    assert deobfuscate(normalise(text)) == clear


@pytest.mark.parametrize("lang, text", [
    ("en", "i want to k1ll mys3lf"), ("en", "been thinking about s.u.i.c.i.d.e"), ("fr", "je veux me tu3r"),
    ("es", "quiero m0rirme"), ("pt", "quero m0rr3r"), ("ar", "بفكر في الا.ن.ت.ح.ا.ر"), ("hi", "mujhe m4rna hai"),
])
def test_obfuscated_signals_fire(lang, text):
    assert lexicon(lang).scan(text)


def test_compiled_patterns_are_cached_by_content_and_a_broken_cache_means_compiling_again(tmp_path, monkeypatch):
    import bot.nlu.lexicon as lexicon_module

    path = tmp_path / "xx.yml"
    path.write_text("language: xx\nsignals:\n  - {id: m, category: suicidal_ideation, patterns: ['quiero ~ morir']}\n",
                    encoding="utf-8")
    cache = tmp_path / "cache" / "xx.pickle"
    monkeypatch.setattr(lexicon_module, "_cache_file", lambda p, text: cache)
    compiled, real_compile = [], lexicon_module.compile_pattern.__wrapped__
    monkeypatch.setattr(lexicon_module, "compile_pattern",
                        lambda source: compiled.append(source) or real_compile(source))
    assert CrisisLexicon.load(path).scan("quiero morir") and compiled == ["quiero ~ morir"] and cache.exists()
    assert CrisisLexicon.load(path).scan("quiero morir") and len(compiled) == 1  # from the cache
    cache.write_bytes(b"not a pickle")
    assert CrisisLexicon.load(path).scan("quiero morir") and len(compiled) == 2
    monkeypatch.undo()
    assert lexicon_module._cache_file(path, "a") != lexicon_module._cache_file(path, "b")


def detector() -> CrisisDetector:
    return CrisisDetector.load(ROOT / "content" / "crisis", list(LANGUAGES))


@pytest.mark.parametrize("lang, text, fires", [
    # an English signal inside a message in another language, made harmless by what that language says around it
    ("hi", "pehle mujhe suicidal thoughts aate the, ab bilkul nahi aate, life achhi chal rahi hai", False),
    ("hi", "do saal pehle suicidal thoughts aate the, ab nahi aate", False),
    ("es", "hace años tenía suicidal thoughts pero ya no, estoy bien", False),
    ("sw", "zamani nilikuwa na suicidal thoughts lakini sasa niko sawa kabisa", False),
    # ...and the same sentences when the risk is back
    ("hi", "pehle suicidal thoughts aate the aur ab phir se aa rahe hain", True),
    ("sw", "zamani nilikuwa na suicidal thoughts na sasa zimerudi tena", True),
])
def test_the_message_languages_guards_read_english_signals(lang, text, fires):
    assert bool(detector().scan(text, lang)) is fires


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_guard_of_either_lexicon_hides_a_real_signal(lang):
    """Guards of the message's language and of English read each other's signals, so every crisis case of both
    fixture files must still fire when the message is routed to ``lang``."""
    scan = detector().scan
    texts = {str(t) for source in {lang, "en"} for kind in ("must_fire", "guard_cannot_hide")
             for t in cases(source, kind)}
    assert not [text for text in texts if not scan(text, lang)]
