"""The server-rendered UI (Jinja2 + htmx), mounted at /."""

from __future__ import annotations

from fastapi import APIRouter

ui_router = APIRouter(include_in_schema=False)
