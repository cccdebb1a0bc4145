"""Mail bodies made safe to show: HTML sanitised with nh3 at display time, text kept as text.

Email HTML is written by strangers. What survives: basic formatting (paragraphs, lists, tables,
emphasis, quotes, headings), links to http/https/mailto/tel (opened in a new tab with
``rel="noopener noreferrer"``), and images only when embedded as ``data:image/...`` (remote images
would tell the sender when and where the mail was read). Scripts, styles, forms, frames, event
handlers, ``style`` attributes, relative URLs and every other URL scheme are removed. The strict
CSP of the app is the second line of defence.
"""

from __future__ import annotations

import re

import nh3

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


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src":
        return value if _SAFE_IMAGE_RE.match(value.strip()) else None
    if element == "a" and attribute == "href":
        scheme, sep, _ = value.strip().partition(":")
        if sep and scheme.lower() not in _LINK_SCHEMES:
            return None
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
    url_relative="deny",
)


def sanitize_mail_html(html: str) -> str:
    """Return ``html`` reduced to the safe subset described in the module docstring."""
    return str(_CLEANER.clean(html))
