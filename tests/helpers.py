"""Reading expected responses from domain.yml so tests check the exact localised text."""

from __future__ import annotations

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


POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def fresh_postgres_database(name: str) -> str:
    """Drop and re-create database ``name`` on the local PostgreSQL; returns its URL (fails if PG is down)."""
    from sqlalchemy import create_engine, text as sql

    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sql(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
