"""The crisis-line registry shows only verified entries, exactly as the shared registry writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.safety.helplines import HelplineRegistry, usable

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "content" / "helplines.yaml"


@pytest.fixture(scope="module")
def registry() -> HelplineRegistry:
    return HelplineRegistry.load(SOURCE)


def raw() -> list[dict]:
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


def test_the_registry_is_the_verified_shared_one():
    shared = ROOT.parent / "shared" / "helplines.yaml"
    if not shared.exists():
        pytest.skip("the shared registry is not next to this checkout")
    assert yaml.safe_load(shared.read_text(encoding="utf-8")) == raw()


def test_every_number_shown_comes_from_a_usable_entry(registry):
    allowed = {str(p) for e in raw() if usable(e)
               for p in (e["phone"] if isinstance(e["phone"], list) else [e["phone"]]) if p}
    for country in registry.countries:
        for line in registry.for_country(country).lines:
            assert set(line.phones) <= allowed, (country, line)


def test_unconfirmed_and_low_confidence_entries_are_never_shown(registry):
    hidden = [e for e in raw() if not usable(e) and e["country"] != "INTL"]
    assert hidden, "the registry has unconfirmed entries to hide"
    shown = {line.service for c in registry.countries for line in registry.for_country(c).lines}
    for entry in hidden:
        assert entry["service"].strip() not in shown


def test_a_country_with_lines(registry):
    kenya = registry.for_country("ke")
    assert [line.phones for line in kenya.lines] == [("1199",)]  # Befrienders Kenya is unconfirmed
    assert kenya.emergency == "999, 112 or 911"


def test_lines_serving_the_users_language_come_first(registry):
    us = registry.for_country("US", language_name="Spanish")
    assert all("Spanish" in line.languages for line in us.lines[:2])
    assert "Spanish" not in us.lines[-1].languages


def test_no_line_but_a_confirmed_emergency_number(registry):
    senegal = registry.for_country("SN")
    assert senegal.lines == () and senegal.emergency and senegal.known


def test_unconfirmed_emergency_numbers_are_not_shown(registry):
    mozambique = registry.for_country("MZ")
    assert mozambique.lines == () and mozambique.emergency is None and not mozambique.known


def test_unknown_country(registry):
    assert not registry.for_country("XX").known
    assert not registry.for_country(None).known


def test_short_codes_are_rendered_as_written(registry):
    rendered = registry.for_country("GB").lines[0].render()
    assert "116 123" in rendered and "+44" not in rendered
