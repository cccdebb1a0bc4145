"""``GET /search?q=``: the top bar's search box, across leads, contacts and accounts.

Each kind is searched by the same rules as its own list (every word in a name, an email address
or the company), through :mod:`inboxcrm.services.records`; each shows its first matches with a
link to the full list filtered the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from inboxcrm.services import records as record_service
from inboxcrm.web.deps import CurrentPrincipal, TenantUow
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.rendering import render

router = page_router()

PER_KIND = 10


@router.get("/search")
def search_page(
    request: Request,
    principal: CurrentPrincipal,
    uow: TenantUow,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    text = q.strip()
    groups: list[dict[str, Any]] = []
    if text:
        searches = (
            ("Leads", "/leads", record_service.list_leads),
            ("Contacts", "/contacts", record_service.list_contacts),
            ("Accounts", "/accounts", record_service.list_accounts),
        )
        for title, path, search in searches:
            page = search(uow, q=text, limit=PER_KIND)
            groups.append(
                {"title": title, "path": path, "items": page.items, "more": bool(page.next_cursor)}
            )
    total = sum(len(g["items"]) for g in groups)
    return render(
        request, "search.html", {"q": text, "global_q": text, "groups": groups, "total": total}
    )
