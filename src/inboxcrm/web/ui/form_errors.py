"""Validation errors in the user's words, keyed by the form field they belong to.

The services validate with pydantic models and raise :class:`InvalidInput`; both speak to
programmers ("String should have at least 1 character", "not an email address: 'x'"). A form shows
instead what to fix, next to the field: "Enter the company name.", "Phone can be at most 50
characters.", "Enter an email address like name@example.com.". Field labels come from the form;
messages are chosen by pydantic's error *type*, never by parsing its English text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from inboxcrm.domain.errors import InboxCrmError

__all__ = ["EMAIL_HINT", "friendly_errors"]

EMAIL_HINT = "Enter an email address like name@example.com."

#: What a required field asks for when it is empty, by field name.
_ENTER = {
    "body": "Write some text first.",
    "currency": "Enter a three-letter currency code such as EUR or USD.",
}


def _label(field: str, labels: Mapping[str, str]) -> str:
    return labels.get(field) or field.replace("_", " ").capitalize()


def _pydantic_message(field: str, err: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    label = _label(field, labels)
    in_list = len(err.get("loc", ())) > 1  # an item of a list field, e.g. one of the emails
    if field in ("emails", "email") and (in_list or kind.startswith("string")):
        return EMAIL_HINT
    if kind in ("missing", "string_too_short") and (ctx.get("min_length", 1) <= 1):
        return _ENTER.get(field, f"Enter the {label.lower()}.")
    if kind == "string_too_short":
        return _ENTER.get(field, f"{label} needs at least {ctx.get('min_length')} characters.")
    if kind == "string_too_long":
        return f"{label} can be at most {ctx.get('max_length')} characters."
    if kind == "too_long":
        return f"{label}: at most {ctx.get('max_length')} entries."
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "finite_number"):
        return f"Enter {label.lower()} as a number, like 12500 or 12500.50."
    if kind in ("decimal_max_digits", "decimal_whole_digits"):
        return f"{label} is too large."
    if kind == "decimal_max_places":
        return f"{label} can have at most two decimals."
    if kind.startswith(("date", "datetime")):
        return f"Enter {label.lower()} as a date, like 2025-03-31."
    if kind in ("int_parsing", "int_type", "greater_than_equal", "less_than_equal"):
        return f"Choose a valid {label.lower()}."
    if kind in ("literal_error", "enum"):
        return f"Choose one of the offered values for {label.lower()}."
    if kind == "extra_forbidden":
        return "The form sent a field this page does not know; reload the page and try again."
    return f"Check {label.lower()}."


def _domain_message(exc: InboxCrmError, labels: Mapping[str, str]) -> str:
    field = exc.field or ""
    text = exc.message
    if field in ("emails", "email") and text.startswith(("not an email", "not a valid email")):
        return EMAIL_HINT
    if field in ("emails", "email") and text.endswith("is listed twice"):
        return f"{text.removesuffix(' is listed twice')} is listed twice; remove one."
    if field == "domain" and text.startswith("not a valid domain"):
        return "Enter a domain like example.com (no http:// and no path)."
    if text.endswith("cannot be null"):
        return _ENTER.get(field, f"Enter the {_label(field, labels).lower()}.")
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def friendly_errors(
    exc: ValidationError | InboxCrmError, labels: Mapping[str, str] | None = None
) -> dict[str, str]:
    """One message per field (``""`` for the whole form), in words a user can act on."""
    names = labels or {}
    if isinstance(exc, InboxCrmError):
        return {exc.field or "": _domain_message(exc, names)}
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc", ())
        field = str(loc[0]) if loc else ""
        errors.setdefault(field, _pydantic_message(field, err, names))
    return errors
