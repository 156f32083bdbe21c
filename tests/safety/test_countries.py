"""Country from a person's answer (any of our languages), from channel metadata or from a locale."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.safety.countries import CountryNames, from_metadata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def names() -> CountryNames:
    return CountryNames.load(["en", "es", "pt", "fr", "sw", "hi", "ar"], ROOT / "config" / "countries.yml")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Kenya", "KE"), ("im in kenya", "KE"), ("México", "MX"), ("mexico", "MX"), ("Estoy en España", "ES"),
        ("brasil", "BR"), ("Moçambique", "MZ"), ("je suis au Sénégal", "SN"), ("cote d'ivoire", "CI"),
        ("Niko Tanzania", "TZ"), ("भारत", "IN"), ("india", "IN"), ("مصر", "EG"), ("انا في لبنان", "LB"),
        ("السعودية", "SA"), ("uk", "GB"), ("USA", "US"), ("Estados Unidos", "US"), ("KE", "KE"),
    ],
)
def test_answers_name_countries(names, text, code):
    assert names.find(text) == code


@pytest.mark.parametrize("text", ["I'd rather not say", "no sé", "", "xx", "hello there"])
def test_no_country(names, text):
    assert names.find(text) is None


@pytest.mark.parametrize(
    ("metadata", "code"),
    [({"country": "ke"}, "KE"), ({"locale": "pt-BR"}, "BR"), ({"language": "fr_SN"}, "SN"), ({"language": "sw"}, None),
     ({"country": "Kenya"}, None), ({}, None)],
)
def test_channel_hints(metadata, code):
    assert from_metadata(metadata) == code
