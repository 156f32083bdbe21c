"""The deterministic crisis lexicon: per-language signal patterns and figurative-speech guards.

Lexicons are content (``content/crisis/<lang>.yml``), written by clinicians and translators. Semantics:

* Text is normalised first (``textnorm.normalise``): lower case, Latin accents removed, Arabic diacritics removed and
  letter variants folded, white space collapsed; letters stretched 3+ times are tried cut to two and to one.
* A pattern is a ``regex`` expression matched with word boundaries on both sides. `` ~ `` in a pattern means "up to
  three words in between".
* A guard removes a signal match only when the guard's match covers the whole signal match. A guard can therefore
  never hide a different signal elsewhere in the same message.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import regex
import yaml

from bot.nlu.textnorm import squeezed_forms

CATEGORIES = (
    "suicidal_ideation",
    "self_harm",
    "plan_or_goodbye",
    "hopelessness",
    "abuse",
    "violence",
    "child_abuse",
)
_ESCAPES = regex.compile(r"\\[pPN]\{[^}]*\}|\\.|\(\?[a-zA-Z-]*[:)]|\[\[:[a-z]+:\]\]|\(\?P?<[^>]*>")
_UPPER_LITERAL = regex.compile(r"\p{Lu}")
_GAP = r"(?:\W+\w+){0,3}\W+"


@dataclass(frozen=True)
class Rule:
    """One named pattern group from a lexicon file."""

    id: str
    category: str
    patterns: tuple[regex.Pattern, ...]
    line: int


@dataclass(frozen=True)
class Hit:
    """A signal that fired on a message."""

    rule_id: str
    category: str


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message is ``file:line: problem``."""


@lru_cache(maxsize=None)
def compile_pattern(source: str) -> regex.Pattern:
    """Compile an author's pattern with word boundaries and the `` ~ `` gap macro. Patterns are matched
    case-sensitively: the text is already lower-cased (``textnorm.normalise``), and case-insensitive matching
    (full case folding) doubled the scan time; ``content check`` rejects an upper-case letter in a pattern."""
    body = source.strip().replace(" ~ ", _GAP)
    return regex.compile(rf"(?<!\w)(?:{body})(?!\w)", regex.V1)


class CrisisLexicon:
    """Signals and guards for one language."""

    def __init__(self, language: str, signals: list[Rule], guards: list[Rule], source: str = "") -> None:
        self.language = language
        self.signals = signals
        self.guards = guards
        self.source = source

    @classmethod
    def load(cls, path: Path) -> "CrisisLexicon":
        """Load and compile a lexicon file, raising ``LexiconError`` with ``file:line`` on any problem."""
        text = path.read_text(encoding="utf-8")
        try:
            doc = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            raise LexiconError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
        if not isinstance(data, dict) or "language" not in data:
            raise LexiconError(f"{path}:1: a lexicon needs a top-level 'language'")
        lines = _item_lines(doc)
        signals = [_rule(path, item, lines.get(("signals", i), 1), True)
                   for i, item in enumerate(data.get("signals") or [])]
        guards = [_rule(path, item, lines.get(("guards", i), 1), False)
                  for i, item in enumerate(data.get("guards") or [])]
        ids = [r.id for r in signals + guards]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise LexiconError(f"{path}:1: duplicate rule ids: {', '.join(sorted(dupes))}")
        return cls(str(data["language"]), signals, guards, str(path))

    def category_of(self, rule_id: str) -> str | None:
        """The category of the signal ``rule_id`` (None for an unknown id)."""
        return next((rule.category for rule in self.signals if rule.id == rule_id), None)

    def scan(self, text: str) -> list[Hit]:
        """Every signal that fires on ``text`` and is not wholly covered by a guard."""
        hits: dict[str, Hit] = {}
        for form in squeezed_forms(text):
            guarded = [m.span() for g in self.guards for p in g.patterns for m in p.finditer(form)]
            for rule in self.signals:
                if rule.id in hits:
                    continue
                for pattern in rule.patterns:
                    if any(not _covered(m.span(), guarded) for m in pattern.finditer(form)):
                        hits[rule.id] = Hit(rule.id, rule.category)
                        break
        return list(hits.values())


    def mask(self, text: str) -> str | None:
        """The normalised text with every guard match (figurative speech, past-resolved...) blanked out, or None
        when no guard matched. The model layers re-read this, so a guard also keeps them from firing on the
        figurative phrase alone while the rest of the message is still judged."""
        form = squeezed_forms(text)[0]
        spans = sorted(m.span() for g in self.guards for p in g.patterns for m in p.finditer(form))
        if not spans:
            return None
        out, last = [], 0
        for start, end in spans:
            if start >= last:
                out.append(form[last:start])
            last = max(last, end)
        out.append(form[last:])
        return " ".join(" ".join(out).split())


def _covered(span: tuple[int, int], guards: Iterable[tuple[int, int]]) -> bool:
    return any(g0 <= span[0] and span[1] <= g1 for g0, g1 in guards)


def _item_lines(doc: yaml.Node | None) -> dict[tuple[str, int], int]:
    """Line numbers (1-based) of each item under ``signals`` and ``guards``."""
    out: dict[tuple[str, int], int] = {}
    if not isinstance(doc, yaml.MappingNode):
        return out
    for key, value in doc.value:
        if key.value in ("signals", "guards") and isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                out[(key.value, i)] = item.start_mark.line + 1
    return out


def _rule(path: Path, item: object, line: int, is_signal: bool) -> Rule:
    where = f"{path}:{line}"
    if not isinstance(item, dict) or not item.get("id") or not item.get("patterns"):
        raise LexiconError(f"{where}: each rule needs an 'id' and a list of 'patterns'")
    category = str(item.get("category", "guard" if not is_signal else ""))
    if is_signal and category not in CATEGORIES:
        raise LexiconError(f"{where}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    compiled = []
    for source in item["patterns"]:
        if _UPPER_LITERAL.search(_ESCAPES.sub("", str(source))):
            raise LexiconError(f"{where}: pattern {source!r} has an upper-case letter; messages are lower-cased "
                               "before matching, so write it in lower case")
        try:
            compiled.append(compile_pattern(str(source)))
        except regex.error as exc:
            raise LexiconError(f"{where}: pattern {source!r} does not compile: {exc}") from exc
    return Rule(str(item["id"]), category, tuple(compiled), line)


def _check_cli(lexicon_path: str, cases_path: str) -> int:
    """Run a lexicon against its test cases; print failures; return the number of failures."""
    lexicon = CrisisLexicon.load(Path(lexicon_path))
    cases = yaml.safe_load(Path(cases_path).read_text(encoding="utf-8"))
    failures = 0
    for text in cases.get("must_fire", []) + cases.get("guard_cannot_hide", []):
        if not lexicon.scan(text):
            failures += 1
            print(f"MISSED  {text}")
    for text in cases.get("must_not_fire", []):
        hits = lexicon.scan(text)
        if hits:
            failures += 1
            print(f"FALSE+  {text}  <- {[h.rule_id for h in hits]}")
    total = sum(len(cases.get(k, [])) for k in ("must_fire", "guard_cannot_hide", "must_not_fire"))
    print(f"{total - failures}/{total} cases right")
    return failures


def _stats_cli(lang: str, root: Path = Path(".")) -> int:
    """Recall on the language's NLU ``crisis`` examples and false alarms on all its other examples (training data,
    never the evaluation sets): a quick way for authors to see what a lexicon change does."""
    from bot.nlu.training_data import iter_examples

    lexicon = CrisisLexicon.load(root / "content" / "crisis" / f"{lang}.yml")
    examples = list(iter_examples(root / "data" / "nlu" / lang))
    positives = [text for intent, text in examples if intent == "crisis"]
    negatives = [(intent, text) for intent, text in examples if intent != "crisis"]
    missed = [text for text in positives if not lexicon.scan(text)]
    alarms = [(intent, text, [h.rule_id for h in lexicon.scan(text)]) for intent, text in negatives]
    alarms = [a for a in alarms if a[2]]
    for text in missed:
        print(f"MISSED  {text}")
    for intent, text, rules in alarms:
        print(f"FALSE+  [{intent}] {text}  <- {rules}")
    recall = 1 - len(missed) / max(len(positives), 1)
    print(f"{lang}: recall {recall:.3f} on {len(positives)} crisis examples; "
          f"{len(alarms)} false alarms on {len(negatives)} other examples ({len(alarms) / max(len(negatives), 1):.3f})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "stats":
        sys.exit(_stats_cli(sys.argv[2]))
    sys.exit(1 if _check_cli(sys.argv[1], sys.argv[2]) else 0)
