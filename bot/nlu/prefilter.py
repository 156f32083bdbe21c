"""Literal pre-filters for lexicon patterns: a cheap test that proves a pattern cannot match a text.

For a pattern ``p``, ``required_literals(p)`` is a set of strings such that every text ``p`` matches contains at
least one of them (or None when no such set could be proved). ``"ganas" in text`` runs in C in well under a
microsecond, while a ``regex`` search costs several; most patterns need a word the message does not have, so the
scan skips most searches. This is the idea of RE2's and Code Search's pre-filters.

The proof walks the pattern's parse tree (Python's own regex parser, which reads the subset of ``regex`` syntax the
lexicons use) and is deliberately conservative: anything it does not understand (``regex``-only syntax, inline flags,
back-references, conditionals, nested character sets, fuzzy matching) gives None, and such a pattern is always
searched. ``tests/nlu/test_prefilter.py`` checks, for every lexicon on its fixtures and crisis examples, that
skipping changes no result.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Callable, Optional

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

import regex

_MAX_SET = 64  # at most this many alternative strings per pattern (and per expanded character class)
_GOOD_LEN = 4  # a literal this long is rare enough in a message that a longer one gains little
_MIN_LEN = 2  # a literal shorter than this proves little and costs as much as it saves
# syntax whose meaning differs between `regex` (V1) and Python's `re`, or that the walk cannot reason about
_UNSAFE = regex.compile(
    r"\(\?[a-zA-Z^-]"  # inline flags (other than a leading "(?-i)"), (?P<name>...), (?V1) ...
    r"|\(\?\(|\(\?[|#&]"  # conditionals, branch reset, comments, (?&name)
    r"|\{(?!\d*,?\d*\})"  # a { that is not a numeric repeat: fuzzy matching {e<=1} in `regex`
    r"|\[[^\]]*(?:\[|--|&&|\|\||~~)|\\\]"  # nested sets and set operations (V1); an escaped ] (to be safe)
)
# possessive repeats and atomic groups match a subset of what their plain forms match, so a literal that every
# match of the plain form contains is in every match of the original too; an escape or a whole class is skipped
_POSSESSIVE = regex.compile(r"(\\.|\[\^?\]?(?:\\.|[^\]])*\])|([*+?}])\+")
_CASE_ON = "(?-i)"  # some authors start patterns with it; matching is case-sensitive anyway
_PROPERTY = regex.compile(r"\\[pP]\{[^}]*\}|\\[pP][A-Za-z]")


def required_literals(body: str) -> Optional[frozenset[str]]:
    """Strings of which every match of ``body`` contains at least one, or None when none can be proved."""
    if body.startswith(_CASE_ON):
        body = body[len(_CASE_ON):]
    # a Unicode property is "some character" to this analysis, in or out of a class: \w reads as that in both
    body = _PROPERTY.sub(r"\\w", body)
    if _UNSAFE.search(body):
        return None
    body = _POSSESSIVE.sub(lambda m: m.group(1) or m.group(2), body).replace("(?>", "(?:")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "possible nested set" and the like: `re` would read it differently
            tree = _sre.parse(body)
    except Exception:  # re.error, FutureWarning, RecursionError: no pre-filter
        return None
    needs = _required(list(tree))
    if not needs or min(map(len, needs)) < _MIN_LEN:
        return None
    return frozenset(s for s in needs if not any(o != s and o in s for o in needs))  # "cut" covers "cutting"


def _exact(item: tuple) -> Optional[set[str]]:
    """Every string the single parse item can match, when that is a small finite set, else None."""
    op, av = item
    if op is _c.LITERAL:
        return {chr(av)}
    if op is _c.IN:
        chars: set[str] = set()
        for sub_op, sub_av in av:
            if sub_op is _c.LITERAL:
                chars.add(chr(sub_av))
            elif sub_op is _c.RANGE and sub_av[1] - sub_av[0] < _MAX_SET:
                chars.update(chr(i) for i in range(sub_av[0], sub_av[1] + 1))
            else:  # NEGATE, CATEGORY (\w, \d...): not a small set
                return None
        return chars if 0 < len(chars) <= _MAX_SET else None
    if op is _c.SUBPATTERN:
        return _exact_seq(list(av[-1]))
    if op is _c.BRANCH:
        return _union(av[1], _exact_seq)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        low, high, sub = av
        if (low, high) == (0, 1):
            strings = _exact_seq(list(sub))
            return None if strings is None else strings | {""}
        return None
    if op is _c.AT:  # anchors and word boundaries match the empty string
        return {""}
    return None


def _exact_seq(items: list) -> Optional[set[str]]:
    out = {""}
    for item in items:
        strings = _exact(item)
        if strings is None:
            return None
        out = {a + b for a, b in itertools.product(out, strings)}
        if len(out) > _MAX_SET:
            return None
    return out


def _required(items: list) -> Optional[set[str]]:
    """A required set for a sequence: the best of what runs of adjacent exact items give (``_run_candidates``) and
    what each other item requires by itself. Every element of a sequence must match, so any one element's
    requirement is the sequence's."""
    candidates: list[set[str]] = []
    run: list[set[str]] = []
    for item in items:
        strings = _exact(item)
        if strings is not None:
            run.append(strings)
            continue
        candidates += _run_candidates(run)
        run = []
        own = _required_item(item)
        if own:
            candidates.append(own)
    candidates += _run_candidates(run)
    candidates = [c for c in candidates if c and "" not in c]
    return max(candidates, key=_strength, default=None)


def _run_candidates(run: list[set[str]]) -> list[set[str]]:
    """Required sets from adjacent exact items: for each start, the expansions of the windows that start there,
    each taken before it grows by another alternative and at its longest ("h[ae]te myself" gives
    {"hate myself", "hete myself"}, {"ate myself", "ete myself"}, {"te myself"}, ...)."""
    out: list[set[str]] = []
    for start in range(len(run)):
        window = {""}
        for strings in run[start:]:
            if len(strings) > 1 and window != {""}:
                out.append(window)  # the window before it multiplies
            grown = {a + b for a, b in itertools.product(window, strings)}
            if len(grown) > _MAX_SET:
                break
            window = grown
        out.append(window)
    return out


def _required_item(item: tuple) -> Optional[set[str]]:
    op, av = item
    if op is _c.SUBPATTERN:
        return _required(list(av[-1]))
    if op is _c.BRANCH:
        return _union(av[1], _required)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        low, _high, sub = av
        return _required(list(sub)) if low >= 1 else None
    return None  # lookarounds, classes, categories...: nothing that must be in the text


def _union(branches: list, of: Callable[[list], Optional[set[str]]]) -> Optional[set[str]]:
    """An alternation: the union of what ``of`` gives for each branch, None if any branch gives nothing."""
    out: set[str] = set()
    for branch in branches:
        strings = of(list(branch))
        if not strings:  # None; (`_exact_seq` never gives an empty set, `_required` may)
            return None
        out |= strings
    return out if len(out) <= _MAX_SET else None


def _strength(strings: set[str]) -> tuple[int, int, int]:
    """Prefer sets whose every string has at least ``_GOOD_LEN`` characters (rare enough in a message), then the
    smaller set (each string costs a test), then the longer shortest string."""
    shortest = min(map(len, strings))
    return min(shortest, _GOOD_LEN), -len(strings), shortest

