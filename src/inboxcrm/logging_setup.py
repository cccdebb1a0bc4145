"""Process-wide logging: one format, and a filter that keeps secrets out of every record.

Modules log with ``logger = logging.getLogger(__name__)`` and %-style arguments. Tenant and
account ids travel in ``extra={"tenant": ..., "account": ...}``. Never log a token, password or
message body; the redaction filter is a second line of defence, not a licence.

Two filters, installed on every handler we configure, including uvicorn's own (see
:func:`uvicorn_log_config`, which ``serve`` and ``demo`` pass to uvicorn):

- :class:`RedactingFilter` formats the message once and strips anything that looks like a
  credential (bearer tokens, ``token=``/``password=`` pairs, Google token shapes).
- Both redact the URLs of sensitive routes wherever they appear: the whole query string of the
  OAuth callback (``code``, ``state``) and the token of tracking links (``/t/o/<token>``,
  ``/t/c/<token>``). :class:`AccessLogFilter` does that for uvicorn's access log lines, whose
  formatter needs the record's arguments kept as a tuple, so it rewrites the arguments in place.
"""

from __future__ import annotations

import copy
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


#: Routes whose query string carries one-time secrets (the OAuth callback's code and state).
SENSITIVE_QUERY_PATHS = ("/oauth/google/callback",)
#: Route prefixes whose next path segment (and query) is a bearer secret: tracking tokens.
SENSITIVE_TOKEN_PREFIXES = ("/t/o/", "/t/c/")
REDACTED = "[redacted]"

_QUERY_ROUTE = re.compile(
    "(" + "|".join(re.escape(p) for p in SENSITIVE_QUERY_PATHS) + r")\?[^\s\"'<>]*"
)
_TOKEN_ROUTE = re.compile(
    "(" + "|".join(re.escape(p) for p in SENSITIVE_TOKEN_PREFIXES) + r")[^\s\"'<>]+"
)


def redact_sensitive_urls(text: str) -> str:
    """Hide the query of sensitive routes and the tokens of tracking links inside ``text``."""
    text = _QUERY_ROUTE.sub(lambda m: m.group(1) + "?" + REDACTED, text)
    return _TOKEN_ROUTE.sub(lambda m: m.group(1) + REDACTED, text)


def redact(text: str) -> str:
    """Replace anything that looks like a credential in ``text`` with a marker."""
    text = redact_sensitive_urls(text)
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


class AccessLogFilter(logging.Filter):
    """Redacts sensitive URLs in a record's arguments, keeping them a tuple (uvicorn's access
    formatter unpacks ``(client, method, path, http_version, status)``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's default logging configuration with our redaction on its handlers.

    The access handler gets :class:`AccessLogFilter` (its formatter needs the arguments), the
    default (error) handler gets :class:`RedactingFilter`.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "inboxcrm_redact": {"()": RedactingFilter},
        "inboxcrm_access_redact": {"()": AccessLogFilter},
    }
    config["handlers"]["default"]["filters"] = ["inboxcrm_redact"]
    config["handlers"]["access"]["filters"] = ["inboxcrm_access_redact"]
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        if name in config["loggers"]:
            config["loggers"][name]["level"] = level.upper()
    return config


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
