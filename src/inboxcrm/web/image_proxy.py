"""The image proxy: remote images of a mail, fetched by inboxcrm only when the reader asks.

The whole flow, from mail to pixels:

1. Record page: mail HTML is sanitised with remote images blocked
   (:mod:`inboxcrm.web.ui.mail_html`); a message that had some shows "Load images".
2. "Load images" fetches that message's body again (``GET /email-messages/{id}/body?images=1``,
   :mod:`inboxcrm.web.ui.mail_body_pages`), now with every remote ``<img src>`` replaced by
   :func:`image_proxy_path`: ``/image-proxy?m=<message>&e=<expiry>&u=<url>&s=<signature>``.
   The signature is an HMAC-SHA256 under a key derived from ``INBOXCRM_SECRET_KEY`` over the
   tenant, the reader's user id, the message id, the expiry and the URL: a proxy URL works
   only for that reader, for an image of that message, until it expires
   (``INBOXCRM_IMAGE_PROXY_URL_TTL_SECONDS``). Nobody can make the proxy fetch a URL that is
   not in a mail they were shown.
3. ``GET /image-proxy`` (:func:`proxy_image`) needs the reader's browser session and a valid,
   unexpired signature for them, then fetches the URL with
   :func:`inboxcrm.adapters.image_fetcher.fetch_image`: public addresses only, after DNS
   resolution and for every redirect hop (at most ``INBOXCRM_IMAGE_PROXY_MAX_REDIRECTS``), in
   every IP notation; size and time caps (``..._MAX_BYTES``, ``..._TIMEOUT_SECONDS``); raster
   images only, by content type and magic number.
4. The image is served with the type it was sniffed as, under a CSP of its own
   (``default-src 'none'; sandbox``), ``nosniff`` and ``Cross-Origin-Resource-Policy:
   same-origin``; the page's own CSP (``img-src 'self' data:``) allows nothing else.

Refusals are RFC 9457 problem documents (403 target refused or bad signature, 502 upstream,
504 timeout). Logs carry the message id and the reason, never the URL (it is mail content, and
trackers put the reader's address in it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BeforeValidator

from inboxcrm.adapters.image_fetcher import FetchLimits, ImageFetchError, fetch_image
from inboxcrm.config import Settings
from inboxcrm.domain.errors import AuthenticationFailed, PermissionDenied
from inboxcrm.services.identity import Principal
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep


def _strict_digits(value: Any) -> Any:
    """Like ``web.api.params.StrictDigits`` (not imported: that package imports this module)."""
    if isinstance(value, str) and not (
        0 < len(value) <= 19 and value.isascii() and value.isdigit()
    ):
        raise ValueError("must be a whole number written with digits 0-9")
    return value


_StrictDigits = BeforeValidator(_strict_digits)

__all__ = ["PROXY_PATH", "fetch_limits", "image_proxy_path", "proxy_router", "verify_signature"]

logger = logging.getLogger(__name__)

PROXY_PATH = "/image-proxy"
MAX_URL_LENGTH = 4096
_KEY_PURPOSE = b"inboxcrm image proxy v1"
_IMAGE_HEADERS = {
    "Cache-Control": "private, max-age=3600",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Disposition": 'inline; filename="image"',
}

proxy_router = APIRouter(include_in_schema=False)


def _signature(
    settings: Settings, tenant: str, user_id: int, message_id: int, expires: int, url: str
) -> str:
    key = hmac.new(settings.secret_key.get_secret_value().encode(), _KEY_PURPOSE, "sha256")
    payload = json.dumps([tenant, user_id, message_id, expires, url], separators=(",", ":"))
    return hmac.new(key.digest(), payload.encode(), hashlib.sha256).hexdigest()


def image_proxy_path(
    settings: Settings, principal: Principal, message_id: int, url: str, *, now: float | None = None
) -> str:
    """The proxy URL through which ``principal`` may load the image ``url`` of a message."""
    expires = int(now if now is not None else time.time()) + settings.image_proxy_url_ttl_seconds
    signature = _signature(
        settings, principal.tenant_slug, principal.user_id, message_id, expires, url
    )
    query = urlencode({"m": message_id, "e": expires, "u": url, "s": signature})
    return f"{PROXY_PATH}?{query}"


def verify_signature(
    settings: Settings,
    principal: Principal,
    message_id: int,
    expires: int,
    url: str,
    signature: str,
    *,
    now: float | None = None,
) -> None:
    """Raise PermissionDenied unless ``signature`` was issued to ``principal`` and is unexpired."""
    expected = _signature(
        settings, principal.tenant_slug, principal.user_id, message_id, expires, url
    )
    if not hmac.compare_digest(expected, signature):
        raise PermissionDenied("this image link is not valid for you")
    moment = now if now is not None else time.time()
    if expires < moment:
        raise PermissionDenied("this image link has expired; reload the page")
    if expires > moment + settings.image_proxy_url_ttl_seconds:
        raise PermissionDenied("this image link is not valid for you")


def fetch_limits(settings: Settings) -> FetchLimits:
    """The fetcher's caps from the settings (``ip:port`` allowances parsed strictly)."""
    endpoints: set[tuple[str, int]] = set()
    for entry in settings.image_proxy_allowed_endpoints.split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"not an ip:port endpoint: {entry!r}")
        endpoints.add((host.strip("[]"), int(port)))
    return FetchLimits(
        max_bytes=settings.image_proxy_max_bytes,
        timeout_s=settings.image_proxy_timeout_seconds,
        max_redirects=settings.image_proxy_max_redirects,
        allowed_endpoints=frozenset(endpoints),
    )


@proxy_router.get(PROXY_PATH)
def proxy_image(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    m: Annotated[int, _StrictDigits, Query(ge=1, le=2**31 - 1)],
    e: Annotated[int, _StrictDigits, Query(ge=0, le=2**40)],
    u: Annotated[str, Query(min_length=1, max_length=MAX_URL_LENGTH)],
    s: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> Response:
    """One remote image of a message, for the reader it was signed for (module docstring)."""
    if principal.via != "session":
        raise AuthenticationFailed("images are loaded in a signed-in browser session")
    settings = runtime.settings
    verify_signature(settings, principal, m, e, u, s)
    try:
        image = fetch_image(u, fetch_limits(settings))
    except ImageFetchError as exc:
        logger.info(
            "image proxy refused an image of message %s in tenant %s: %s",
            m,
            principal.tenant_slug,
            exc.code,
        )
        raise
    return Response(content=image.body, media_type=image.content_type, headers=_IMAGE_HEADERS)
