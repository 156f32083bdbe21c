"""Content, feedback, mood check-ins and follow-ups: repositories used inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store.models import ContentItem, Feedback, FollowUp, MoodEntry


@dataclass(frozen=True)
class Found:
    """An item found for a language, and whether it had to come from another language."""

    item: ContentItem
    fallback: bool


class ContentRepository:
    """Synced content items, looked up with the fallback chain locale → language → default language."""

    def __init__(self, session: Session, default_language: str = "en") -> None:
        self.session = session
        self.default_language = default_language

    def find(self, slug: str, language: str, locale: Optional[str] = None) -> Optional[Found]:
        """``slug`` for ``sw-KE`` → ``sw`` → the default language, or None if it does not exist at all."""
        for lang, loc in _chain(language, locale, self.default_language):
            item = self.session.execute(
                select(ContentItem).where(ContentItem.slug == slug, ContentItem.language == lang,
                                          ContentItem.locale == loc)
            ).scalars().first()
            if item is not None:
                return Found(item, fallback=lang != language)
        return None

    def for_language(self, language: str, locale: Optional[str] = None, kind: Optional[str] = None
                     ) -> list[ContentItem]:
        """Every item in ``language``, a locale variant replacing its base item."""
        query = select(ContentItem).where(ContentItem.language == language,
                                          ContentItem.locale.in_(["", locale or ""]))
        if kind:
            query = query.where(ContentItem.kind == kind)
        chosen: dict[str, ContentItem] = {}
        for item in self.session.execute(query.order_by(ContentItem.slug)).scalars():
            if item.slug not in chosen or item.locale:
                chosen[item.slug] = item
        return list(chosen.values())

    def all(self) -> list[ContentItem]:
        """Every synced item."""
        return list(self.session.execute(select(ContentItem)).scalars())

    def version(self) -> tuple[int, Optional[datetime]]:
        """Changes whenever a sync changes anything (count and newest sync time)."""
        count, newest = self.session.execute(
            select(func.count(ContentItem.id), func.max(ContentItem.synced_at))).one()
        return int(count), newest


def _chain(language: str, locale: Optional[str], default: str) -> list[tuple[str, str]]:
    chain = [(language, locale)] if locale and locale.split("-")[0] == language else []
    chain.append((language, ""))
    if language != default:
        chain.append((default, ""))
    return chain


class WellbeingRepository:
    """What a person chose to record: helpfulness answers, mood check-ins, follow-up check-ins."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_feedback(self, user_id: str, slug: str, language: str, helpful: bool) -> Feedback:
        """Store a "did this help?" answer."""
        row = Feedback(user_id=user_id, slug=slug, language=language, helpful=helpful)
        self.session.add(row)
        return row

    def add_mood(self, user_id: str, score: int) -> MoodEntry:
        """Store a 1-5 mood check-in."""
        if not 1 <= score <= 5:
            raise ValueError("mood score must be 1-5")
        row = MoodEntry(user_id=user_id, score=score)
        self.session.add(row)
        return row

    def recent_moods(self, user_id: str, limit: int = 7) -> Sequence[MoodEntry]:
        """The newest check-ins, oldest first."""
        rows = self.session.execute(
            select(MoodEntry).where(MoodEntry.user_id == user_id).order_by(MoodEntry.created_at.desc(),
                                                                            MoodEntry.id.desc()).limit(limit)
        ).scalars().all()
        return list(reversed(rows))

    def schedule_follow_up(self, user_id: str, due_at: datetime) -> FollowUp:
        """Record an agreed check-in (any earlier scheduled one is replaced)."""
        self.cancel_follow_ups(user_id)
        row = FollowUp(user_id=user_id, due_at=due_at, status="scheduled")
        self.session.add(row)
        return row

    def cancel_follow_ups(self, user_id: str) -> int:
        """Cancel every scheduled check-in of the user; how many were cancelled."""
        result = self.session.execute(
            update(FollowUp).where(FollowUp.user_id == user_id, FollowUp.status == "scheduled")
            .values(status="cancelled")
        )
        return int(result.rowcount or 0)

    def mark_follow_up_sent(self, user_id: str) -> bool:
        """Mark the user's scheduled check-in as sent; False if there was none (it was cancelled)."""
        result = self.session.execute(
            update(FollowUp).where(FollowUp.user_id == user_id, FollowUp.status == "scheduled")
            .values(status="sent")
        )
        return bool(result.rowcount)
