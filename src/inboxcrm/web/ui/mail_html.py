"""Mail bodies made safe to show: HTML sanitised with nh3 at display time, text kept as text.

Email HTML is written by strangers. What survives: basic formatting (paragraphs, lists, tables,
emphasis, quotes, headings), links to absolute http/https/mailto/tel URLs (opened in a new tab
with ``rel="noopener noreferrer"``), and images embedded as ``data:image/...`` (raster types
only). Scripts, styles, forms, frames, SVG, MathML, event handlers, ``style`` attributes,
relative and protocol-relative links and every other URL scheme are removed. The strict CSP of
the app is the second line of defence.

Remote images (``http``/``https``/``//host`` sources) would tell the sender when and where the
mail was read, so they are blocked by default: their ``src`` is dropped and counted
(:attr:`SafeMailHtml.remote_images`, which the page uses to offer "Load images"). Only when the
reader asks, the caller passes ``proxy_image``, which turns a remote URL into a signed URL of
inboxcrm's own image proxy (:mod:`inboxcrm.web.image_proxy`); the browser then never contacts
the remote host itself. At most :data:`MAX_PROXIED_IMAGES` images of one body go through the
proxy (the rest stay blocked), so one mail cannot make the server fetch without bound.

URLs are judged the way a browser reads them: leading and trailing spaces and control
characters are ignored and tabs and newlines inside removed before the scheme is read, so
``java&#9;script:`` is seen as ``javascript:``. nh3 then checks the scheme of every absolute URL
that is left once more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

import nh3

__all__ = [
    "MAX_PROXIED_IMAGES",
    "ImageProxy",
    "SafeMailHtml",
    "clean_mail_html",
    "remote_image_url",
    "sanitize_mail_html",
]

#: Turns the URL of a remote image into the URL the page may load instead.
ImageProxy = Callable[[str], str]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}
# Removed together with everything inside them, not only the tags.
_CONTENT_DROPPED = {"script", "style", "head", "title", "noscript", "template", "iframe", "object"}
_SAFE_IMAGE_RE = re.compile(r"^data:image/(png|gif|jpe?g|webp);base64,[A-Za-z0-9+/=\s]+$", re.I)
_LINK_SCHEMES = {"http", "https", "mailto", "tel"}
#: Remote images of one body that "Load images" routes through the proxy; later ones stay blocked.
MAX_PROXIED_IMAGES = 50
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


@dataclass(frozen=True)
class SafeMailHtml:
    """Sanitised HTML and how many remote images it had (blocked, or routed via the proxy)."""

    html: str
    remote_images: int


@dataclass
class _Pass:
    proxy_image: ImageProxy | None
    remote_images: int = 0


_CURRENT: ContextVar[_Pass | None] = ContextVar("mail_html_pass", default=None)


def _as_browser_reads(value: str) -> str:
    """``value`` with what the URL parser ignores removed (leading/trailing C0 and spaces,
    tabs and newlines anywhere)."""
    return _TAB_OR_NEWLINE.sub("", value.strip(_C0_OR_SPACE))


def remote_image_url(value: str) -> str | None:
    """The absolute http(s) URL an ``<img src>`` value loads from, or None if it is not remote."""
    url = _as_browser_reads(value)
    if url.startswith("//"):
        url = "https:" + url
    match = _SCHEME_RE.match(url)
    if match is None or match.group(1).lower() not in ("http", "https"):
        return None
    rest = url[match.end() :]
    if not rest.startswith("//") or len(rest) <= 2:
        return None
    return url


def _link_target(value: str) -> str | None:
    match = _SCHEME_RE.match(_as_browser_reads(value))
    if match is None or match.group(1).lower() not in _LINK_SCHEMES:
        return None  # relative, protocol-relative or another scheme
    return value


def _image_source(value: str) -> str | None:
    if _SAFE_IMAGE_RE.match(value.strip()):
        return value.strip()
    remote = remote_image_url(value)
    state = _CURRENT.get()
    if remote is None or state is None:
        return None
    state.remote_images += 1
    if state.proxy_image is None or state.remote_images > MAX_PROXIED_IMAGES:
        return None
    return state.proxy_image(remote)


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src":
        return _image_source(value)
    if element == "a" and attribute == "href":
        return _link_target(value)
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_CONTENT_DROPPED,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=_LINK_SCHEMES | {"data"},
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
    # Relative URLs reach the output only as the proxy's own image URLs: _filter_attribute
    # drops every relative link and image source of the mail itself.
    url_relative="pass_through",
)


def clean_mail_html(html: str, *, proxy_image: ImageProxy | None = None) -> SafeMailHtml:
    """Sanitise ``html`` (see the module docstring); remote images go through ``proxy_image``
    when given, and are dropped otherwise."""
    state = _Pass(proxy_image)
    token = _CURRENT.set(state)
    try:
        cleaned = str(_CLEANER.clean(html))
    finally:
        _CURRENT.reset(token)
    return SafeMailHtml(cleaned, state.remote_images)


def sanitize_mail_html(html: str) -> str:
    """Return ``html`` reduced to the safe subset, remote images blocked."""
    return clean_mail_html(html).html
