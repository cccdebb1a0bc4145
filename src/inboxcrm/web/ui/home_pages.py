"""The home page (``GET /``): record counts, the latest activity, and the user's open deals."""

from __future__ import annotations

from fastapi import Request, Response

from inboxcrm.services import deals as deal_service
from inboxcrm.services import overview
from inboxcrm.services.mail_sharing import mail_viewer
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_pages import record_path
from inboxcrm.web.ui.rendering import render

router = page_router()


@router.get("/")
def home(
    request: Request, principal: CurrentPrincipal, runtime: RuntimeDep, uow: TenantUow
) -> Response:
    my_deals = deal_service.list_deals(
        uow, owner_user_id=principal.user_id, status="open", limit=10
    ).items
    return render(
        request,
        "home.html",
        {
            "counts": overview.record_counts(uow),
            "recent": overview.recent_activity(uow, mail_viewer(runtime, principal), limit=12),
            "my_deals": my_deals,
            "record_path": record_path,
        },
    )
