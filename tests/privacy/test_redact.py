"""Redaction of phone numbers, e-mail addresses and ID numbers, per language and country format; what must stay
(mood answers, short numbers, dates); the settings; and fuzzing (no crash, nothing long left, idempotent)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.privacy.redact import RULE_NAMES, Redactor, classify_number
from bot.settings import Settings

R = Redactor()

# (language, message as people write it, expected stored text)
CASES = [
    ("en", "my number is +44 7700 900123, call me", "my number is [phone], call me"),
    ("en", "email me at jane.doe+help@example.co.uk please", "email me at [email] please"),
    ("en", "insta is @jane_doe_22", "insta is [handle]"),
    ("en", "passport A12345678", "passport [id]"),
    ("sw", "nipigie 0712 345 678 tafadhali", "nipigie [phone] tafadhali"),
    ("sw", "namba yangu ni +254712345678", "namba yangu ni [phone]"),
    ("sw", "namba yangu ni 254712345678", "namba yangu ni [phone]"),
    ("sw", "Tanzania: 0754-123-456", "Tanzania: [phone]"),
    ("sw", "kitambulisho changu 12345678 na simu 0112345678", "kitambulisho changu [phone] na simu [phone]"),
    ("hi", "mera number 98765 43210 hai", "mera number [phone] hai"),
    ("hi", "मेरा नंबर ९८७६५४३२१० है", "मेरा नंबर [phone] है"),
    ("hi", "+91-98765-43210 pe call karo", "[phone] pe call karo"),
    ("hi", "aadhaar 2345 6789 0123 hai", "aadhaar [id] hai"),
    ("hi", "मेरा आधार २३४५ ६७८९ ०१२३", "मेरा आधार [id]"),
    ("hi", "PAN ABCDE1234F", "PAN [id]"),
    ("pt", "meu zap é (11) 91234-5678", "meu zap é [phone]"),
    ("pt", "liga +55 21 3456-7890", "liga [phone]"),
    ("pt", "meu CPF é 123.456.789-09", "meu CPF é [id]"),
    ("pt", "cpf 12345678909", "cpf [id]"),
    ("pt", "CNPJ 12.345.678/0001-95", "CNPJ [id]"),
    ("pt", "Moçambique 84 123 4567", "Moçambique [phone]"),
    ("pt", "Portugal 912 345 678", "Portugal [phone]"),
    ("es", "mi DNI es 12345678Z", "mi DNI es [id]"),
    ("es", "NIE X1234567L", "NIE [id]"),
    ("es", "llámame al 612 34 56 78", "llámame al [phone]"),
    ("es", "México 55 1234 5678", "México [phone]"),
    ("es", "CURP GODE561231HDFRRN09", "CURP [id]"),
    ("fr", "mon numéro : 06 12 34 56 78", "mon numéro : [phone]"),
    ("fr", "ou 06.12.34.56.78", "ou [phone]"),
    ("fr", "Sénégal 77 123 45 67", "Sénégal [phone]"),
    ("ar", "رقمي ٠١٠١٢٣٤٥٦٧٨ اتصلي", "رقمي [phone] اتصلي"),
    ("ar", "رقمي0101234567", "رقمي[phone]"),
    ("ar", "لبنان 03 123 456", "لبنان [phone]"),
    ("ar", "الرقم القومي ٢٩٥٠١٠١١٢٣٤٥٦٧", "الرقم القومي [id]"),
    ("ar", "ايميلي salma@example.com", "ايميلي [email]"),
]


@pytest.mark.parametrize("language,text,expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_identifiers_are_redacted_in_every_language(language, text, expected):
    assert R.redact(text) == expected


@pytest.mark.parametrize("text", [
    "1", "3", "5", "3/5", "4 😊", "I'm 17 and have 3 kids", "call 999 or 112", "116 123", "1199", "116 111",
    "on 24.11.2026 at 10", "2026-11-24", "between 2019 and 2020", "I owe 1,500,000 shillings", "only 20%",
    "escalation 3f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c", "escalation 16124426d12d4f89aae596563dfac781",
    "id 16124426-d12d-4f89-aae5-96563dfac781", "sha 0123456789abcdef0123",
    "/inform_country{\"country\": \"KE\"}", "नमस्ते", "مرحبا ٣",
    "it's 10:30-11:45", "COVID19", "mp3",
])
def test_short_numbers_dates_and_plain_words_are_kept(text):
    assert R.redact(text) == text


@pytest.mark.parametrize("text, expected", [
    ("card 4111111111111111", "card [id]"),  # all digits: not a hex identifier
    ("call 0712345678 16124426d12d4f89aae596563dfac781", "call [phone] 16124426d12d4f89aae596563dfac781"),
])
def test_hex_identifiers_are_not_numbers(text, expected):
    assert R.redact(text) == expected


def test_labels_follow_the_shape():
    assert classify_number("+254 712 345 678") == "phone"
    assert classify_number("2345 6789 0123") == "id"  # Aadhaar-like
    assert classify_number("123.456.789-09") == "id"  # CPF
    assert classify_number("29501011234567") == "id"  # 14 digits: Egyptian national id
    assert classify_number("1234567") == "id"  # 7 digits: an id, not a phone
    assert classify_number("123456") is None
    assert classify_number("24.11.2026") is None


def test_redaction_can_be_switched_off_extended_and_narrowed():
    assert Redactor(enabled=False).redact("0712 345 678") == "0712 345 678"
    assert Redactor(extra={"mrn": r"\bMRN-\d{4}\b"}).redact("file MRN-1234, phone 0712345678") == \
        "file [mrn], phone [phone]"
    assert Redactor(disabled=["handle"]).redact("@someone") == "@someone"
    with pytest.raises(ValueError, match="unknown redaction rules"):
        Redactor(disabled=["nope"])
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Redactor(extra={"bad": "("})
    with pytest.raises(ValueError, match="name"):
        Redactor(extra={"Bad Name": "x"})


def test_settings_configure_the_redactor():
    s = Settings(environment="test", redaction_patterns={"case": r"\bKE-\d{5}\b"}, redaction_disabled_rules=["email"])
    r = Redactor.from_settings(s)
    assert r.redact("case KE-12345 a@b.co") == "case [case] a@b.co"
    with pytest.raises(ValueError):  # a bad rule name fails when the settings are checked (start-up)
        Settings(environment="test", redaction_disabled_rules=["phones"]).check_secrets()
    assert set(RULE_NAMES) >= {"email", "number", "es_dni", "br_cnpj"}


FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
digits = st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩०१२३४५६७८९")
phone_like = st.lists(st.text(digits, min_size=1, max_size=4), min_size=2, max_size=5).flatmap(
    lambda groups: st.sampled_from([" ", "-", "."]).map(lambda sep: sep.join(groups)))
LONG_RUN = re.compile(r"\d(?:[ .\-]?\d){6,}")


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_redacted_without_error_and_idempotently(text):
    once = R.redact(text)
    assert R.redact(once) == once


no_digits = st.text(st.characters(blacklist_categories=("Nd",)), max_size=40)
DATE = re.compile(r"^\d{1,2}[.\-]\d{1,2}[.\-](\d{2}|\d{4})$|^\d{4}[.\-]\d{1,2}[.\-]\d{1,2}$")
ASCII = str.maketrans("٠١٢٣٤٥٦٧٨٩०१२३४५६७८९", "01234567890123456789")


@FUZZ
@given(no_digits, phone_like, no_digits)
def test_no_run_of_seven_digits_survives(before, number, after):
    plain = number.translate(ASCII)
    if sum(ch.isdigit() for ch in plain) < 7 or DATE.match(plain) or re.match(r"^\d{1,2}\.\d+$", plain):
        return  # dates and decimals (3.14159265, a timestamp's seconds) are kept by design
    assert not LONG_RUN.search(R.redact(f"{before} {number} {after}").translate(ASCII))


@pytest.mark.parametrize("text", [
    "1" * 20_000, "1 " * 10_000, "a@" * 10_000, ("x" * 50 + "@") * 200, "+(" * 5_000, "a." * 10_000 + "@b",
    ("0712 345 678 " * 2_000), "٠" * 10_000,
])
def test_pathological_input_is_fast(text):
    start = time.perf_counter()
    R.redact(text)
    assert time.perf_counter() - start < 1.0
