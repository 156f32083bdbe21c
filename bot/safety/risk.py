"""Risk levels from detection and from the C-SSRS-style screener.

Screener triage follows the Columbia Suicide Severity Rating Scale screener's published stratification:
yes to wish-to-be-dead or suicidal thoughts only → low; thinking about a method → moderate; intent, or a plan
with intent, or preparatory behaviour in the past 3 months → high. We add ``imminent`` for intent or a plan
together with recent preparatory behaviour or a detected plan/goodbye message. Risk never goes down within an
escalation (a "no" later does not undo a plan disclosed earlier).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

LEVELS = ("low", "moderate", "high", "imminent")
SCREENING_QUESTIONS = ("wish_dead", "thoughts", "method", "intent", "plan", "behaviour")
ANSWERS = ("yes", "no", "skipped")

# detection categories (content/crisis/<lang>.yml) → the least risk they imply
_CATEGORY_LEVEL = {
    "plan_or_goodbye": "high",
    "child_abuse": "high",
    "violence": "high",
    "abuse": "moderate",
    "suicidal_ideation": "moderate",
    "self_harm": "moderate",
    "hopelessness": "moderate",
}
ABUSE_CATEGORIES = frozenset({"abuse", "child_abuse", "violence"})


def higher(a: str, b: str) -> str:
    """The higher of two risk levels."""
    return a if LEVELS.index(a) >= LEVELS.index(b) else b


def from_detection(categories: Iterable[str]) -> str:
    """Risk implied by what the crisis layer saw: a model-only detection (no lexicon category) counts as low."""
    level = "low"
    for category in categories:
        level = higher(level, _CATEGORY_LEVEL.get(category, "low"))
    return level


def from_screening(answers: Mapping[str, Optional[str]], categories: Iterable[str] = ()) -> Optional[str]:
    """Risk from screener answers, or None when nothing was answered yes or no."""
    said = {q: answers.get(q) for q in SCREENING_QUESTIONS}
    if not any(value in ("yes", "no") for value in said.values()):
        return None
    yes = {q for q, value in said.items() if value == "yes"}
    recent_preparation = "behaviour" in yes or "plan_or_goodbye" in set(categories)
    if yes & {"intent", "plan"} and recent_preparation:
        return "imminent"
    if yes & {"intent", "plan", "behaviour"}:
        return "high"
    if "method" in yes:
        return "moderate"
    return "low"


def assess(categories: Iterable[str], answers: Mapping[str, Optional[str]]) -> str:
    """The risk level for an escalation: the higher of detection and screening; skipped screening keeps detection
    but never below moderate (we could not ask, so we do not assume low)."""
    categories = list(categories)
    detected = from_detection(categories)
    screened = from_screening(answers, categories)
    if screened is None:
        return higher(detected, "moderate") if categories or answers else detected
    return higher(detected, screened)


def needs_screening(categories: Iterable[str]) -> bool:
    """The suicide screener fits unless the message was only an abuse or violence disclosure."""
    categories = set(categories)
    return not categories or bool(categories - ABUSE_CATEGORIES)
