"""Where the UI's templates and static files (CSS, vendored htmx) live in the package."""

from __future__ import annotations

from pathlib import Path

UI_DIR = Path(__file__).parent / "ui"
STATIC_DIR = UI_DIR / "static"
TEMPLATES_DIR = UI_DIR / "templates"
