"""Apply Alembic migrations to the control plane or to one tenant's database."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

Schema = Literal["control", "tenant"]
_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(schema: Schema) -> Config:
    """An Alembic config for ``schema``'s script directory (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS / schema))
    return config


def upgrade(engine: Engine, schema: Schema, revision: str = "head") -> None:
    """Migrate ``engine``'s database to ``revision``."""
    config = alembic_config(schema)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision(schema: Schema) -> str | None:
    """The newest revision of ``schema``'s scripts (read once per process: they do not change
    under a running process)."""
    return ScriptDirectory.from_config(alembic_config(schema)).get_current_head()


def is_current(engine: Engine, schema: Schema) -> bool:
    return current_revision(engine) == head_revision(schema)
