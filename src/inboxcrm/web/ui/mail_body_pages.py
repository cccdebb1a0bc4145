"""One message's body as a fragment: the record page's "Load images" (htmx).

    GET /email-messages/{id}/body            the body, remote images blocked
    GET /email-messages/{id}/body?images=1   the body with remote images through the image proxy

The body is read under the mail sharing rules (:mod:`inboxcrm.services.mail_bodies`) and
rendered by the same partial as the timeline (``records/_mail_body.html``); with ``images`` each
remote image URL becomes a proxy URL signed for this reader and this message
(:func:`inboxcrm.web.image_proxy.image_proxy_path`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Path, Query, Request, Response

from inboxcrm.services.mail_bodies import readable_body
from inboxcrm.services.mail_sharing import mail_viewer
from inboxcrm.web.api.params import StrictDigits
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow
from inboxcrm.web.image_proxy import image_proxy_path
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.rendering import render

router = page_router()

MessageId = Annotated[int, StrictDigits, Path(ge=1, le=2**31 - 1)]


@router.get("/email-messages/{message_id}/body")
def message_body(
    request: Request,
    message_id: MessageId,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    images: Annotated[bool, Query()] = False,
) -> Response:
    body = readable_body(uow, mail_viewer(runtime, principal), message_id)
    proxy = partial(image_proxy_path, runtime.settings, principal, message_id) if images else None
    return render(request, "records/_mail_body.html", {"m": body, "image_proxy": proxy})
