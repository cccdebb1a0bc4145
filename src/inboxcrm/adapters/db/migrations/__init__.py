"""Alembic script directories: ``control`` for the control plane, ``tenant`` for each tenant DB."""
