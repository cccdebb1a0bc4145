"""The signed-in user's preferences: ``GET /preferences`` and ``POST /preferences``.

For now one setting, the time zone times are shown in (``time_display``); empty means the
browser's zone. The save goes through :func:`inboxcrm.services.preferences.set_time_zone`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.services import preferences
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep
from inboxcrm.web.ui.form_errors import friendly_errors
from inboxcrm.web.ui.page_context import page_time_zone
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts
from inboxcrm.web.ui.rendering import render
from inboxcrm.web.ui.time_display import time_zone_choices

router = page_router()

PREFERENCES = "/preferences"


def _page(
    request: Request,
    *,
    chosen: str,
    saved: bool = False,
    error: str = "",
    status_code: int = 200,
) -> Response:
    zone = page_time_zone(request, None)
    return render(
        request,
        "preferences.html",
        {
            "zones": time_zone_choices(),
            "chosen": chosen,
            "browser_zone": getattr(zone, "key", "UTC"),
            "saved": saved,
            "error": error,
        },
        status_code=status_code,
    )


@router.get(PREFERENCES)
def preferences_page(
    request: Request,
    principal: CurrentPrincipal,
    saved: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    return _page(request, chosen=principal.time_zone or "", saved=saved == "1")


@router.post(PREFERENCES)
def save_preferences(
    request: Request, principal: CurrentPrincipal, runtime: RuntimeDep, form: PostedForm
) -> Response:
    chosen = form_texts(form, ["time_zone"])["time_zone"]
    try:
        with runtime.control_uow() as uow:
            preferences.set_time_zone(uow, principal, chosen or None)
    except InvalidInput as exc:
        message = friendly_errors(exc).get("time_zone", exc.message)
        return _page(request, chosen=chosen, error=message, status_code=422)
    return RedirectResponse(PREFERENCES + "?saved=1", status_code=303)
