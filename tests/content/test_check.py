"""`python -m bot content check`: translations, placeholders and the safe-messaging lint, as file:line errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.content.check import check

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("domain.yml", "config", "content"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_the_shipped_content_passes():
    result = subprocess.run([sys.executable, "-m", "bot", "content", "check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_crisis_response_without_a_way_to_get_help_fails(project):
    domain = project / "domain.yml"
    data = yaml.safe_load(domain.read_text(encoding="utf-8"))
    for variation in data["responses"]["utter_crisis"]:
        if {"type": "slot", "name": "language", "value": "sw"} in (variation.get("condition") or []):
            variation["text"] = "Pole sana kwa yanayokupata. Niko hapa nawe."  # no link, line or help phrase
    domain.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = [p for p in check(project) if "offer a way to get help" in p.message]
    assert [p.message.split(":")[0] for p in problems] == ["utter_crisis [sw]"]
    assert problems[0].path == "domain.yml" and problems[0].line > 1


def test_naming_a_means_fails_with_file_and_line(project):
    domain = project / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    marker = "Siento mucho que estés pasando por esto"
    domain.write_text(text.replace(marker, marker + " (no tomes paracetamol)", 1), encoding="utf-8")
    problems = [p for p in check(project) if "means or method" in p.message]
    assert problems, "the lint must catch a named means"
    assert problems[0].line == line_of(domain, "no tomes paracetamol")
    assert str(problems[0]).startswith(f"domain.yml:{problems[0].line}: utter_crisis [es]")


def test_a_missing_translation_fails(project):
    domain = project / "domain.yml"
    lines = domain.read_text(encoding="utf-8").splitlines(keepends=True)
    start = line_of(domain, "  utter_thanks:")
    # drop the first (English) variation: a condition line, its two entries, and the text
    block_end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  - condition"))
    del lines[start:block_end]
    domain.write_text("".join(lines), encoding="utf-8")
    problems = [str(p) for p in check(project)]
    assert any("utter_thanks: no variation for en" in p for p in problems), problems


def test_placeholders_must_match_across_languages(project):
    domain = project / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    if "{country_name}" not in text:
        pytest.skip("no response with placeholders yet")
    index = text.index("{country_name}", text.index("{country_name}") + 1)
    domain.write_text(text[:index] + "{pays}" + text[index + len("{country_name}"):], encoding="utf-8")
    assert any("placeholders" in p.message for p in check(project))


def test_a_broken_lexicon_is_reported_at_its_line(project):
    lexicon = project / "content" / "crisis" / "fr.yml"
    text = lexicon.read_text(encoding="utf-8")
    lexicon.write_text(text.replace("patterns:\n", "patterns:\n      - \"(unclosed\"\n", 1), encoding="utf-8")
    problems = [p for p in check(project) if p.path == "content/crisis/fr.yml"]
    assert problems and problems[0].line > 1


def test_an_old_registry_is_a_warning(project):
    problems = check(project, today=date(2028, 1, 1))
    stale = [p for p in problems if "older than a year" in p.message]
    assert stale and stale[0].warning
