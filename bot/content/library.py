"""Reading ``content/library/``: one Markdown file with YAML front matter per item and language or locale.

``load`` parses every file into ``Item`` objects and reports what it cannot read; ``check`` adds the rules across
files (translations, locale fallbacks, references, safe messaging). Problems carry ``file:line`` locations.
See ``content/library/README.md`` for the format.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from bot.content.problems import Problem, rel
from bot.nlu.textnorm import normalise

KINDS = ("topic", "exercise")
REVIEW_STATUSES = ("draft", "in_review", "approved")
MAX_MESSAGE_CHARS = 700
_LOCALE = re.compile(r"^([a-z]{2})-([A-Z]{2})$")
_PHONE = re.compile(r"(?<![\w/.-])\+?\d[\d ().-]{5,}\d(?![\w/])")
_SEPARATOR = re.compile(r"^---\s*$")
_REQUIRED = {
    "slug": str, "kind": str, "topic": str, "language": str, "title": str, "summary": str, "keywords": list,
    "related": list, "cultural_notes": str, "sources": list, "review": dict, "version": int,
}


@dataclass
class Item:
    """One content item in one language (``locale`` is ``""`` for the base version)."""

    slug: str
    kind: str
    topic: str
    language: str
    locale: str
    title: str
    summary: str
    messages: list[str]
    steps: list[str]
    keywords: list[str]
    related: list[str]
    duration_minutes: Optional[int]
    cultural_notes: str
    sources: list[dict[str, str]]
    review_status: str
    reviewer_role: Optional[str]
    reviewed_on: Optional[str]
    version: int
    path: str
    content_hash: str
    lines: dict[str, int] = field(default_factory=dict, repr=False)
    message_lines: list[int] = field(default_factory=list, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the item in the store."""
        return self.slug, self.language, self.locale

    def search_text(self) -> str:
        """Everything lexical search matches against."""
        return " ".join([self.title, self.summary, " ".join(self.keywords), *self.messages, *self.steps])

    def chunks(self) -> list[str]:
        """The passages embedded for semantic search: title with summary and keywords, then each message."""
        head = f"{self.title}. {self.summary} {', '.join(self.keywords)}"
        return [head, *self.messages[:4]]

    def record(self) -> dict[str, Any]:
        """Column values for the store."""
        return {
            "slug": self.slug, "kind": self.kind, "topic": self.topic, "language": self.language,
            "locale": self.locale, "title": self.title, "summary": self.summary, "messages": self.messages,
            "steps": self.steps, "keywords": self.keywords, "related": self.related,
            "duration_minutes": self.duration_minutes, "cultural_notes": self.cultural_notes,
            "sources": self.sources, "review_status": self.review_status, "reviewer_role": self.reviewer_role,
            "reviewed_on": self.reviewed_on, "version": self.version, "path": self.path,
            "content_hash": self.content_hash,
        }


def library_dir(root: Path) -> Path:
    """Where the items live."""
    return root / "content" / "library"


def load(root: Path) -> tuple[list[Item], list[Problem]]:
    """Parse every item file; files that cannot be read become problems, not items."""
    items: list[Item] = []
    problems: list[Problem] = []
    base = library_dir(root)
    for path in sorted(base.glob("*/*.md")):
        item, found = parse(path, root)
        problems += found
        if item is not None:
            items.append(item)
    return items, problems


def parse(path: Path, root: Path) -> tuple[Optional[Item], list[Problem]]:
    """One file: front matter (schema-checked) and messages."""
    where = rel(path, root)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or not _SEPARATOR.match(lines[0]):
        return None, [Problem(where, 1, "no YAML front matter: the file must start with a line '---'")]
    end = next((i for i in range(1, len(lines)) if _SEPARATOR.match(lines[i])), None)
    if end is None:
        return None, [Problem(where, 1, "front matter is not closed by a line '---'")]
    try:
        node = yaml.compose("\n".join(lines[1:end]))
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return None, [Problem(where, (mark.line + 2) if mark else 1, f"front matter is not valid YAML: "
                                                                     f"{getattr(error, 'problem', error)}")]
    if not isinstance(meta, dict):
        return None, [Problem(where, 2, "front matter must be a mapping of fields")]
    key_lines = {k.value: k.start_mark.line + 2 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    problems = list(_schema(meta, key_lines, where))
    messages, message_lines = _messages(lines, end + 1)
    if not messages:
        problems.append(Problem(where, end + 1, "no messages after the front matter"))
    folder = path.parent.name
    language = str(meta.get("language", ""))
    locale = str(meta.get("locale") or "")
    if meta.get("slug") != path.stem:
        problems.append(Problem(where, key_lines.get("slug", 2), f"slug {meta.get('slug')!r} must equal the file "
                                                                  f"name {path.stem!r}"))
    if locale:
        match = _LOCALE.match(locale)
        if not match:
            problems.append(Problem(where, key_lines.get("locale", 2), f"locale {locale!r} must look like 'sw-KE'"))
        elif match.group(1) != language:
            problems.append(Problem(where, key_lines.get("locale", 2),
                                    f"locale {locale!r} does not belong to language {language!r}"))
    if folder != (locale or language):
        problems.append(Problem(where, key_lines.get("locale" if locale else "language", 2),
                                f"file is in folder {folder!r} but says {locale or language!r}"))
    if any(p for p in problems if not p.warning):
        return None, problems
    review = meta["review"]
    item = Item(
        slug=meta["slug"], kind=meta["kind"], topic=meta["topic"], language=language, locale=locale,
        title=meta["title"].strip(), summary=meta["summary"].strip(), messages=messages,
        steps=[str(s).strip() for s in meta.get("steps") or []], keywords=[str(k) for k in meta["keywords"]],
        related=[str(r) for r in meta["related"]], duration_minutes=meta.get("duration_minutes"),
        cultural_notes=meta["cultural_notes"].strip(), sources=meta["sources"],
        review_status=review.get("status"), reviewer_role=review.get("reviewer_role"),
        reviewed_on=str(review["date"]) if review.get("date") else None, version=meta["version"], path=where,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(), lines=key_lines, message_lines=message_lines,
    )
    return item, problems


def _schema(meta: dict[str, Any], key_lines: dict[str, int], where: str) -> Iterable[Problem]:
    for name, kind in _REQUIRED.items():
        if name not in meta or meta[name] is None:
            yield Problem(where, 2, f"missing field {name!r}")
        elif not isinstance(meta[name], kind) or (kind is str and not meta[name].strip()):
            yield Problem(where, key_lines.get(name, 2), f"field {name!r} must be a non-empty {kind.__name__}")
    if meta.get("kind") not in KINDS and "kind" in meta:
        yield Problem(where, key_lines.get("kind", 2), f"kind must be one of {', '.join(KINDS)}")
    if meta.get("kind") == "exercise":
        steps = meta.get("steps")
        if not isinstance(steps, list) or len(steps) < 2 or not all(isinstance(s, str) and s.strip() for s in steps):
            yield Problem(where, key_lines.get("steps", 2), "an exercise needs 'steps': a list of at least 2 texts")
        if not isinstance(meta.get("duration_minutes"), int):
            yield Problem(where, key_lines.get("duration_minutes", 2), "an exercise needs 'duration_minutes'")
    for source in meta.get("sources") or []:
        if not isinstance(source, dict) or not str(source.get("title", "")).strip():
            yield Problem(where, key_lines.get("sources", 2), "every source needs a 'title'")
    if isinstance(meta.get("sources"), list) and not meta["sources"]:
        yield Problem(where, key_lines.get("sources", 2), "at least one source is required")
    review = meta.get("review")
    if isinstance(review, dict):
        if review.get("status") not in REVIEW_STATUSES:
            yield Problem(where, key_lines.get("review", 2), f"review.status must be one of "
                                                             f"{', '.join(REVIEW_STATUSES)}")
        if review.get("status") == "approved" and not (review.get("reviewer_role") and review.get("date")):
            yield Problem(where, key_lines.get("review", 2), "an approved item needs review.reviewer_role and "
                                                             "review.date")


def _messages(lines: list[str], start: int) -> tuple[list[str], list[int]]:
    messages: list[str] = []
    starts: list[int] = []
    current: list[str] = []
    first = start
    for index in range(start, len(lines) + 1):
        line = lines[index] if index < len(lines) else "---"
        if _SEPARATOR.match(line):
            body = "\n".join(current).strip()
            if body:
                messages.append(body)
                starts.append(first + 1)
            current, first = [], index + 1
        else:
            if not current and not line.strip():
                first = index + 1
                continue
            current.append(line)
    return messages, starts


def check(root: Path, languages: list[str], means: dict[str, list[str]],
          nlu_topics: Optional[dict[str, set[str]]] = None) -> list[Problem]:
    """Every problem in the library: file-level ones and the rules across files."""
    items, problems = load(root)
    base = {(i.slug, i.language): i for i in items if not i.locale}
    slugs = {i.slug for i in items}
    topics = {i.slug for i in items if i.kind == "topic"}
    for item in items:
        problems += _item_rules(item, slugs, topics, means)
        if item.locale and (item.slug, item.language) not in base:
            problems.append(Problem(item.path, item.lines.get("locale", 2),
                                    f"locale variant has no base item {item.language}/{item.slug}.md to fall "
                                    "back to"))
    present = {(p.stem, p.parent.name) for p in library_dir(root).glob("*/*.md")}  # unreadable files too
    reference = sorted({i.slug for i in items if not i.locale})
    for slug in reference:
        for lang in languages:
            if (slug, lang) not in present:
                anchor = base.get((slug, "en")) or next(i for i in items if i.slug == slug)
                problems.append(Problem(anchor.path, 1, f"{slug}: missing translation for {lang} "
                                                        f"(content/library/{lang}/{slug}.md)"))
    for lang, values in (nlu_topics or {}).items():
        for value in sorted(values - topics):
            problems.append(Problem(f"data/nlu/{lang}/topics.yml", 1, f"NLU topic {value!r} has no content item"))
    return problems


def _item_rules(item: Item, slugs: set[str], topics: set[str], means: dict[str, list[str]]) -> Iterable[Problem]:
    for ref in item.related:
        if ref not in slugs:
            yield Problem(item.path, item.lines.get("related", 2), f"related item {ref!r} does not exist")
    if item.topic not in topics:
        yield Problem(item.path, item.lines.get("topic", 2), f"topic {item.topic!r} is not a topic item")
    texts = [(m, line) for m, line in zip(item.messages, item.message_lines)]
    texts += [(s, item.lines.get("steps", 2)) for s in item.steps]
    texts += [(item.title, item.lines.get("title", 2)), (item.summary, item.lines.get("summary", 2))]
    terms = means.get(item.language, []) + (means.get("en", []) if item.language != "en" else [])
    for text, line in texts:
        if len(text) > MAX_MESSAGE_CHARS:
            yield Problem(item.path, line, f"message of {len(text)} characters: split it (at most "
                                           f"{MAX_MESSAGE_CHARS}, it must fit a phone screen)")
        if any(sum(c.isdigit() for c in m.group(0)) >= 7 for m in _PHONE.finditer(text)):
            yield Problem(item.path, line, "looks like a phone number: crisis lines come only from the verified "
                                           "registry, never from content")
        folded = normalise(text)
        for term in terms:
            if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", folded):
                yield Problem(item.path, line, f"names a means or method ({term!r}); safe-messaging guidance "
                                               "says never to")
