"""Webhooks from providers: ``POST /hooks/gmail/push`` (Gmail notifications via Pub/Sub push).

The request must carry Google's OIDC bearer token for our push subscription: RS256 signature
checked against ``settings.push_jwks_url``, audience ``settings.push_audience``, issuer Google,
a verified ``email`` claim always, and the push service account when configured (production
refuses to start without one, see ``config``). Anything else is a 401 problem document.
A valid notification queues an incremental sync of the mailbox in every tenant that holds it
(see ``services.mailbox_routes``) and is acknowledged with 204;
a notification for a mailbox we do not know is acknowledged too (Pub/Sub would otherwise retry
it for days) and logged.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from inboxcrm.domain.errors import AuthenticationFailed
from inboxcrm.providers.gmail.push import parse_push_body, verify_push_token
from inboxcrm.services.mail_sync import handle_push
from inboxcrm.web.deps import RuntimeDep

__all__ = ["hooks_router"]

logger = logging.getLogger(__name__)

hooks_router = APIRouter(prefix="/hooks", tags=["hooks"], include_in_schema=True)

MAX_PUSH_BODY = 64 * 1024


@hooks_router.post("/gmail/push", status_code=204, response_class=Response)
async def gmail_push(request: Request, runtime: RuntimeDep) -> Response:
    """Receive a Gmail push notification and queue an incremental sync of that mailbox."""
    settings = runtime.settings
    if not settings.push_audience or not settings.push_jwks_url:
        raise AuthenticationFailed("push notifications are not configured")
    authorization = request.headers.get("authorization")
    await run_in_threadpool(
        verify_push_token,
        authorization,
        audience=settings.push_audience,
        certs_url=settings.push_jwks_url,
        service_account=settings.push_service_account or None,
    )
    body = await request.body()
    if len(body) > MAX_PUSH_BODY:
        return Response(status_code=413)
    notice = parse_push_body(body)
    routes = await run_in_threadpool(handle_push, runtime, notice.email, notice.history_id)
    if not routes:
        logger.info("push for an unknown mailbox acknowledged (history %s)", notice.history_id)
    return Response(status_code=204)
