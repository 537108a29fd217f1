"""Alembic environment: runs on the connection handed over by ``Store.migrate``."""

from __future__ import annotations

from alembic import context

from onestop.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run by the alembic command line
    from sqlalchemy import create_engine

    from onestop.defaults import DEFAULT_URL

    url = context.config.get_main_option("sqlalchemy.url") or DEFAULT_URL
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
