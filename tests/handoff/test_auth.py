"""Console accounts: scrypt hashes, signed expiring tokens, roles."""

from __future__ import annotations

import pytest

from bot.handoff import auth
from bot.store.db import migrate, transaction
from bot.store.models import Counsellor


def test_passwords_are_hashed_and_checked():
    stored = auth.hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert auth.check_password("correct horse battery", stored)
    assert not auth.check_password("correct horse batterY", stored)
    assert not auth.check_password("x", "garbage")
    assert auth.hash_password("same password!") != auth.hash_password("same password!")  # salted


def test_accounts(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    with transaction(url) as session:
        auth.add_counsellor(session, "sam", "long enough pw", "supervisor", "Sam")
        with pytest.raises(ValueError):
            auth.add_counsellor(session, "kim", "short", "counsellor")
        with pytest.raises(ValueError):
            auth.add_counsellor(session, "kim", "long enough pw", "admin")
    with transaction(url) as session:
        assert auth.authenticate(session, "sam", "long enough pw").role == "supervisor"
        assert auth.authenticate(session, "sam", "wrong password") is None
        assert auth.authenticate(session, "nobody", "long enough pw") is None
        session.get(Counsellor, "sam").active = False
    with transaction(url) as session:
        assert auth.authenticate(session, "sam", "long enough pw") is None


def test_tokens_are_signed_and_expire():
    who = auth.Identity("sam", "counsellor")
    token = auth.issue_token(who, "secret-one", now=1000)
    assert auth.read_token(token, "secret-one", now=1001) == who
    assert auth.read_token(token, "secret-two", now=1001) is None
    assert auth.read_token(token, "secret-one", now=1000 + auth.SESSION_SECONDS + 1) is None
    forged = auth.issue_token(auth.Identity("sam", "supervisor"), "guess", now=1000)
    assert auth.read_token(forged, "secret-one", now=1001) is None
    assert auth.read_token("not a token", "secret-one") is None


def test_production_refuses_placeholder_console_and_webhook_secrets():
    from bot.settings import Settings

    real = {"environment": "production", "pseudonym_key": "a-real-pseudonym-key-123", "console_secret":
            "a-real-console-secret-456", "channel_address_key": "a-real-address-key-789"}
    Settings(**real).check_secrets()
    with pytest.raises(ValueError, match="CONSOLE_SECRET"):
        Settings(**{**real, "console_secret": "dev-console-secret"}).check_secrets()
    with pytest.raises(ValueError, match="CRISIS_WEBHOOK_SECRET"):
        Settings(**real, crisis_webhook_url="https://team.example.org/amani", crisis_webhook_secret="secret"
                 ).check_secrets()
