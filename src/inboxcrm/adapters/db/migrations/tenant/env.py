from inboxcrm.adapters.db.migrations.alembic_env import run_migrations
from inboxcrm.adapters.db.tenant_tables import TenantBase

run_migrations(TenantBase.metadata)
