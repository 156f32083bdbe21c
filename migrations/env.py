"""Alembic environment: migrate the database named by sqlalchemy.url (set by bot.store.db.migrate) or the settings."""

from __future__ import annotations

from alembic import context

from bot.settings import Settings
from bot.store import channel_models  # noqa: F401  (channel tables, on the same Base)
from bot.store.db import engine_for
from bot.store.models import Base

url = context.config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    with engine_for(url).connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
