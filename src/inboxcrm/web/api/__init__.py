"""The JSON API, mounted under /api/v1. Each resource module adds its routes here."""

from __future__ import annotations

from fastapi import APIRouter

from inboxcrm.web.api import me

api_router = APIRouter()
api_router.include_router(me.router)
