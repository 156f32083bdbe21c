"""Psychoeducation and guided exercises from the content store, mood check-ins and next-day follow-ups.

Texts come from the synced content library (``content/library/``) or from responses in domain.yml; nothing a user
reads is written here. When the database is unavailable the person gets ``utter_store_unavailable`` (never
silence) and the error is logged without message text.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterator, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.actions import support
from bot.content.search import ContentSearch
from bot.nlu.textnorm import normalise
from bot.store.content import ContentRepository, Found, WellbeingRepository
from bot.store.db import transaction
from bot.store.models import ContentItem

logger = logging.getLogger(__name__)
FOLLOWUP_REMINDER = "amani_followup"
FOLLOWUP_INTENT = "EXTERNAL_followup"
MOOD_FACES = {1: "😞", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}


class StoreUnavailable(Exception):
    """The content store could not be read or written."""


def content_search() -> ContentSearch:
    """The search index of the action server for the configured database."""
    s = support.settings()
    return _search(s.database_url, s.embedding_model)


@lru_cache(maxsize=4)
def _search(url: str, model: str) -> ContentSearch:
    from bot.content.evaluation import search_weights
    from bot.nlu.embeddings import make_embedder

    try:
        embedder = make_embedder(model)
    except Exception as error:  # noqa: BLE001 - lexical search still works without the model
        logger.error("embedding model unavailable, lexical search only: %s", type(error).__name__)
        embedder = None
    return ContentSearch(url, embedder, search_weights(support.settings()))


def _language(tracker: Tracker) -> str:
    return tracker.get_slot("language") or support.settings().default_language


def locale_of(tracker: Tracker) -> Optional[str]:
    """``sw-KE`` from the channel's locale hint, or from the language and the known country."""
    language = _language(tracker)
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    hint = str(metadata.get("locale") or "").replace("_", "-")
    if "-" in hint and hint.split("-")[0].lower() == language:
        return f"{language}-{hint.split('-')[1].upper()}"
    country = tracker.get_slot("country")
    return f"{language}-{str(country).upper()}" if country else None


@contextmanager
def _store() -> Iterator[Session]:
    """A transaction on the action server's database (migrated on first use)."""
    url = support.settings().database_url
    support._migrated(url)
    with transaction(url) as session:
        yield session


def _find(slug: str, tracker: Tracker) -> Optional[Found]:
    try:
        with _store() as session:
            repository = ContentRepository(session, support.settings().default_language)
            return repository.find(slug, _language(tracker), locale_of(tracker))
    except SQLAlchemyError as error:
        raise StoreUnavailable from error


def _unavailable(dispatcher: CollectingDispatcher, error: Exception) -> list[EventType]:
    logger.error("content store unavailable: %s", type(error.__cause__ or error).__name__)
    dispatcher.utter_message(response="utter_store_unavailable")
    return []


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def _user_text(tracker: Tracker) -> str:
    text = str((tracker.latest_message or {}).get("text") or "")
    return "" if text.startswith("/") else text


def _send_messages(dispatcher: CollectingDispatcher, found: Found) -> None:
    if found.fallback:
        dispatcher.utter_message(response="utter_content_fallback")
    for message in found.item.messages:
        dispatcher.utter_message(text=message)


class ActionShowTopic(Action):
    """A topic for the user's language and locale: the recognised topic, or the best search result."""

    def name(self) -> str:
        return "action_show_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            slug = _entity(tracker, "topic")
            if slug is None and _user_text(tracker).strip():
                hits = content_search().search(_user_text(tracker), _language(tracker), locale_of(tracker))
                slug = hits[0].slug if hits else None
            found = _find(slug, tracker) if slug else None
        except (StoreUnavailable, SQLAlchemyError) as error:
            return _unavailable(dispatcher, error)
        if found is None:
            dispatcher.utter_message(response="utter_search_no_match")
            return []
        if found.item.kind == "exercise":
            return _offer_exercise(dispatcher, found.item)
        _send_messages(dispatcher, found)
        dispatcher.utter_message(response="utter_ask_helpful")
        return [SlotSet("last_item", found.item.slug), SlotSet("pending_offer", "helpful")]


def _offer_exercise(dispatcher: CollectingDispatcher, item: ContentItem) -> list[EventType]:
    dispatcher.utter_message(response="utter_offer_related_exercise", exercise_title=item.title,
                             exercise_minutes=item.duration_minutes or 3)
    return [SlotSet("pending_offer", "exercise"), SlotSet("offered_exercise", item.slug)]


def give_feedback(dispatcher: CollectingDispatcher, tracker: Tracker, helpful: bool) -> list[EventType]:
    """Store the answer to "did this help?", then offer what comes next: after a topic its exercise, after an
    exercise a next-day check-in."""
    slug = tracker.get_slot("last_item")
    try:
        found = _find(slug, tracker) if slug else None
        if slug:
            with _store() as session:
                WellbeingRepository(session).add_feedback(support.user_id(tracker), slug, _language(tracker),
                                                          helpful)
        offered = _related_exercise(found.item, tracker) if found is not None else None
    except (StoreUnavailable, SQLAlchemyError) as error:
        return _unavailable(dispatcher, error)
    dispatcher.utter_message(response="utter_feedback_yes" if helpful else "utter_feedback_no")
    if offered is not None:
        return _offer_exercise(dispatcher, offered)
    dispatcher.utter_message(response="utter_ask_followup")
    return [SlotSet("pending_offer", "followup")]


def _related_exercise(item: ContentItem, tracker: Tracker) -> Optional[ContentItem]:
    """After a topic, the first related exercise; after an exercise, none (a follow-up is offered instead)."""
    if item.kind != "topic":
        return None
    for slug in item.related:
        found = _find(slug, tracker)
        if found is not None and found.item.kind == "exercise":
            return found.item
    return None


class ActionStartExercise(Action):
    """Start a guided exercise: the one asked for, the one just offered, one named in the message, or a menu."""

    def name(self) -> str:
        return "action_start_exercise"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            return start_exercise(dispatcher, tracker, _chosen_exercise(tracker))
        except (StoreUnavailable, SQLAlchemyError) as error:
            return _unavailable(dispatcher, error)


def _chosen_exercise(tracker: Tracker) -> Optional[str]:
    slug = _entity(tracker, "exercise")
    if slug:
        return slug
    intent = (tracker.latest_message or {}).get("intent", {}).get("name")
    if intent == "affirm" and tracker.get_slot("offered_exercise"):
        return tracker.get_slot("offered_exercise")
    text = normalise(_user_text(tracker))
    if not text:
        return None
    with _store() as session:
        exercises = ContentRepository(session).for_language(_language(tracker), locale_of(tracker), "exercise")
        best, longest = None, 0
        for item in exercises:  # the exercise whose title or keyword matches most specifically
            for name in (normalise(n) for n in [item.title, *item.keywords]):
                if len(name) >= 4 and name in text and len(name) > longest:
                    best, longest = item.slug, len(name)
    return best


def start_exercise(dispatcher: CollectingDispatcher, tracker: Tracker, slug: Optional[str]) -> list[EventType]:
    """Intro and first step of ``slug``, or the menu of exercises when none was chosen."""
    found = _find(slug, tracker) if slug else None
    if found is None or found.item.kind != "exercise":
        return _exercise_menu(dispatcher, tracker)
    _send_messages(dispatcher, found)
    _send_step(dispatcher, found.item, 0)
    return [SlotSet("exercise", found.item.slug), SlotSet("exercise_step", 0), SlotSet("last_item", found.item.slug),
            SlotSet("pending_offer", None), SlotSet("offered_exercise", None)]


def _exercise_menu(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    with _store() as session:
        items = ContentRepository(session).for_language(_language(tracker), locale_of(tracker), "exercise")
        buttons = [{"title": i.title[:40], "payload": f'/ask_exercise{{"exercise": "{i.slug}"}}'} for i in items]
    if not buttons:
        dispatcher.utter_message(response="utter_store_unavailable")
        logger.error("no exercises in the content store: run `python -m bot content sync`")
        return []
    dispatcher.utter_message(response="utter_exercise_menu", buttons=buttons)
    return [SlotSet("exercise", None)]


def _send_step(dispatcher: CollectingDispatcher, item: ContentItem, index: int) -> None:
    last = index >= len(item.steps) - 1
    dispatcher.utter_message(response="utter_exercise_last_step" if last else "utter_exercise_step",
                             step_number=index + 1, step_total=len(item.steps), step_text=item.steps[index])


class ActionExerciseStep(Action):
    """Next / repeat within the running exercise; after the last step, well done and "did this help?"."""

    def name(self) -> str:
        return "action_exercise_step"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slug = tracker.get_slot("exercise")
        if not slug:
            dispatcher.utter_message(response="utter_no_exercise")
            return []
        try:
            found = _find(slug, tracker)
        except StoreUnavailable as error:
            return _unavailable(dispatcher, error)
        if found is None:
            dispatcher.utter_message(response="utter_no_exercise")
            return [SlotSet("exercise", None)]
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        return exercise_step(dispatcher, tracker, found.item, advance=intent != "exercise_repeat")


def exercise_step(dispatcher: CollectingDispatcher, tracker: Tracker, item: ContentItem, advance: bool
                  ) -> list[EventType]:
    """Send the next (or the same) step; after the last one, well done and "did this help?"."""
    step = int(tracker.get_slot("exercise_step") or 0) + (1 if advance else 0)
    if step >= len(item.steps):
        dispatcher.utter_message(response="utter_exercise_done")
        dispatcher.utter_message(response="utter_ask_helpful")
        return [SlotSet("exercise", None), SlotSet("exercise_step", None), SlotSet("last_item", item.slug),
                SlotSet("pending_offer", "helpful")]
    _send_step(dispatcher, item, step)
    return [SlotSet("exercise_step", step)]


class ActionStop(Action):
    """"Stop": ends a running exercise and cancels any next-day check-in."""

    def name(self) -> str:
        return "action_stop"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [ReminderCancelled(name=FOLLOWUP_REMINDER), SlotSet("pending_offer", None)]
        if tracker.get_slot("exercise"):
            dispatcher.utter_message(response="utter_exercise_stopped")
            events += [SlotSet("exercise", None), SlotSet("exercise_step", None)]
        try:
            with _store() as session:
                cancelled = WellbeingRepository(session).cancel_follow_ups(support.user_id(tracker))
        except SQLAlchemyError as error:
            logger.error("follow-up not cancelled in the store: %s", type(error).__name__)
            cancelled = 0  # the reminder itself is still cancelled by the event above
        if cancelled or not tracker.get_slot("exercise"):
            dispatcher.utter_message(response="utter_stopped")
        return events


class ActionSaveMood(Action):
    """Store a 1-5 check-in; a low score offers support, otherwise a next-day check-in is offered."""

    def name(self) -> str:
        return "action_save_mood"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        raw = _entity(tracker, "mood_score") or tracker.get_slot("mood_score")
        score = int(raw) if raw is not None and str(raw).isdigit() and 1 <= int(raw) <= 5 else None
        if score is None:
            dispatcher.utter_message(response="utter_mood_score_unclear")
            dispatcher.utter_message(response="utter_ask_mood_score")
            return []
        try:
            with _store() as session:
                WellbeingRepository(session).add_mood(support.user_id(tracker), score)
        except SQLAlchemyError as error:
            return _unavailable(dispatcher, error)
        dispatcher.utter_message(response="utter_mood_saved", mood_score=score)
        if score <= 2:
            dispatcher.utter_message(response="utter_mood_low")
            return [SlotSet("pending_offer", "exercise"), SlotSet("offered_exercise", "slow_breathing")]
        dispatcher.utter_message(response="utter_ask_followup")
        return [SlotSet("pending_offer", "followup")]


class ActionShowMood(Action):
    """The person's recent check-ins, dated in their language."""

    def name(self) -> str:
        return "action_show_mood"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            with _store() as session:
                entries = WellbeingRepository(session).recent_moods(support.user_id(tracker))
                rows = [(r.created_at, r.score) for r in entries]
        except SQLAlchemyError as error:
            return _unavailable(dispatcher, error)
        if not rows:
            dispatcher.utter_message(response="utter_mood_history_empty")
            return []
        lines = [f"{_date(at, _language(tracker))} · {MOOD_FACES[score]} {score}/5" for at, score in rows]
        dispatcher.utter_message(response="utter_mood_history", mood_history="\n".join(lines))
        return []


def _date(at: datetime, language: str) -> str:
    from babel.dates import format_date

    try:
        return format_date(at, format="EEE d MMM", locale=language)
    except Exception:  # noqa: BLE001 - an unknown locale still gets a date
        return at.strftime("%Y-%m-%d")


class ActionAcceptOffer(Action):
    """"Yes" to what was just asked (``pending_offer``): it helped, start the offered exercise, schedule the
    next-day check-in; with nothing pending during an exercise, "ok" means the next step."""

    def name(self) -> str:
        return "action_accept_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offer = tracker.get_slot("pending_offer")
        try:
            if offer == "helpful":
                return give_feedback(dispatcher, tracker, True)
            if offer == "exercise":
                return start_exercise(dispatcher, tracker, tracker.get_slot("offered_exercise"))
            if offer == "followup":
                return _schedule_follow_up(dispatcher, tracker)
            if tracker.get_slot("exercise"):
                found = _find(tracker.get_slot("exercise"), tracker)
                if found is not None:
                    return exercise_step(dispatcher, tracker, found.item, advance=True)
        except (StoreUnavailable, SQLAlchemyError) as error:
            return _unavailable(dispatcher, error)
        dispatcher.utter_message(response="utter_anything_else")
        return []


def _schedule_follow_up(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    due = datetime.now(timezone.utc) + timedelta(seconds=support.settings().followup_delay_seconds)
    with _store() as session:
        WellbeingRepository(session).schedule_follow_up(support.user_id(tracker), due)
    dispatcher.utter_message(response="utter_followup_scheduled")
    return [SlotSet("pending_offer", None),
            ReminderScheduled(FOLLOWUP_INTENT, trigger_date_time=due, name=FOLLOWUP_REMINDER,
                              kill_on_user_message=False)]


class ActionDeclineOffer(Action):
    """"No" to what was just asked: it did not help, no exercise, no check-in; during an exercise, stop it."""

    def name(self) -> str:
        return "action_decline_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offer = tracker.get_slot("pending_offer")
        if offer == "helpful":
            return give_feedback(dispatcher, tracker, False)
        if offer is None and tracker.get_slot("exercise"):
            dispatcher.utter_message(response="utter_exercise_stopped")
            return [SlotSet("exercise", None), SlotSet("exercise_step", None)]
        if offer is None:  # "anything else?" — "no": a warm goodbye
            dispatcher.utter_message(response="utter_goodbye")
            return []
        dispatcher.utter_message(response="utter_followup_declined" if offer == "followup" else "utter_anything_else")
        return [SlotSet("pending_offer", None), SlotSet("offered_exercise", None)]


class ActionFollowupCheckin(Action):
    """The agreed next-day check-in, unless it was cancelled with "stop" in the meantime."""

    def name(self) -> str:
        return "action_followup_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            with _store() as session:
                due = WellbeingRepository(session).mark_follow_up_sent(support.user_id(tracker))
        except SQLAlchemyError as error:
            logger.error("follow-up state unavailable, checking in anyway: %s", type(error).__name__)
            due = True
        if due:
            dispatcher.utter_message(response="utter_followup_checkin")
        return []


def mood_buttons() -> list[dict[str, Any]]:
    """The 1-5 scale (used by responses; kept here for tests)."""
    return [{"title": f"{MOOD_FACES[n]} {n}", "payload": f'/rate_mood{{"mood_score": "{n}"}}'} for n in range(1, 6)]
