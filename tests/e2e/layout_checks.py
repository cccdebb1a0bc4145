"""Layout checks the browser tests share: no page may scroll sideways at desktop or phone width."""

from __future__ import annotations

from typing import Any

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
WIDTHS = (DESKTOP, PHONE)

_OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    const fixed = getComputedStyle(el).position === "fixed";
    if (box.width > 0 && box.right > width + 1 && !fixed) {
      let clipped = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const style = getComputedStyle(p);
        if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) {
          clipped = true;
          break;
        }
      }
      if (!clipped) {
        const name = (e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "");
        const parent = el.parentElement ? name(el.parentElement) + " > " : "";
        const text = (el.textContent || "").trim().slice(0, 40);
        wide.push(parent + name(el) + (text ? ` "${text}"` : ""));
      }
    }
  }
  return {scroll: doc.scrollWidth - width, wide: wide.slice(0, 5)};
}"""


def overflow_at(page: Any, viewport: dict[str, int]) -> dict[str, Any]:
    """How far the page is wider than ``viewport``, and the first elements sticking out."""
    page.set_viewport_size(viewport)
    result: dict[str, Any] = page.evaluate(_OVERFLOW_JS)
    return result


def assert_fits_both_widths(page: Any) -> None:
    """The current page neither scrolls sideways nor sticks out, at 1,366 and at 390 px."""
    try:
        for viewport in WIDTHS:
            found = overflow_at(page, viewport)
            assert found["scroll"] <= 0 and not found["wide"], (
                f"{page.url} at {viewport['width']} px: {found['scroll']} px too wide, "
                f"sticking out: {found['wide']}"
            )
    finally:
        page.set_viewport_size(DESKTOP)
