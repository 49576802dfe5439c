"""Alembic environment: runs on the connection c360 hands over (never builds its own engine)."""

from alembic import context

from c360.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
