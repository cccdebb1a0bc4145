"""Fetching one remote image for the image proxy, without letting the URL reach inside.

:func:`fetch_image` takes a URL from a mail body and returns the image bytes, or raises one of
the :class:`ImageFetchError` kinds below. Each hop (the URL, then every redirect target, at most
``max_redirects``) goes through the same checks before anything is sent:

1. scheme ``http`` or ``https``, no user-info, a host;
2. the host as an IP literal in any notation (``network_targets.literal_address``), or else
   every address the resolver gives for the name, must be public
   (``network_targets.is_public_address``), unless the exact ``ip:port``
   endpoint is in ``allowed_endpoints`` (a setting for tests; empty in production);
3. the connection goes to the address that was checked (the URL's host is replaced by it; the
   ``Host`` header and the TLS server name keep the original name, and certificates are
   verified against it), so a second DNS answer cannot redirect the connection.

The response must be 200 with an image content type; its body is read in chunks and abandoned
past ``max_bytes`` or the overall ``timeout_s``. The bytes must then be a raster image by their
magic number (PNG, GIF, JPEG, WebP, AVIF, BMP, ICO); SVG is refused, since it may carry script.
Proxy variables of the environment are ignored (a proxy would bypass step 3).

    ImageFetchError (InboxCrmError)
    ├── ImageTargetRefused   403  the URL or a redirect leads somewhere not allowed
    ├── ImageUpstreamError   502  the remote server failed or answered with something unusable
    │   ├── ImageTooLarge         more than max_bytes
    │   └── NotAnImage            not an allowed raster image type
    └── ImageTimeout         504  no complete answer within timeout_s
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field

import httpx

from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.domain.network_targets import (
    InvalidHost,
    IPAddress,
    is_public_address,
    literal_address,
    parse_address,
)

__all__ = [
    "FetchLimits",
    "FetchedImage",
    "ImageFetchError",
    "ImageTargetRefused",
    "ImageTimeout",
    "ImageTooLarge",
    "ImageUpstreamError",
    "NotAnImage",
    "Resolver",
    "fetch_image",
    "sniff_image_type",
]

Resolver = Callable[[str, int], list[str]]
_REDIRECTS = {301, 302, 303, 307, 308}
_USER_AGENT = "inboxcrm-image-proxy/1"
_CHUNK = 64 * 1024


class ImageFetchError(InboxCrmError):
    code = "image_fetch_failed"
    status = 502


class ImageTargetRefused(ImageFetchError):
    code = "image_target_refused"
    status = 403


class ImageUpstreamError(ImageFetchError):
    code = "image_upstream_error"
    status = 502


class ImageTooLarge(ImageUpstreamError):
    code = "image_too_large"


class NotAnImage(ImageUpstreamError):
    code = "not_an_image"


class ImageTimeout(ImageFetchError):
    code = "image_timeout"
    status = 504


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 5_000_000
    timeout_s: float = 10.0
    max_redirects: int = 3
    allowed_endpoints: frozenset[tuple[str, int]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class FetchedImage:
    content_type: str
    body: bytes


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ImageUpstreamError("the image host does not resolve") from exc
    return [str(info[4][0]) for info in infos]


def sniff_image_type(head: bytes) -> str | None:
    """The raster image type of a body by its magic number, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if head.startswith(b"BM") and len(head) > 14:
        return "image/bmp"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "image/x-icon"
    return None


@dataclass(frozen=True)
class _Hop:
    url: httpx.URL
    address: IPAddress


def _check_hop(url: httpx.URL, limits: FetchLimits, resolve: Resolver) -> _Hop:
    if url.scheme not in ("http", "https"):
        raise ImageTargetRefused("only http and https images are fetched")
    if url.userinfo:
        raise ImageTargetRefused("image URLs with credentials are refused")
    host = url.host
    if not host:
        raise ImageTargetRefused("the image URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        literal = literal_address(host)
    except InvalidHost as exc:
        raise ImageTargetRefused("the image URL's host is not valid") from exc
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [parse_address(a) for a in resolve(host, port)]
    if not addresses:
        raise ImageUpstreamError("the image host does not resolve")
    for address in addresses:
        if not is_public_address(address) and (str(address), port) not in limits.allowed_endpoints:
            raise ImageTargetRefused("the image URL leads to a private or reserved address")
    return _Hop(url, addresses[0])


def _pinned_request(client: httpx.Client, hop: _Hop, deadline: float) -> httpx.Request:
    url = hop.url
    default_port = 443 if url.scheme == "https" else 80
    host_header = url.host if url.port in (None, default_port) else f"{url.host}:{url.port}"
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ImageTimeout("the image did not arrive in time")
    return client.build_request(
        "GET",
        url.copy_with(host=str(hop.address)),
        headers={"Host": host_header, "Accept": "image/*", "User-Agent": _USER_AGENT},
        extensions=extensions,
        timeout=httpx.Timeout(remaining, connect=min(remaining, 5.0)),
    )


def _read_capped(chunks: Iterable[bytes], limits: FetchLimits, deadline: float) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limits.max_bytes:
            raise ImageTooLarge("the image is larger than the proxy allows")
        if time.monotonic() > deadline:
            raise ImageTimeout("the image did not arrive in time")
    return bytes(body)


def _declared_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def fetch_image(url: str, limits: FetchLimits, *, resolve: Resolver = resolve_host) -> FetchedImage:
    """Fetch the image at ``url`` under ``limits`` (see the module docstring)."""
    deadline = time.monotonic() + limits.timeout_s
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ImageTargetRefused("the image URL is not valid") from exc
    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        for _ in range(limits.max_redirects + 1):
            hop = _check_hop(current, limits, resolve)
            try:
                response = client.send(_pinned_request(client, hop, deadline), stream=True)
                with closing(response):
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location", "")
                        if not location:
                            raise ImageUpstreamError("a redirect without a target")
                        try:
                            current = current.join(location)
                        except httpx.InvalidURL as exc:
                            raise ImageTargetRefused("the redirect target is not valid") from exc
                        continue
                    if response.status_code != 200:
                        raise ImageUpstreamError(
                            f"the image server answered {response.status_code}"
                        )
                    declared = response.headers.get("content-type", "").split(";")[0].strip()
                    if not declared.lower().startswith("image/"):
                        raise NotAnImage("the remote answer is not an image")
                    length = _declared_length(response)
                    if length is not None and length > limits.max_bytes:
                        raise ImageTooLarge("the image is larger than the proxy allows")
                    body = _read_capped(response.iter_bytes(_CHUNK), limits, deadline)
            except httpx.TimeoutException as exc:
                raise ImageTimeout("the image did not arrive in time") from exc
            except httpx.HTTPError as exc:
                raise ImageUpstreamError("the image could not be fetched") from exc
            sniffed = sniff_image_type(body[:32])
            if sniffed is None:
                raise NotAnImage("the remote answer is not a supported image")
            return FetchedImage(content_type=sniffed, body=body)
    raise ImageTargetRefused("too many redirects")
