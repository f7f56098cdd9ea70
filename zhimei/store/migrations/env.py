"""Alembic environment: runs on the engine handed over by zhimei.store.db.migrate."""

from alembic import context
from sqlalchemy import create_engine

from zhimei.store.models import Base, include_name

target_metadata = Base.metadata
config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
