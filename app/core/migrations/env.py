"""For the alembic command line only (`alembic -c app/core/migrations/alembic.ini revision ...`): the app
itself runs the migrations through app.core.migrations.upgrade, which never loads this file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.core.models import Base

url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///data/freshdash.db"
with create_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
