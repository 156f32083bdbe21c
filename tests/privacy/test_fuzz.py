"""Property-based fuzzing of the router's payload and command parser (buttons, /commands, mood-scale answers) and
of a whole parse of payload-shaped input with the real crisis lexicons: nothing crashes, the result is well formed.
(Redaction and the gate are fuzzed in test_redact.py and test_gate.py; channel parsers in tests/channels.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.languages import LanguageRegistry
from bot.nlu.router import LanguageRouter, scale_answer
from bot.settings import Settings
from tests.helpers import domain

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10)
intents = st.sampled_from(sorted(domain()["intents"] if isinstance(domain()["intents"][0], str)
                                 else [next(iter(i)) for i in domain()["intents"]])) | st.from_regex(r"[a-z_]{1,12}",
                                                                                                     fullmatch=True)
payloads = st.one_of(
    st.builds(lambda i, v: f"/{i}{json.dumps(v)}", intents, json_values),
    st.builds(lambda i, t: f"/{i}{{{t}", intents, st.text(max_size=20)),
    st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(["start", "help", "language", "privacy", "delete"]),
              st.text(max_size=12)),
    st.builds(lambda i: f"/{i}", intents),
    st.text(max_size=40).map(lambda t: "/" + t),
    st.sampled_from(["1", "5", "3/5", " 4 ", "😊", "☹️", "6", "0", "/", "//", "/{}"]),
)


@pytest.fixture(scope="module")
def router(crisis_detector) -> LanguageRouter:
    """The router without NLU models: payloads, commands and scale answers never reach them."""
    registry = LanguageRegistry.load(Settings(environment="test").languages_file)
    return LanguageRouter(registry, None, {}, crisis_detector, known_intents=None)


def well_formed(result: dict[str, Any]) -> None:
    assert isinstance(result["intent"]["name"], str)
    assert all(isinstance(e, dict) and "entity" in e for e in result["entities"])


@FUZZ
@given(st.one_of(payloads, st.text(max_size=200)))
def test_payload_parser_never_crashes(router, text):
    for parsed in (router._payload(text.strip()), scale_answer(text.strip())):
        if parsed is not None:
            well_formed(parsed)


@FUZZ
@given(payloads)
def test_a_payload_is_parsed_whole_without_error(router, text):
    if router._payload(text.strip()) is None and scale_answer(text.strip()) is None:
        return  # free text: read by the NLU models (tested end to end in tests/test_server.py)
    result = asyncio.run(router.parse_text(text, metadata={"language": "sw"}, current="es"))
    well_formed(result)
    assert result["language"] in {"es", "sw", "en", "pt", "fr", "hi", "ar"}


events = st.lists(st.fixed_dictionaries({"event": st.sampled_from(["user", "bot", "action", "slot", "restart"])},
                                        optional={"metadata": json_values, "text": json_values, "name": json_values,
                                                  "value": json_values, "parse_data": json_values}), max_size=12)


@FUZZ
@given(events)
def test_the_erasure_confirmation_check_never_crashes(evts):
    from rasa_sdk import Tracker

    from bot.actions.privacy import asked_just_before

    tracker = Tracker("fuzz", {}, {}, evts, False, None, {}, "action_listen")
    assert asked_just_before(tracker) in (True, False)


@FUZZ
@given(events, st.frozensets(st.sampled_from(["country_answer", "sp_people", "name"])))
def test_event_redaction_never_crashes_and_never_grows_digits(evts, text_slots):
    from bot.privacy.redact import Redactor
    from bot.privacy.tracker_store import EventRedactor

    redactor = EventRedactor(Redactor(), ["sp_people"], "k" * 20)
    for event in evts:
        redacted = redactor.event(event, text_slots)
        assert redacted["event"] == event["event"]
        assert sum(c.isdigit() for c in json.dumps(redacted, default=str)) <= \
            sum(c.isdigit() for c in json.dumps(event, default=str)) + 40  # + a hashed message id at most
