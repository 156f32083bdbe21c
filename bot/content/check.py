"""``python -m bot content check``: what authors wrote, checked before it reaches a user.

Errors are ``file:line: message`` and make the command exit non-zero (CI runs it in ``make test``):
* every response in ``domain.yml`` has a variation for every language (missing translations);
* placeholders (``{country_name}``) are the same in every language of a response;
* safe messaging: every crisis response offers a way to get help in every language (a link, a crisis line or an
  emergency number placeholder, or one of the language's ``help_terms``), and no response names a method or means
  (the ``lint_means_terms`` of each language's crisis lexicon);
* crisis lexicons compile; the helpline registry is well formed. Registry entries older than a year are warnings;
* the content library (``content/library/``, see ``bot/content/library.py``): schema, every item in every language,
  locale variants with a base to fall back to, references, message length, no phone numbers, no means or methods.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

import yaml

from bot.content import library
from bot.content.problems import Problem, rel
from bot.languages import LanguageRegistry
from bot.nlu.lexicon import CrisisLexicon, LexiconError
from bot.nlu.textnorm import normalise
from bot.safety.helplines import HelplineRegistry, usable

# The responses a person in crisis may read: each must always offer a way to get help.
CRISIS_RESPONSES = (
    "utter_crisis", "utter_crisis_short", "utter_crisis_lines", "utter_crisis_lines_emergency_only",
    "utter_crisis_lines_none", "utter_country_unknown", "utter_risk_urgent", "utter_stay_with_you",
    "utter_handoff_directory",
)
_HELP_PLACEHOLDERS = ("{lines}", "{emergency_number}")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_URL = re.compile(r"https?://\S+")
STALE_AFTER_DAYS = 365


def check(root: Path, today: Optional[date] = None) -> list[Problem]:
    """Every problem in the project's content."""
    registry = LanguageRegistry.load(root / "config" / "languages.yml")
    problems: list[Problem] = []
    lexicons: dict[str, CrisisLexicon] = {}
    means: dict[str, list[str]] = {}
    help_terms: dict[str, list[str]] = {}
    for lang in registry.codes:
        path = root / "content" / "crisis" / f"{lang}.yml"
        if not path.exists():
            problems.append(Problem(rel(path, root), 1, f"missing crisis lexicon for {lang}"))
            continue
        try:
            lexicons[lang] = CrisisLexicon.load(path)
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except LexiconError as error:
            problems.append(_from_lexicon_error(str(error), root))
            continue
        means[lang] = [normalise(t) for t in data.get("lint_means_terms") or []]
        if not means[lang]:
            problems.append(Problem(rel(path, root), 1, "no lint_means_terms: the safe-messaging lint needs them"))
    safe = root / "content" / "safe_messaging.yml"
    terms = (yaml.safe_load(safe.read_text(encoding="utf-8")) or {}).get("help_terms", {}) if safe.exists() else {}
    for lang in registry.codes:
        help_terms[lang] = [normalise(t) for t in terms.get(lang) or []]
        if not help_terms[lang]:
            problems.append(Problem(rel(safe, root), 1, f"no help_terms for {lang}"))
    problems += list(_check_domain(root, root / "domain.yml", registry.codes, means, help_terms))
    problems += list(_check_helplines(root, root / "content" / "helplines.yaml", today or date.today()))
    problems += library.check(root, registry.codes, means, _nlu_topics(root, registry.codes))
    return problems


def _nlu_topics(root: Path, languages: list[str]) -> dict[str, set[str]]:
    """The topic values each language's NLU data can produce: each needs a content item."""
    found: dict[str, set[str]] = {}
    for lang in languages:
        path = root / "data" / "nlu" / lang / "topics.yml"
        if path.exists():
            found[lang] = set(re.findall(r'"entity": "topic", "value": "([a-z_]+)"', path.read_text(encoding="utf-8")))
    return found


def _check_domain(root: Path, path: Path, languages: list[str], means: dict[str, list[str]],
                  help_terms: dict[str, list[str]]) -> Iterator[Problem]:
    node = yaml.compose(path.read_text(encoding="utf-8"))
    responses = _mapping_value(node, "responses")
    where = rel(path, root)
    if responses is None:
        yield Problem(where, 1, "domain has no responses")
        return
    for key_node, variations in responses.value:
        name = key_node.value
        line = key_node.start_mark.line + 1
        seen: dict[str, tuple[str, int]] = {}
        default: Optional[tuple[str, int]] = None
        for variation in variations.value:
            text_node = _mapping_value(variation, "text")
            text = text_node.value if text_node is not None else ""
            vline = (text_node or variation).start_mark.line + 1
            lang = _language_condition(variation)
            if lang is None:
                default = (text, vline)
            else:
                seen[lang] = (text, vline)
        if not seen:  # one text for everyone (e.g. the language menu)
            continue
        missing = [lang for lang in languages if lang not in seen]
        if missing:
            yield Problem(where, line, f"{name}: no variation for {', '.join(missing)}")
        reference = set(_PLACEHOLDER.findall(seen.get("en", default or ("", 0))[0]))
        for lang, (text, vline) in seen.items():
            if set(_PLACEHOLDER.findall(text)) != reference:
                yield Problem(where, vline, f"{name} [{lang}]: placeholders {sorted(set(_PLACEHOLDER.findall(text)))} "
                                          f"differ from English {sorted(reference)}")
            folded = normalise(text)
            for term in means.get(lang, []) + (means.get("en", []) if lang != "en" else []):
                if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", folded):
                    yield Problem(where, vline, f"{name} [{lang}]: names a means or method ({term!r}); "
                                              "safe-messaging guidance says never to")
            if name in CRISIS_RESPONSES and not _offers_help(text, help_terms.get(lang, [])):
                yield Problem(where, vline, f"{name} [{lang}]: a crisis response must offer a way to get help "
                                          "(a link, {lines}, {emergency_number} or a help term)")


def _offers_help(text: str, terms: list[str]) -> bool:
    if _URL.search(text) or any(p in text for p in _HELP_PLACEHOLDERS):
        return True
    folded = normalise(text)
    return any(term in folded for term in terms)


def _check_helplines(root: Path, path: Path, today: date) -> Iterator[Problem]:
    where = rel(path, root)
    try:
        registry = HelplineRegistry.load(path)
    except (OSError, ValueError, yaml.YAMLError) as error:
        yield Problem(where, 1, f"helpline registry unreadable: {error}")
        return
    if registry.compiled is None:
        yield Problem(where, 1, "helpline registry has no 'compiled YYYY-MM-DD' date in its header")
    elif (today - registry.compiled).days > STALE_AFTER_DAYS:
        yield Problem(where, 1, f"helpline registry compiled {registry.compiled}: re-verify every entry "
                              "(older than a year)", warning=True)
    for index, entry in enumerate(registry.entries):
        if usable(entry) and not entry.get("source"):
            yield Problem(where, 1, f"entry {index} ({entry.get('service')}): shown to users but has no source")


def _mapping_value(node: yaml.Node, key: str) -> Optional[yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value in node.value:
        if key_node.value == key:
            return value
    return None


def _language_condition(variation: yaml.Node) -> Optional[str]:
    conditions = _mapping_value(variation, "condition")
    if not isinstance(conditions, yaml.SequenceNode):
        return None
    for condition in conditions.value:
        name = _mapping_value(condition, "name")
        if name is not None and name.value == "language":
            value = _mapping_value(condition, "value")
            return value.value if value is not None else None
    return None


def _from_lexicon_error(message: str, root: Path) -> Problem:
    location, _, text = message.partition(": ")
    path, _, line = location.rpartition(":")
    return Problem(rel(Path(path), root), int(line) if line.isdigit() else 1, text)


