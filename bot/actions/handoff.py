"""The person's answer when nobody has accepted their handoff in time: keep waiting, or stop waiting."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import support


class ActionHandoffKeepWaiting(Action):
    """Stay in the queue (recorded on the escalation)."""

    def name(self) -> str:
        return "action_handoff_keep_waiting"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        support.record_handoff_answer(tracker, keep_waiting=True)
        dispatcher.utter_message(response="utter_handoff_keep_waiting")
        return []


class ActionHandoffStopWaiting(Action):
    """Leave the queue: the escalation is marked timed out (and stays on record for the team)."""

    def name(self) -> str:
        return "action_handoff_stop_waiting"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        support.record_handoff_answer(tracker, keep_waiting=False)
        dispatcher.utter_message(response="utter_handoff_stop_waiting")
        return []
