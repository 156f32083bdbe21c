"""Channel settings: the issue's environment variable names, production refusing placeholders, and which channels
``make run`` enables."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from channels.common import messaging_channels
from channels.telegram import TelegramInput
from channels.webchat import WebChatInput
from channels.whatsapp import WhatsAppInput

ENV = ["TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_API_BASE_URL", "WHATSAPP_ACCESS_TOKEN",
       "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_API_BASE_URL"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV + [f"AMANI_{n}" for n in ENV] + ["AMANI_ENVIRONMENT", "AMANI_PSEUDONYM_KEY"]:
        monkeypatch.delenv(name, raising=False)


def test_the_issue_names_are_read_without_prefix(monkeypatch):
    for name in ENV:
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    settings = Settings()
    assert settings.telegram_token == "value-of-telegram_token"
    assert settings.telegram_secret_token == "value-of-telegram_secret_token"
    assert settings.telegram_api_base_url == "value-of-telegram_api_base_url"
    assert settings.whatsapp_access_token == "value-of-whatsapp_access_token"
    assert settings.whatsapp_app_secret == "value-of-whatsapp_app_secret"
    assert settings.whatsapp_verify_token == "value-of-whatsapp_verify_token"
    assert settings.whatsapp_phone_number_id == "value-of-whatsapp_phone_number_id"
    assert settings.whatsapp_api_base_url == "value-of-whatsapp_api_base_url"


def test_prefixed_names_work_too_and_defaults_point_at_the_platforms(monkeypatch):
    monkeypatch.setenv("AMANI_TELEGRAM_TOKEN", "1:x")
    settings = Settings()
    assert settings.telegram_token == "1:x"
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.whatsapp_api_base_url == "https://graph.facebook.com"


REAL = "a-real-secret-0123456789"


@pytest.mark.parametrize("values,problem", [
    ({"telegram_token": "1:x"}, "TELEGRAM_SECRET_TOKEN"),
    ({"telegram_token": "1:x", "telegram_secret_token": "changeme"}, "TELEGRAM_SECRET_TOKEN"),
    ({"telegram_token": "1:x", "telegram_secret_token": REAL}, "AMANI_CHANNEL_ADDRESS_KEY"),
    ({"whatsapp_access_token": "t", "whatsapp_app_secret": "secret", "whatsapp_verify_token": REAL,
      "channel_address_key": REAL}, "WHATSAPP_APP_SECRET"),
    ({"whatsapp_access_token": "t", "whatsapp_app_secret": REAL, "whatsapp_verify_token": "dev-verify",
      "channel_address_key": REAL}, "WHATSAPP_VERIFY_TOKEN"),
])
def test_production_refuses_placeholder_channel_secrets(values, problem):
    settings = Settings(environment="production", pseudonym_key=REAL, **values)
    with pytest.raises(ValueError, match=problem):
        settings._check_channel_secrets()


def test_production_accepts_real_secrets_and_polling_needs_no_webhook_secret():
    Settings(environment="production", pseudonym_key=REAL, telegram_token="1:x", telegram_secret_token=REAL,
             whatsapp_access_token="t", whatsapp_app_secret=REAL, whatsapp_verify_token=REAL,
             channel_address_key=REAL)._check_channel_secrets()
    Settings(environment="production", pseudonym_key=REAL, telegram_token="1:x", telegram_mode="polling",
             channel_address_key=REAL)._check_channel_secrets()
    with pytest.raises(ValueError, match="AMANI_TELEGRAM_MODE"):
        Settings(telegram_mode="push")._check_channel_secrets()


def test_channels_are_enabled_by_their_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert messaging_channels(Settings(database_url=url, webchat_enabled=False)) == []
    both = messaging_channels(Settings(
        database_url=url, telegram_token="1:x", telegram_secret_token="s", whatsapp_access_token="t",
        whatsapp_app_secret="a", whatsapp_verify_token="v", whatsapp_phone_number_id="1"))
    assert [type(c) for c in both] == [TelegramInput, WhatsAppInput, WebChatInput]
    assert [c.name() for c in both] == ["telegram", "whatsapp", "webchat"]


def test_the_web_chat_is_off_in_production_unless_asked_for(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert messaging_channels(Settings(database_url=url, environment="production")) == []
    assert [c.name() for c in messaging_channels(Settings(database_url=url, environment="production",
                                                          webchat_enabled=True))] == ["webchat"]


def test_incomplete_channel_settings_fail_loudly(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError, match="WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN"):
        messaging_channels(Settings(database_url=url, whatsapp_access_token="t", whatsapp_phone_number_id="1"))
    with pytest.raises(ValueError, match="TELEGRAM_SECRET_TOKEN"):
        messaging_channels(Settings(database_url=url, telegram_token="1:x"))


def test_check_secrets_runs_the_channel_check(monkeypatch):
    def refuse(self):
        raise ValueError("channel check ran")

    monkeypatch.setattr(Settings, "_check_channel_secrets", refuse)
    with pytest.raises(ValueError, match="channel check ran"):
        Settings(environment="production", pseudonym_key=REAL).check_secrets()


def test_channels_can_also_come_from_credentials_yml():
    from rasa.shared.exceptions import RasaException

    with pytest.raises(RasaException):
        TelegramInput.from_credentials(None)
    with pytest.raises(RasaException):
        WhatsAppInput.from_credentials({})
    telegram = TelegramInput.from_credentials({"token": "1:x", "secret_token": "s" * 20,
                                               "api_base_url": "http://127.0.0.1:9/"})
    assert telegram.secret_token == "s" * 20 and str(telegram.platform.bot.base_url).startswith("http://127.0.0.1:9/bot")
    whatsapp = WhatsAppInput.from_credentials({"access_token": "t", "app_secret": "a", "verify_token": "v",
                                               "phone_number_id": 42})
    assert whatsapp.platform.url == "https://graph.facebook.com/v21.0/42/messages"
    with pytest.raises(ValueError, match="WHATSAPP_VERIFY_TOKEN"):
        WhatsAppInput.from_credentials({"access_token": "t", "app_secret": "a", "phone_number_id": 42})
