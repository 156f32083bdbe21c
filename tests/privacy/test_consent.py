"""First contact: the consent question and the privacy notice say, in all seven languages, that Amani is not an
emergency service, what happens when it notices danger, and that the person can have their data deleted."""

from __future__ import annotations

import pytest

from tests.conftest import LANGUAGES
from tests.helpers import variations

# per language: not an emergency service / crisis lines and a person / deletion on request
PROMISES = {
    "en": ("not an emergency service", "crisis lines", "delete"),
    "es": ("servicio de emergencias", "líneas de ayuda en crisis", "borre"),
    "pt": ("serviço de emergência", "linhas de apoio em crise", "apagar"),
    "fr": ("service d'urgence", "lignes d'écoute d'urgence", "effacer"),
    "sw": ("huduma ya dharura", "msaada wa dharura", "nikifute"),
    "hi": ("इमरजेंसी सेवा", "क्राइसिस हेल्पलाइन", "मिटाने"),
    "ar": ("خدمة طوارئ", "خطوط المساعدة في الأزمات", "حذفه"),
}


@pytest.mark.parametrize("response", ["utter_ask_consent_given", "utter_privacy"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_notice_says_not_an_emergency_service_and_what_happens_in_a_crisis(response, language):
    texts = variations(response, language)
    assert len(texts) == 1, f"{response} has no single {language} variation"
    for promise in PROMISES[language]:
        assert promise in texts[0], f"{response}/{language} does not say {promise!r}"


def test_every_language_is_covered():
    assert set(PROMISES) == set(LANGUAGES)
