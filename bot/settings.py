"""One settings object for the whole project, read from the environment (prefix ``AMANI_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, validator

ROOT = Path(__file__).resolve().parent.parent
_PLACEHOLDERS = {"", "change-me", "changeme", "secret", "placeholder", "dev"}


class Settings(BaseSettings):
    """Runtime configuration. Nothing connects or loads at import time; see ``get_settings``."""

    environment: str = "development"
    root: Path = ROOT
    models_dir: Path = ROOT / "models"
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    settings = Settings()
    settings.check_secrets()
    return settings
