"""The data inventory stays complete: every table with a column that identifies a person is covered by "delete my
data", the report and retention (or is an escalation, anonymised); ids are pseudonyms; addresses are encrypted."""

from __future__ import annotations

from sqlalchemy import LargeBinary

from bot.identity import pseudonymise
from bot.privacy.erase import PERSONAL_TABLES, Person
from bot.store import channel_models  # noqa: F401  (registers the channel tables on Base)
from bot.store.models import Base

PERSON_COLUMNS = {"user_id", "sender_id", "conversation_id"}
ANONYMISED = {"escalations"}  # kept for safeguarding, anonymised (bot/privacy/erase.py)


def test_every_table_that_identifies_a_person_is_erased_or_anonymised():
    covered = {name for name, _, _ in PERSONAL_TABLES} | ANONYMISED
    personal = {table.name for table in Base.metadata.sorted_tables if PERSON_COLUMNS & set(table.columns.keys())}
    assert personal <= covered, f"add {sorted(personal - covered)} to bot/privacy/erase.py PERSONAL_TABLES"
    assert "events" in covered  # Rasa's tracker store (not on our Base)


def test_addresses_are_stored_encrypted_only():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name in {"address", "phone", "phone_number", "email", "chat_id", "wa_id"}:
                assert isinstance(column.type, LargeBinary), f"{table.name}.{column.name} must be encrypted"


def test_stored_ids_are_keyed_pseudonyms():
    person = Person.of(pseudonymise("whatsapp:254712345678", "k" * 20), "k" * 20)
    assert "254712345678" not in person.sender_id + person.user_id
    assert len(person.sender_id) == len(person.user_id) == 32 and person.sender_id != person.user_id
    assert Person.of(person.sender_id, "another key").user_id != person.user_id  # useless without the key
