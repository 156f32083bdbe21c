"""The deterministic crisis lexicon: per-language signal patterns and figurative-speech guards.

Lexicons are content (``content/crisis/<lang>.yml``), written by clinicians and translators. Semantics:

* Text is normalised first (``textnorm.normalise``): lower case, Latin accents removed, Arabic diacritics removed and
  letter variants folded, white space collapsed; letters stretched 3+ times are tried cut to two and to one.
* A pattern is a ``regex`` expression matched with word boundaries on both sides. `` ~ `` in a pattern means "up to
  three words in between".
* A guard removes a signal match only when the guard's match covers the whole signal match. A guard can therefore
  never hide a different signal elsewhere in the same message.

Each pattern carries the literals of which any match must contain one (``prefilter.required_literals``, proved from
its parse tree; None for the few it cannot prove anything about). A scan first finds which of the lexicon's literals
the message holds, in one pass in C, and then searches only the patterns that can match: about 1 in 30 on a typical
message. That took the lexicons from ~1.8 ms to ~0.5 ms p50 per message.

Compiling ~4,000 patterns with ``regex`` takes ~40 s (its parser is pure Python), so compiled patterns are kept in
``models/lexicon-cache/`` with their literals (a pickle holds ``regex``'s compiled program, which loads in well under
a millisecond), keyed by the lexicon file's content, the ``regex`` version and the pre-filter's code. Any problem with
the cache means compiling again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import regex
import yaml

from bot.nlu import prefilter
from bot.nlu.textnorm import squeezed_forms

logger = logging.getLogger(__name__)

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
_WRAP = r"(?<!\w)(?:{body})(?!\w)"
# cache entries: source -> (compiled pattern, required literals); the pre-filter's code is part of the key
_CACHE_FORMAT = hashlib.sha256(Path(prefilter.__file__).read_bytes()).hexdigest()
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: parsing the lexicons took ~5 s


@dataclass(frozen=True)
class Rule:
    """One named pattern group from a lexicon file."""

    id: str
    category: str
    patterns: tuple[regex.Pattern, ...]
    line: int
    # per pattern, literals of which any match contains one (``prefilter.required_literals``), or None
    needs: tuple[frozenset[str] | None, ...] = ()

    @cached_property
    def any_needs(self) -> frozenset[str] | None:
        """Literals of which any match of any of the rule's patterns contains one (None: not known)."""
        if len(self.needs) != len(self.patterns) or any(n is None for n in self.needs):
            return None
        return frozenset().union(*self.needs)

    def candidates(self, present: frozenset[str] | None) -> tuple[regex.Pattern, ...] | list[regex.Pattern]:
        """The patterns that can match a text holding the literals ``present`` (None: all patterns)."""
        if present is None or len(self.needs) != len(self.patterns):
            return self.patterns
        if self.any_needs is not None and self.any_needs.isdisjoint(present):
            return ()
        return [p for p, n in zip(self.patterns, self.needs) if n is None or not n.isdisjoint(present)]


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
    return regex.compile(_WRAP.format(body=_body(source)), regex.V1)


def _body(source: str) -> str:
    return source.strip().replace(" ~ ", _GAP)


class CrisisLexicon:
    """Signals and guards for one language."""

    def __init__(self, language: str, signals: list[Rule], guards: list[Rule], source: str = "") -> None:
        self.language = language
        self.signals = signals
        self.guards = guards
        self.source = source
        self._literals = tuple(sorted({s for rule in signals + guards for needs in rule.needs if needs
                                       for s in needs}))

    def _present(self, form: str) -> frozenset[str]:
        """The pre-filter literals that occur in ``form`` (one pass in C over all of them)."""
        return frozenset(filter(form.__contains__, self._literals))

    @classmethod
    def load(cls, path: Path) -> "CrisisLexicon":
        """Load and compile a lexicon file, raising ``LexiconError`` with ``file:line`` on any problem."""
        text = path.read_text(encoding="utf-8")
        try:
            doc = yaml.compose(text, Loader=_Loader)
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            raise LexiconError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
        if not isinstance(data, dict) or "language" not in data:
            raise LexiconError(f"{path}:1: a lexicon needs a top-level 'language'")
        lines = _item_lines(doc)
        cache_file = _cache_file(path, text)
        cache = _read_cache(cache_file)
        known = len(cache)
        signals = [_rule(path, item, lines.get(("signals", i), 1), True, cache)
                   for i, item in enumerate(data.get("signals") or [])]
        guards = [_rule(path, item, lines.get(("guards", i), 1), False, cache)
                  for i, item in enumerate(data.get("guards") or [])]
        if len(cache) != known:
            _write_cache(cache_file, cache)
        ids = [r.id for r in signals + guards]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise LexiconError(f"{path}:1: duplicate rule ids: {', '.join(sorted(dupes))}")
        return cls(str(data["language"]), signals, guards, str(path))

    def category_of(self, rule_id: str) -> str | None:
        """The category of the signal ``rule_id`` (None for an unknown id)."""
        return next((rule.category for rule in self.signals if rule.id == rule_id), None)

    def scan(self, text: str, also_guarded_by: Sequence["CrisisLexicon"] = ()) -> list[Hit]:
        """Every signal that fires on ``text`` and is not wholly covered by a guard (this lexicon's, or one of
        ``also_guarded_by``'s: in a code-switched message the context that makes a phrase harmless, "pichle saal
        suicidal thoughts aate the, ab nahi", may be in the other language)."""
        hits: dict[str, Hit] = {}
        for form in squeezed_forms(text):
            present = self._present(form)
            guarded: list[tuple[int, int]] | None = None  # the guards run only once a signal has matched
            for rule in self.signals:
                if rule.id in hits:
                    continue
                for pattern in rule.candidates(present):
                    spans = [m.span() for m in pattern.finditer(form)]
                    if not spans:
                        continue
                    if guarded is None:
                        guarded = self._guard_spans(form, present)
                        guarded += [span for other in also_guarded_by for span in other._guard_spans(form)]
                    if any(not _covered(span, guarded) for span in spans):
                        hits[rule.id] = Hit(rule.id, rule.category)
                        break
        return list(hits.values())

    def _guard_spans(self, form: str, present: frozenset[str] | None = None) -> list[tuple[int, int]]:
        """Where the guards match in the normalised ``form`` (``present``: its pre-filter literals, if known)."""
        present = self._present(form) if present is None else present
        return [m.span() for g in self.guards for p in g.candidates(present) for m in p.finditer(form)]

    def mask(self, text: str) -> str | None:
        """The normalised text with every guard match (figurative speech, past-resolved...) blanked out, or None
        when no guard matched. The model layers re-read this, so a guard also keeps them from firing on the
        figurative phrase alone while the rest of the message is still judged."""
        form = squeezed_forms(text)[0]
        spans = sorted(self._guard_spans(form))
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


def _cache_file(path: Path, text: str) -> Path | None:
    """Where the compiled patterns of the lexicon file at ``path`` (content ``text``) are kept, if anywhere."""
    try:
        from bot.settings import get_settings

        directory = get_settings().models_dir / "lexicon-cache"
    except Exception:  # settings that do not validate: no cache, never a failure to load the lexicon
        return None
    key = hashlib.sha256(f"{_CACHE_FORMAT}\x00{regex.__version__}\x00{_GAP}\x00{_WRAP}\x00{text}".encode("utf-8"))
    key = key.hexdigest()
    return directory / f"{path.stem}-{key[:20]}.pickle"


_Cache = dict[str, tuple[regex.Pattern, "frozenset[str] | None"]]


def _read_cache(cache_file: Path | None) -> _Cache:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        with cache_file.open("rb") as handle:
            cache = pickle.load(handle)
        return cache if isinstance(cache, dict) else {}
    except Exception as exc:  # a truncated or stale file: compile again
        logger.warning("lexicon cache %s unreadable (%s); compiling", cache_file.name, type(exc).__name__)
        return {}


def _write_cache(cache_file: Path | None, cache: _Cache) -> None:
    if cache_file is None:
        return
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            pickle.dump(cache, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, cache_file)
        for old in cache_file.parent.glob(f"{cache_file.stem.rsplit('-', 1)[0]}-*.pickle"):
            if old != cache_file:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only deployment: the lexicon works, it just compiles at every start
        logger.info("lexicon cache not written (%s)", type(exc).__name__)


def _rule(path: Path, item: object, line: int, is_signal: bool, cache: _Cache) -> Rule:
    where = f"{path}:{line}"
    if not isinstance(item, dict) or not item.get("id") or not item.get("patterns"):
        raise LexiconError(f"{where}: each rule needs an 'id' and a list of 'patterns'")
    category = str(item.get("category", "guard" if not is_signal else ""))
    if is_signal and category not in CATEGORIES:
        raise LexiconError(f"{where}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    compiled, needs = [], []
    for source in item["patterns"]:
        if _UPPER_LITERAL.search(_ESCAPES.sub("", str(source))):
            raise LexiconError(f"{where}: pattern {source!r} has an upper-case letter; messages are lower-cased "
                               "before matching, so write it in lower case")
        try:
            source = str(source)
            entry = cache.get(source)
            if entry is None:
                entry = cache[source] = (compile_pattern(source), prefilter.required_literals(_body(source)))
            compiled.append(entry[0])
            needs.append(entry[1])
        except regex.error as exc:
            raise LexiconError(f"{where}: pattern {source!r} does not compile: {exc}") from exc
    return Rule(str(item["id"]), category, tuple(compiled), line, tuple(needs))


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
