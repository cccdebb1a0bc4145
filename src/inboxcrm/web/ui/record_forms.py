"""Reading HTML form posts into the services' input models, and their errors back into forms.

Browsers send every field as text: empty optional fields become None, repeated ``emails``
inputs become a list, and the result goes through the same pydantic models the API uses, so
the rules live once, in the services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.web.ui.form_errors import friendly_errors


async def read_form(request: Request) -> FormData:
    """The posted form (parsed once; the CSRF check reads the same cached form)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(read_form)]


@dataclass
class FormState:
    """What a form shows: the submitted (or stored) values and the errors per field."""

    values: dict[str, str] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def general_error(self) -> str:
        return self.errors.get("", "")

    def value(self, name: str) -> str:
        return self.values.get(name, "")


def form_texts(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The named text fields of ``form``, stripped ("" when absent or a file)."""
    out: dict[str, str] = {}
    for name in names:
        raw = form.get(name)
        out[name] = raw.strip() if isinstance(raw, str) else ""
    return out


def form_emails(form: FormData) -> list[str]:
    """The non-blank ``emails`` inputs, in order."""
    return [v.strip() for v in form.getlist("emails") if isinstance(v, str) and v.strip()]


def optional_fields(values: Mapping[str, str], optional: Iterable[str]) -> dict[str, str | None]:
    """``values`` with blank optional fields turned into None."""
    skip = set(optional)
    return {k: (None if k in skip and not v else v) for k, v in values.items()}


def errors_from(
    exc: ValidationError | InboxCrmError, labels: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Field errors of a pydantic or domain error in the user's words ("" for the form)."""
    return friendly_errors(exc, labels)
