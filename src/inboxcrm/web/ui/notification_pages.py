"""The signed-in user's notifications: ``GET /notifications``, ``POST /notifications/{id}/read``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.services import notifications as notification_service
from inboxcrm.web.api.params import PathId
from inboxcrm.web.deps import CurrentPrincipal, TenantUow
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.rendering import render

router = page_router()


@router.get("/notifications")
def notifications_page(
    request: Request,
    principal: CurrentPrincipal,
    uow: TenantUow,
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    page = notification_service.list_notifications(
        uow, principal.user_id, cursor=cursor or None, limit=30
    )
    return render(
        request,
        "notifications.html",
        {"items": page.items, "next_cursor": page.next_cursor, "paged": bool(cursor)},
    )


@router.post("/notifications/{notification_id}/read")
def mark_read(
    principal: CurrentPrincipal,
    uow: TenantUow,
    notification_id: PathId,
) -> Response:
    notification_service.mark_notification_read(uow, principal.user_id, notification_id)
    return RedirectResponse("/notifications", status_code=303)
