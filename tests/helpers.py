"""Reading expected responses from domain.yml so tests check the exact localised text."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def variations(key: str, language: str) -> list[str]:
    """Every text of response ``key`` whose conditions include ``language``."""
    out = []
    for variation in domain()["responses"][key]:
        conditions = {c["name"]: c["value"] for c in variation.get("condition") or []}
        if conditions.get("language") == language:
            out.append(variation["text"])
    return out


def text(key: str, language: str, **slots: Optional[str]) -> str:
    """The one text of ``key`` for ``language`` (and the given slot values)."""
    for variation in domain()["responses"][key]:
        conditions = {c["name"]: c["value"] for c in variation.get("condition") or []}
        if conditions.get("language") == language and all(conditions.get(k) == v for k, v in slots.items()):
            return variation["text"]
    raise KeyError(f"no {key} for {language} {slots}")


def filled(key: str, language: str, **values: Any) -> str:
    """The text of ``key`` in ``language`` with its placeholders filled."""
    template = text(key, language)
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def content_item(url: str, slug: str, language: str, locale: Optional[str] = None) -> Any:
    """The synced content item the bot should show (with the fallback chain)."""
    from bot.store.content import ContentRepository
    from bot.store.db import transaction

    with transaction(url) as session:
        return ContentRepository(session).find(slug, language, locale).item


POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def fresh_postgres_database(name: str) -> str:
    """Drop and re-create database ``name`` on the local PostgreSQL; returns its URL (fails if PG is down)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sql(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    """Poll ``url`` until it answers 200; fail if ``proc`` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")
