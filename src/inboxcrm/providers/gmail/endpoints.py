"""Where each Google API lives: its real root, or everything under one emulator base URL.

Google serves its APIs under different hosts (Gmail at gmail.googleapis.com per its discovery
document, also www.googleapis.com; People at people.googleapis.com; Calendar under
www.googleapis.com/calendar/v3; Gmail batch at www.googleapis.com/batch/gmail/v1). The local
emulator serves all of them under one base. With ``api_base`` left at Google's default
(:data:`GOOGLE_API_BASE`), every client uses its discovery document's own root URL; any other
base (the emulator) replaces it for every API.
"""

from __future__ import annotations

from typing import Any

from googleapiclient.discovery import build

__all__ = [
    "GMAIL_BATCH_URI",
    "GOOGLE_API_BASE",
    "batch_uri",
    "build_service",
    "is_google",
]

GOOGLE_API_BASE = "https://www.googleapis.com"
GMAIL_BATCH_URI = GOOGLE_API_BASE + "/batch/gmail/v1"
"""Gmail's batch endpoint (``new_batch_http_request`` would target the deprecated global one)."""

_EMULATOR_PATHS = {"calendar": "/calendar/v3/"}
"""APIs whose discovery ``servicePath`` the emulator base must carry in ``api_endpoint``."""


def is_google(api_base: str) -> bool:
    """True for Google's own endpoints (the default), False for an emulator base URL."""
    base = api_base.rstrip("/")
    return base in ("", GOOGLE_API_BASE, "https://googleapis.com")


def build_service(api: str, version: str, *, http: Any, api_base: str) -> Any:
    """A google-api-python-client service from the shipped discovery document, at its real root
    for Google, under ``api_base`` otherwise. Builds offline (no request is sent)."""
    options: dict[str, str] = {}
    if not is_google(api_base):
        options["api_endpoint"] = api_base.rstrip("/") + _EMULATOR_PATHS.get(api, "")
    return build(
        api,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options=options or None,
    )


def batch_uri(api_base: str) -> str:
    """The Gmail batch endpoint for ``api_base``."""
    if is_google(api_base):
        return GMAIL_BATCH_URI
    return api_base.rstrip("/") + "/batch/gmail/v1"
