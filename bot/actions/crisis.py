"""The crisis flow after the static first reply (``utter_crisis``, sent by a rule without this server).

``action_crisis_support`` records the detection on an escalation and gives local crisis lines when the country is
known; ``crisis_form`` (validated by ``validate_crisis_form``) asks for the country when it is not, runs the
C-SSRS-style screener (skippable), offers a human counsellor and a safety plan; ``action_crisis_conclude`` stores
the outcome. Every text is a response in ``domain.yml``; every database write survives a database that is down
(the conversation goes on; the next action retries the write).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions import support
from bot.safety import risk

logger = logging.getLogger(__name__)

SCREENING_SLOTS = {f"screen_{q}": q for q in risk.SCREENING_QUESTIONS}
PLAN_SLOTS = ("sp_warning_signs", "sp_coping", "sp_people", "sp_professionals", "sp_environment")
FLOW_SLOTS = (
    "country_answer", *SCREENING_SLOTS, "human_consent", "safety_plan_wanted", *PLAN_SLOTS, "crisis_categories",
    "risk_level", "escalation_id",
)
YES, NO, SKIPPED, STOPPED = "yes", "no", "skipped", "stopped"
FORM_TURN_ACTIONS = ("crisis_form", "validate_crisis_form", "action_extract_slots", "action_listen")


def screening_answers(tracker: Tracker) -> dict[str, Optional[str]]:
    """The screener's answers so far (question → yes / no / skipped)."""
    return {question: tracker.get_slot(slot) for slot, question in SCREENING_SLOTS.items()}


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _user_just_wrote(tracker: Tracker) -> bool:
    """True when the form runs straight after a user message (not in the turn that opened it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "action" and event.get("name") not in FORM_TURN_ACTIONS:
            return False
    return False


def _human_requested(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """The person wants a counsellor: record consent (the escalation becomes pending) and say so."""
    if tracker.get_slot("human_consent") != YES:
        support.update_escalation(tracker, consent_human=True, status="pending")
        dispatcher.utter_message(response="utter_human_requested")
    return {"human_consent": YES}


def _answer(tracker: Tracker) -> Optional[str]:
    """yes / no / skipped from the latest message's intent, or None when it is not an answer."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return {"affirm": YES, "crisis": YES, "deny": NO, "skip": SKIPPED, "goodbye": STOPPED}.get(intent)


class ActionCrisisSupport(Action):
    """Record a detection on the user's escalation; give the local crisis lines when the country is known."""

    def name(self) -> str:
        return "action_crisis_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        info = support.crisis_info(tracker)
        new_episode = tracker.active_loop.get("name") != "crisis_form"
        events: list[EventType] = [SlotSet(slot, None) for slot in FLOW_SLOTS] if new_episode else []
        earlier = [] if new_episode else list(tracker.get_slot("crisis_categories") or [])
        categories = earlier + [c for c in info.categories if c not in earlier]
        answers = {} if new_episode else screening_answers(tracker)
        level = risk.assess(categories, answers)
        country = tracker.get_slot("country") or info.country
        escalation_id = support.record_detection(tracker, info.reasons, level, country)
        events += [
            SlotSet("crisis_categories", categories),
            SlotSet("risk_level", level),
            SlotSet("escalation_id", escalation_id or (None if new_episode else tracker.get_slot("escalation_id"))),
            # a crisis ends any running exercise or pending offer: "yes"/"next" now answer the crisis flow
            SlotSet("exercise", None), SlotSet("pending_offer", None),
        ]
        if new_episode:
            if country:
                events.append(SlotSet("country", country))
                support.send_crisis_lines(dispatcher, tracker, country)
            if set(info.categories) & risk.ABUSE_CATEGORIES:
                dispatcher.utter_message(response="utter_abuse_support")
        return events


class ValidateCrisisForm(FormValidationAction):
    """The crisis form's questions, in order, skipping what is known or does not apply."""

    def name(self) -> str:
        return "validate_crisis_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """A new crisis message while the form runs: answer it first, raise the risk, then go on with the form.

        A safety-plan answer describes hard moments by design ("not sleeping, staying in my room" is a warning sign),
        so while a plan step is asked only the lexicon's explicit signals count as a new crisis, not the models'
        reading of the words; the answer is kept either way."""
        events: list[EventType] = []
        info = support.crisis_info(tracker)
        answering_plan = tracker.get_slot("requested_slot") in PLAN_SLOTS
        explicit = any(reason.startswith("lexicon:") for reason in info.reasons)
        if _intent(tracker) == "crisis" and _user_just_wrote(tracker) and (explicit or not answering_plan):
            dispatcher.utter_message(response="utter_crisis_short")
            known = list(tracker.get_slot("crisis_categories") or [])
            categories = known + [c for c in info.categories if c not in known]
            level = risk.higher(tracker.get_slot("risk_level") or "low", risk.assess(categories, {}))
            support.record_detection(tracker, info.reasons, level, tracker.get_slot("country"))
            events = [SlotSet("crisis_categories", categories), SlotSet("risk_level", level)]
            tracker.add_slots(events)
        return events + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        categories = tracker.get_slot("crisis_categories") or []
        slots: list[str] = []
        if not tracker.get_slot("country"):
            slots.append("country_answer")
        if risk.needs_screening(categories):
            slots += _screening_order(tracker)
        slots.append("human_consent")
        if risk.needs_screening(categories):
            slots.append("safety_plan_wanted")
            if tracker.get_slot("safety_plan_wanted") == YES:
                slots += PLAN_SLOTS
        return slots

    async def validate_country_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        country = support.country_from_answer(tracker)
        if country:
            support.send_crisis_lines(dispatcher, tracker, country)
            support.update_escalation(tracker, country=country)
            return {"country_answer": country, "country": country}
        dispatcher.utter_message(response="utter_country_unknown")
        return {"country_answer": "unknown"}

    async def _screen(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        answer = _answer(tracker)
        if _intent(tracker) == "request_human":
            return {**_human_requested(dispatcher, tracker), slot: None}
        if answer == STOPPED:
            dispatcher.utter_message(response="utter_screening_skipped")
            updates = self._finish_screening(dispatcher, tracker, {slot: SKIPPED})
            return {**updates, "human_consent": tracker.get_slot("human_consent") or NO, "safety_plan_wanted": NO}
        if answer is None:
            dispatcher.utter_message(response="utter_screening_unclear")
            return {slot: None}
        if answer == SKIPPED:
            dispatcher.utter_message(response="utter_screening_skipped")
            return self._finish_screening(dispatcher, tracker, {slot: SKIPPED})
        answers = {**screening_answers(tracker), SCREENING_SLOTS[slot]: answer}
        updates = {slot: answer}
        if slot == "screen_thoughts" and answer == NO:
            updates.update(screen_method=NO, screen_intent=NO, screen_plan=NO)
        if slot == "screen_behaviour" or all(answers.get(q) for q in ("wish_dead", "thoughts", "behaviour")):
            return self._finish_screening(dispatcher, tracker, updates)
        return updates

    def _finish_screening(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, updates: dict[str, Any]
    ) -> dict[str, Any]:
        """Fill what is left, tell the person what we think, store the risk level."""
        answers = {**screening_answers(tracker), **{SCREENING_SLOTS[k]: v for k, v in updates.items()}}
        if SKIPPED in updates.values():
            for slot, question in SCREENING_SLOTS.items():
                if not answers.get(question):
                    updates[slot] = SKIPPED
                    answers[question] = SKIPPED
        level = risk.higher(
            tracker.get_slot("risk_level") or "low",
            risk.assess(tracker.get_slot("crisis_categories") or [], answers),
        )
        if level in ("high", "imminent"):
            dispatcher.utter_message(response="utter_risk_urgent")
        elif SKIPPED not in updates.values():
            dispatcher.utter_message(response="utter_screening_thanks")
        support.update_escalation(tracker, risk_level=level, screening=answers)
        return {**updates, "risk_level": level}

    async def validate_screen_wish_dead(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_wish_dead", dispatcher, tracker)

    async def validate_screen_thoughts(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_thoughts", dispatcher, tracker)

    async def validate_screen_method(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_method", dispatcher, tracker)

    async def validate_screen_intent(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_intent", dispatcher, tracker)

    async def validate_screen_plan(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_plan", dispatcher, tracker)

    async def validate_screen_behaviour(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._screen("screen_behaviour", dispatcher, tracker)

    async def validate_human_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _answer(tracker)
        if answer == YES or _intent(tracker) == "request_human":
            return _human_requested(dispatcher, tracker)
        if answer is None:
            dispatcher.utter_message(response="utter_screening_unclear")
            return {"human_consent": None}
        support.update_escalation(tracker, consent_human=False)
        dispatcher.utter_message(response="utter_human_declined")
        return {"human_consent": NO}

    async def validate_safety_plan_wanted(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _answer(tracker)
        if answer is None:
            dispatcher.utter_message(response="utter_screening_unclear")
            return {"safety_plan_wanted": None}
        return {"safety_plan_wanted": YES if answer == YES else NO}

    async def _plan_step(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker):
        intent = _intent(tracker)
        if intent == "skip":
            return {slot: SKIPPED}
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        if intent == "goodbye" and confidence >= 0.8:  # "no one" is an answer, not a wish to stop
            dispatcher.utter_message(response="utter_safety_plan_stopped")
            return {s: (tracker.get_slot(s) or STOPPED) for s in PLAN_SLOTS} | {slot: STOPPED}
        text = str(value or "").strip()[:500]
        return {slot: text or SKIPPED}

    async def validate_sp_warning_signs(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._plan_step("sp_warning_signs", value, dispatcher, tracker)

    async def validate_sp_coping(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._plan_step("sp_coping", value, dispatcher, tracker)

    async def validate_sp_people(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._plan_step("sp_people", value, dispatcher, tracker)

    async def validate_sp_professionals(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._plan_step("sp_professionals", value, dispatcher, tracker)

    async def validate_sp_environment(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return await self._plan_step("sp_environment", value, dispatcher, tracker)


def _screening_order(tracker: Tracker) -> list[str]:
    """C-SSRS screener order: Q1, Q2, then Q3–Q5 only after a yes to Q2, then Q6."""
    slots = ["screen_wish_dead", "screen_thoughts"]
    if tracker.get_slot("screen_thoughts") in (None, YES, SKIPPED):
        slots += ["screen_method", "screen_intent", "screen_plan"]
    return slots + ["screen_behaviour"]


class ActionCrisisConclude(Action):
    """After the crisis form: the safety plan read back and stored, the escalation brought up to date, and we stay."""

    def name(self) -> str:
        return "action_crisis_conclude"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        plan = {slot: tracker.get_slot(slot) for slot in PLAN_SLOTS}
        made = any(value not in (None, SKIPPED, STOPPED) for value in plan.values())
        if made:
            skipped = support.response_text(domain, "utter_skipped_step", tracker.get_slot("language")) or "-"
            shown = {k: (skipped if v in (None, SKIPPED, STOPPED) else v) for k, v in plan.items()}
            dispatcher.utter_message(response="utter_safety_plan_summary", **shown)
        changes: dict[str, Any] = {"screening": screening_answers(tracker)}
        if tracker.get_slot("risk_level"):
            changes["risk_level"] = tracker.get_slot("risk_level")
        if made:
            changes["safety_plan"] = {k[3:]: v for k, v in plan.items() if v not in (None, SKIPPED, STOPPED)}
        escalation_id = support.update_escalation(tracker, **changes)
        dispatcher.utter_message(response="utter_stay_with_you")
        return [SlotSet("escalation_id", escalation_id)] if escalation_id else []
