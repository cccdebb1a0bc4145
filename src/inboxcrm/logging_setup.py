"""Process-wide logging: one format, and a filter that keeps secrets out of every record.

Modules log with ``logger = logging.getLogger(__name__)`` and %-style arguments. Tenant and
account ids travel in ``extra={"tenant": ..., "account": ...}``. Never log a token, password or
message body; the redaction filter is a second line of defence, not a licence.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|id_token|client_secret|password|code_verifier|token)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"
    ),
    re.compile(r"ya29\.[A-Za-z0-9._-]+"),
    re.compile(r"1//[A-Za-z0-9._-]{10,}"),
]


def redact(text: str) -> str:
    """Replace anything that looks like a credential in ``text`` with a marker."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the message once and strips credentials from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with tenant/account context when present."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("tenant", "account", "job"):
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Install the root handler once; safe to call again (it replaces the handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_inboxcrm", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._inboxcrm = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
