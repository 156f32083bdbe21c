"""Delete my data: after the person confirmed (the ``utter_ask_delete_data`` buttons), everything stored about them
is erased (``bot.privacy.erase``) and the conversation restarts. The tracker store on the Rasa server sees the
erasing action followed by ``Restarted`` and deletes the conversation's events instead of saving them
(``bot.privacy.tracker_store``); the channel rows that carry the confirmation go once it is delivered.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, Restarted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from bot.actions import support
from bot.privacy.erase import Person, erase

logger = logging.getLogger(__name__)
logs.protect_existing_handlers()  # the action server configures its own logging: add our privacy filter to it

CONFIRM_QUESTION = "utter_ask_delete_data"


def asked_just_before(tracker: Tracker) -> bool:
    """True when the bot's last message before the person's latest one was the confirmation question (an old
    "yes, delete" button pressed later must not erase without asking again)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            metadata = event.get("metadata")
            return isinstance(metadata, dict) and metadata.get("utter_action") == CONFIRM_QUESTION
    return False


def _erase(tracker: Tracker) -> dict[str, int]:
    settings = support.settings()
    return erase(settings.database_url, Person.of(tracker.sender_id, settings.pseudonym_key), keep_delivery=True)


class ActionDeleteMyData(Action):
    """Erase the person's data once they confirmed, tell them, and start afresh."""

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not asked_just_before(tracker):
            dispatcher.utter_message(response=CONFIRM_QUESTION)
            return []
        try:
            counts = _erase(tracker)
        except SQLAlchemyError as error:
            logger.error("delete my data failed (database unavailable): %s", type(error).__name__)
            dispatcher.utter_message(response="utter_delete_data_failed")
            return []
        logger.info("data erased on request: %s rows", sum(counts.values()))
        dispatcher.utter_message(response="utter_data_deleted")
        return [Restarted(), FollowupAction("action_listen")]


class ActionForgetConversation(Action):
    """Erase silently (after consent was declined: "I won't store our conversation without your OK")."""

    def name(self) -> str:
        return "action_forget_conversation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            _erase(tracker)
        except SQLAlchemyError as error:
            logger.error("forgetting a declined conversation failed: %s", type(error).__name__)
            return []
        return [Restarted(), FollowupAction("action_listen")]
