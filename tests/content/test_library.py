"""The content library: parsing, and `content check` catching each kind of error as `file:line: message`.

Each bad case starts from the small valid fixture library (tests/fixtures/library: en, sw and a sw-KE variant) and
breaks one thing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from bot.content import library

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "library"
LANGS = ["en", "sw"]
MEANS = {"en": ["pills", "overdose"], "sw": ["vidonge"]}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "project")
    return tmp_path / "project"


def lib(root: Path, path: str) -> Path:
    return root / "content" / "library" / path


def edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        file = lib(root, path)
        text = file.read_text(encoding="utf-8")
        assert old in text, f"fixture changed: {old!r} not in {path}"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return apply


def write(path: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        lib(root, path).parent.mkdir(parents=True, exist_ok=True)
        lib(root, path).write_text(text, encoding="utf-8")
    return apply


def remove(path: str) -> Callable[[Path], None]:
    return lambda root: lib(root, path).unlink()


def problems(root: Path) -> list[str]:
    return [str(p) for p in library.check(root, LANGS, MEANS, {"en": {"stress"}})]


def test_the_fixture_library_is_valid(root):
    assert problems(root) == []
    items, found = library.load(root)
    assert found == []
    keys = sorted(i.key for i in items)
    assert keys == [("slow_breathing", "en", ""), ("slow_breathing", "sw", ""), ("stress", "en", ""),
                    ("stress", "sw", ""), ("stress", "sw", "sw-KE")]
    stress = next(i for i in items if i.key == ("stress", "en", ""))
    assert stress.messages == ["Stress is how the body reacts to pressure.", "Slowing your breathing can help."]
    assert stress.message_lines == [20, 24]
    breathing = next(i for i in items if i.key == ("slow_breathing", "en", ""))
    assert breathing.steps == ["Breathe in slowly.", "Breathe out slowly."]
    assert (breathing.review_status, breathing.reviewer_role, breathing.reviewed_on) == (
        "approved", "clinical psychologist", "2026-11-01")


CASES = {
    "no front matter": (write("en/anxiety.md", "Anxiety is common.\n"),
                        "content/library/en/anxiety.md:1: no YAML front matter"),
    "front matter not closed": (write("en/anxiety.md", "---\nslug: anxiety\n"),
                                "content/library/en/anxiety.md:1: front matter is not closed"),
    "invalid YAML": (edit("en/stress.md", "summary: What stress is", "summary: [What stress is"),
                     "content/library/en/stress.md:8: front matter is not valid YAML"),
    "missing field": (edit("en/stress.md", "cultural_notes: Test fixture.\n", ""),
                      "content/library/en/stress.md:2: missing field 'cultural_notes'"),
    "wrong type": (edit("en/stress.md", "keywords: [stress, stressed, pressure, tension]", "keywords: stress"),
                   "content/library/en/stress.md:8: field 'keywords' must be a non-empty list"),
    "unknown kind": (edit("en/stress.md", "kind: topic", "kind: article"),
                     "content/library/en/stress.md:3: kind must be one of topic, exercise"),
    "exercise without steps": (edit("sw/slow_breathing.md", "steps:\n  - Breathe in slowly.\n  - Breathe out slowly.\n",
                                    ""), "content/library/sw/slow_breathing.md:2: an exercise needs 'steps'"),
    "no sources": (edit("en/stress.md", 'sources:\n  - title: "WHO: Doing What Matters in Times of Stress: An '
                        'Illustrated Guide (2020)"\n    url: https://www.who.int/publications/i/item/9789240003927',
                        "sources: []"),
                   "content/library/en/stress.md:11: at least one source is required"),
    "approved without reviewer": (edit("en/slow_breathing.md", "reviewer_role: clinical psychologist",
                                       "reviewer_role: null"),
                                  "content/library/en/slow_breathing.md:14: an approved item needs "
                                  "review.reviewer_role"),
    "unknown review status": (edit("en/stress.md", "status: draft", "status: done"),
                              "content/library/en/stress.md:14: review.status must be one of"),
    "slug differs from file name": (edit("en/stress.md", "slug: stress", "slug: stres"),
                                    "content/library/en/stress.md:2: slug 'stres' must equal the file name"),
    "file in the wrong folder": (edit("sw/stress.md", "language: sw", "language: en"),
                                 "content/library/sw/stress.md:5: file is in folder 'sw' but says 'en'"),
    "bad locale": (edit("sw-KE/stress.md", "locale: sw-KE", "locale: kenya"),
                   "content/library/sw-KE/stress.md:6: locale 'kenya' must look like 'sw-KE'"),
    "missing translation": (remove("sw/slow_breathing.md"),
                            "content/library/en/slow_breathing.md:1: slow_breathing: missing translation for sw"),
    "locale variant without a base": (write("sw-KE/grief.md", lib(FIXTURE, "sw-KE/stress.md").read_text(
        encoding="utf-8").replace("slug: stress", "slug: grief").replace("topic: stress", "topic: grief")),
        "content/library/sw-KE/grief.md:6: locale variant has no base item sw/grief.md"),
    "related item does not exist": (edit("en/stress.md", "related: [slow_breathing]", "related: [grounding]"),
                                    "content/library/en/stress.md:9: related item 'grounding' does not exist"),
    "topic is not a topic item": (edit("en/slow_breathing.md", "topic: stress", "topic: sleep"),
                                  "content/library/en/slow_breathing.md:4: topic 'sleep' is not a topic item"),
    "phone number": (edit("sw/stress.md", "Kupumua polepole kunaweza kusaidia.",
                          "Piga simu 0800 720 000 ukihitaji msaada."),
                     "content/library/sw/stress.md:24: looks like a phone number"),
    "means named": (edit("en/stress.md", "Slowing your breathing can help.", "Never keep pills nearby."),
                    "content/library/en/stress.md:24: names a means or method ('pills')"),
    "means named in a step": (edit("sw/slow_breathing.md", "Breathe out slowly.", "Ficha vidonge."),
                              "content/library/sw/slow_breathing.md:19: names a means or method ('vidonge')"),
    "message too long": (edit("en/stress.md", "Slowing your breathing can help.", "word " * 200),
                         "content/library/en/stress.md:24: message of 999 characters: split it"),
    "no messages": (edit("en/slow_breathing.md", "Let's breathe together.", ""),
                    "content/library/en/slow_breathing.md:22: no messages after the front matter"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_kind_of_error_is_reported_with_file_and_line(root, case):
    breaks, expected = CASES[case]
    breaks(root)
    found = problems(root)
    assert any(p.startswith(expected) for p in found), f"{case}: expected {expected!r} in {found}"


def test_an_nlu_topic_without_an_item_is_reported(root):
    found = [str(p) for p in library.check(root, LANGS, MEANS, {"en": {"stress", "sleep"}})]
    assert found == ["data/nlu/en/topics.yml:1: NLU topic 'sleep' has no content item"]


def test_the_cli_check_fails_on_a_broken_shipped_library(tmp_path):
    import subprocess
    import sys

    project = tmp_path / "p"
    project.mkdir()
    main = Path(__file__).resolve().parents[2]
    for name in ("domain.yml", "config", "content", "data"):
        src = main / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / name)
    broken = project / "content" / "library" / "fr" / "sleep.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("kind: topic", "kind: pamphlet"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "content", "check"], cwd=main, capture_output=True,
                            text=True, env={**__import__("os").environ, "AMANI_ROOT": str(project),
                                            "AMANI_LANGUAGES_FILE": str(project / "config" / "languages.yml")})
    assert result.returncode == 1
    assert "content/library/fr/sleep.md:3: kind must be one of topic, exercise" in result.stdout
