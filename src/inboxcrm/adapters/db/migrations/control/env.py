from inboxcrm.adapters.db.control_tables import ControlBase
from inboxcrm.adapters.db.migrations.alembic_env import run_migrations

run_migrations(ControlBase.metadata)
