"""Secrets: production refuses a placeholder for every secret setting; secrets come from the environment or from
a secrets file outside the repository (YAML or NAME=value), never one inside it."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from bot.settings import ROOT, Settings

REAL = "0123456789abcdef0123456789abcdef"
# a production configuration with every secret set for real (every channel and target enabled)
FULL = {
    "environment": "production", "pseudonym_key": REAL, "console_secret": REAL,
    "enable_api": True, "api_token": REAL,
    "crisis_webhook_url": "https://team.example/hook", "crisis_webhook_secret": REAL,
    "telegram_token": "123456:" + REAL, "telegram_secret_token": REAL,
    "whatsapp_access_token": REAL, "whatsapp_app_secret": REAL, "whatsapp_verify_token": REAL,
    "channel_address_key": REAL,
    "database_url": f"postgresql://amani:{REAL}@db:5432/amani", "redis_url": f"redis://:{REAL}@cache:6379/0",
}
# every secret setting and a placeholder production must refuse
PLACEHOLDERS = {
    "pseudonym_key": "dev-pseudonym-key", "console_secret": "change-me", "api_token": "secret",
    "crisis_webhook_secret": "changeme", "telegram_token": "placeholder", "telegram_secret_token": "dev",
    "whatsapp_access_token": "change-me", "whatsapp_app_secret": "secret", "whatsapp_verify_token": "",
    "channel_address_key": "dev-channel-address-key", "database_url": "postgresql://amani:change-me@db:5432/amani",
    "redis_url": "redis://:password@cache:6379/0",
}


def test_a_real_production_configuration_is_accepted():
    Settings(**FULL).check_secrets()


@pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
def test_production_refuses_a_placeholder(name):
    with pytest.raises(ValueError):
        Settings(**{**FULL, name: PLACEHOLDERS[name]}).check_secrets()


@pytest.mark.parametrize("name", ["pseudonym_key", "console_secret", "api_token", "channel_address_key"])
def test_production_refuses_a_short_secret(name):
    with pytest.raises(ValueError):
        Settings(**{**FULL, name: "short-but-new"}).check_secrets()


def test_every_secret_looking_setting_is_covered():
    looks_secret = {name for name in Settings.__fields__
                    if any(word in name for word in ("secret", "token", "key", "password")) and name != "secrets_file"
                    or name in ("database_url", "redis_url")}
    assert looks_secret <= set(PLACEHOLDERS), looks_secret - set(PLACEHOLDERS)


def test_development_keeps_its_placeholders():
    Settings(environment="development").check_secrets()


def test_secrets_come_from_a_yaml_file_outside_the_repository(tmp_path, monkeypatch):
    secrets = tmp_path / "amani-secrets.yml"
    secrets.write_text(f"AMANI_PSEUDONYM_KEY: {REAL}\nTELEGRAM_TOKEN: '123:{REAL}'\nconsole_secret: {REAL}\n"
                       "UNRELATED_SERVICE_PASSWORD: x\n")
    monkeypatch.setenv("AMANI_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("AMANI_CONSOLE_SECRET", "from-the-environment-0123456789")
    settings = Settings(environment="production", telegram_secret_token=REAL, channel_address_key=REAL)
    settings.check_secrets()
    assert settings.pseudonym_key == REAL and settings.telegram_token == f"123:{REAL}"
    assert settings.console_secret == "from-the-environment-0123456789"  # the environment wins


def test_secrets_come_from_an_env_file(tmp_path, monkeypatch):
    secrets = tmp_path / "amani.env"
    secrets.write_text(f"# Amani\nexport AMANI_PSEUDONYM_KEY='{REAL}'\nWHATSAPP_VERIFY_TOKEN=\"{REAL}\"\n\n")
    monkeypatch.setenv("AMANI_SECRETS_FILE", str(secrets))
    settings = Settings(environment="test")
    assert settings.pseudonym_key == REAL and settings.whatsapp_verify_token == REAL


@pytest.mark.parametrize("inside", ["secrets.yml", "config/secrets.env"])
def test_a_secrets_file_inside_the_repository_is_refused(inside, monkeypatch):
    monkeypatch.setenv("AMANI_SECRETS_FILE", str(ROOT / inside))
    with pytest.raises(ValidationError, match="outside the repository"):
        Settings(environment="test")


def test_a_missing_or_malformed_secrets_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AMANI_SECRETS_FILE", str(tmp_path / "nope.yml"))
    with pytest.raises(ValidationError, match="does not exist"):
        Settings(environment="test")
    bad = tmp_path / "bad.env"
    bad.write_text("this is not NAME=value\n")
    monkeypatch.setenv("AMANI_SECRETS_FILE", str(bad))
    with pytest.raises(ValidationError, match="NAME=value"):
        Settings(environment="test")


def test_the_http_api_token_and_action_server_defaults():
    settings = Settings(environment="test")
    assert settings.enable_api is False and settings.action_host == "127.0.0.1"


def test_logging_never_goes_below_info(monkeypatch):
    from bot import logs

    logs.configure("DEBUG")
    try:
        assert logging.getLogger().level == logging.INFO and logging.getLogger("rasa").level == logging.INFO
        assert all(any(isinstance(f, logs.PrivacyFilter) for f in h.filters) for h in logging.getLogger().handlers)
    finally:
        logging.captureWarnings(False)
