"""Secrets come from the environment or from a secrets file outside the repository (``AMANI_SECRETS_FILE``), and
production refuses placeholders. Used by ``bot.settings.Settings`` (privacy block).

The file is YAML (``.yml``/``.yaml``/``.json``: a mapping) or env format (``KEY=value`` lines, ``#`` comments,
optional ``export``). Keys are the settings' environment names (``AMANI_PSEUDONYM_KEY``, ``TELEGRAM_TOKEN``...) or
their field names; a value already in the environment wins; unknown keys are ignored (a shared file may hold
other services' secrets). A file inside the repository is refused: it would end up in a commit. Keep it readable
by the service's user only (``chmod 600``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Collection, Mapping

import yaml
from sqlalchemy.engine import make_url

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_secrets_file(path: Path) -> dict[str, Any]:
    """The key/value pairs of a YAML or env-format secrets file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yml", ".yaml", ".json"):
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"AMANI_SECRETS_FILE {path}: expected a mapping of names to values")
        return {str(k): v for k, v in data.items()}
    values: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            raise ValueError(f"AMANI_SECRETS_FILE {path}:{number}: expected NAME=value")
        value = match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match.group(1)] = value
    return values


def merge_secrets_file(settings_class: Any, values: dict[str, Any], root: Path) -> dict[str, Any]:
    """``values`` (from the environment and arguments) completed from the secrets file, if one is named."""
    named = values.get("secrets_file") or os.environ.get("AMANI_SECRETS_FILE")
    if not named:
        return values
    path = Path(str(named)).expanduser().resolve()
    repository = root.resolve()
    if path == repository or repository in path.parents:
        raise ValueError(f"AMANI_SECRETS_FILE must be outside the repository ({repository}); it is {path}")
    if not path.is_file():
        raise ValueError(f"AMANI_SECRETS_FILE {path} does not exist")
    names: dict[str, str] = {}
    for field_name, field in settings_class.__fields__.items():
        names[field_name.lower()] = field_name
        for env_name in field.field_info.extra.get("env_names") or ():
            names[str(env_name).lower()] = field_name
    merged = dict(values)
    for key, value in read_secrets_file(path).items():
        field_name = names.get(key.lower())
        if field_name and field_name != "secrets_file" and field_name not in merged and value is not None:
            merged[field_name] = value
    return merged


def is_placeholder(value: Any, placeholders: Collection[str]) -> bool:
    """An empty, well-known, ``dev-`` or short (< 16 characters) secret."""
    text = str(value or "")
    return text.lower() in placeholders or text.lower().startswith(("dev-", "change")) or len(text) < 16


def check_privacy_settings(settings: Any, placeholders: Collection[str]) -> None:
    """Sane privacy limits everywhere; in production, no placeholder in the secrets the other checks leave."""
    from bot.privacy.redact import Redactor

    Redactor.from_settings(settings)  # a bad pattern or rule name fails at start-up, not on the first message
    if settings.retention_days < 1:
        raise ValueError("AMANI_RETENTION_DAYS must be at least 1")
    if settings.rate_limit_messages < 1 or settings.rate_limit_window_seconds <= 0:
        raise ValueError("AMANI_RATE_LIMIT_MESSAGES must be >= 1 and AMANI_RATE_LIMIT_WINDOW_SECONDS > 0")
    if settings.max_message_chars < 200:
        raise ValueError("AMANI_MAX_MESSAGE_CHARS must be at least 200")
    if not settings.is_production:
        return
    tokens: Mapping[str, Any] = {"TELEGRAM_TOKEN": settings.telegram_token,
                                 "WHATSAPP_ACCESS_TOKEN": settings.whatsapp_access_token}
    for name, value in tokens.items():
        if value is not None and is_placeholder(value, placeholders):
            raise ValueError(f"{name} looks like a placeholder; set the real token in production")
    if settings.enable_api and is_placeholder(settings.api_token, placeholders):
        raise ValueError("AMANI_API_TOKEN must be a real secret (16+ characters) when the HTTP API is enabled")
    for name, url in (("AMANI_DATABASE_URL", settings.database_url), ("AMANI_REDIS_URL", settings.redis_url)):
        password = make_url(url).password if url else None
        if password is not None and str(password).lower() in set(placeholders) | {"password", "postgres", "amani"}:
            raise ValueError(f"{name} has a placeholder password; use a real one in production")
