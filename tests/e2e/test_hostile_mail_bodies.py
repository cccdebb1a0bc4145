"""The hostile mail corpus synced from Gmail and rendered on the record page in Chromium.

Every message of tests/e2e/xss_corpus/ is delivered to an emulated Gmail mailbox, synced through
the real Gmail client and sync engine, and shown on one contact's record page; "Load older
activity" (htmx) is followed until the whole corpus is on the one page, every thread is opened
and every body hovered. The test fails on any of:

- a script of the mail running: Chromium's debugger reports every script compiled in the page
  (inline scripts, event handlers, ``javascript:`` URLs, eval), and only inboxcrm's own files
  may appear; ``alert``/``confirm``/``prompt``/``print`` are hooked and dialogs recorded too;
- a request for anything but the record page, its timeline fragments and /static (every
  request is intercepted, recorded and the others aborted), a WebSocket, a popup, a frame;
- the page navigating;
- a Content-Security-Policy violation (something the sanitiser let through that the CSP had
  to stop), or markup in a body outside the sanitiser's allowlist.

It runs twice: with the app's CSP, and with the CSP switched off in the browser, which shows
that the sanitiser alone already stops the whole corpus (the CSP is the second line).

A second test loads a mail's remote images with "Load images": only through /image-proxy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.providers.gmail.client import GmailProvider
from inboxcrm.services.mail_sync import sync_account
from tests.e2e.browser_steps import sign_in
from tests.e2e.hostile_corpus import MAILBOX, SENDER, HostileMail, load_corpus
from tests.factories import make_contact, make_email_message, make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.image_servers import ImageServers, serve_images
from tests.fixtures.web import Member, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIN_CORPUS = 300
BLOCKED_SCREENSHOT = "/tmp/inboxcrm-remote-images-blocked.png"
LOADED_SCREENSHOT = "/tmp/inboxcrm-remote-images-loaded.png"
_VIEWPORT = {"width": 1280, "height": 1600}
_INSTRUMENT_URL = "inboxcrm-xss-instrumentation.js"
_INSTRUMENT = (
    """
(() => {
  const report = (kind, detail) => {
    try { window.__xssReport(kind, String(detail).slice(0, 200)); } catch (e) {}
  };
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    const original = window[name];
    window[name] = function (...args) {
      report(name, args[0]);
      return original ? original.apply(this, args) : undefined;
    };
  }
  document.addEventListener("securitypolicyviolation",
    (e) => report("csp", e.violatedDirective + " " + e.blockedURI), true);
})();
//# sourceURL="""
    + _INSTRUMENT_URL
)
# Outside the sanitiser's allowlist (tags) or never allowed in a body (attributes).
_DOM_AUDIT = """
bodies => {
  const tags = new Set(%s);
  const attrs = new Set(["href", "src", "alt", "title", "width", "height", "colspan",
                         "rowspan", "start", "target", "rel"]);
  const found = [];
  for (const body of bodies) {
    const subject = body.closest("details")?.querySelector(".thread-subject")?.textContent;
    for (const el of body.querySelectorAll("*")) {
      // The page's own parts of a body: "Load images", the plain-text <pre>, notices.
      if (el.closest(".remote-images")) continue;
      if (el.parentElement === body && el.matches("pre.plain-body, p.muted")) continue;
      if (!tags.has(el.localName) || el.namespaceURI !== "http://www.w3.org/1999/xhtml")
        found.push([subject, "<" + el.localName + ">"]);
      for (const a of el.attributes) {
        if (!attrs.has(a.name)) found.push([subject, el.localName + "[" + a.name + "]"]);
      }
      if (el.localName === "a" && el.hasAttribute("href")
          && !/^(https?|mailto|tel):/i.test(el.getAttribute("href")))
        found.push([subject, "a[href=" + el.getAttribute("href") + "]"]);
      if (el.localName === "img" && el.hasAttribute("src")
          && !/^(data:image\\/(png|gif|jpe?g|webp);base64,|\\/image-proxy\\?)/i.test(
            el.getAttribute("src")))
        found.push([subject, "img[src=" + el.getAttribute("src").slice(0, 80) + "]"]);
    }
  }
  return found;
}
"""
_BODY_TAGS = [
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
]  # fmt: skip


# Playwright's injected helpers and the expressions this module evaluates in the page.
_PLAYWRIGHT_HELPER = re.compile(
    r"__playwright|utilityScript|injected\d*[,)]|const module = \{\}|\(\{ elements \}\)"
)
_AUDIT_EXPRESSION = _DOM_AUDIT % (json.dumps(_BODY_TAGS),)
_OPEN_THREADS = "els => els.forEach(e => { e.open = true; })"
_EVENTS = [
    "mouseover", "mouseenter", "mousemove", "mousedown", "mouseup", "mouseout", "mouseleave",
    "pointerover", "pointerenter", "pointerdown", "pointerup", "focus", "focusin", "blur",
    "focusout", "load", "error", "toggle", "animationstart", "animationend", "transitionend",
    "input", "change", "keydown", "keyup", "wheel", "scroll", "copy", "paste", "contextmenu",
    "dragstart", "drop", "select", "invalid", "submit", "beforeinput", "touchstart",
]  # fmt: skip
_FIRE_EVENTS = (
    "bodies => { const types = TYPES; for (const body of bodies) for (const el of "
    "[body, ...body.querySelectorAll('*')]) for (const type of types) "
    "el.dispatchEvent(new Event(type, {bubbles: false})); }"
).replace("TYPES", json.dumps(_EVENTS))
_HARNESS_EXPRESSIONS = {
    _AUDIT_EXPRESSION.strip(),
    _OPEN_THREADS,
    _FIRE_EVENTS,
    "els => els.forEach(e => { e.open = true; })",
    "window.scrollTo(0, 0)",
    "ee => ee.map(e => e.innerText)",
    "document.documentElement.scrollHeight",
}


@pytest.fixture
def image_servers() -> Iterator[ImageServers]:
    with serve_images() as servers:
        yield servers


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle, image_servers: ImageServers) -> Settings:
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
            "image_proxy_allowed_endpoints": image_servers.images.endpoint,
        }
    )


@dataclass
class PageWatch:
    """Everything the page did that it must not do."""

    origin: str
    allowed_paths: tuple[str, ...]
    scripts: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    allowed_requests: list[str] = field(default_factory=list)
    parsed: list[tuple[str, str, int]] = field(default_factory=list)
    main_url: str = ""
    cdp: Any = None

    def violations(self) -> dict[str, list[str]]:
        csp = [line for line in self.console if "Content Security Policy" in line]
        found = {
            "scripts run": self.scripts,
            "hooked calls": self.reports,
            "dialogs": self.dialogs,
            "requests leaving the page": self.requests,
            "navigations": self.navigations,
            "frames": self.frames,
            "popups, downloads, websockets": self.popups,
            "CSP violations": csp,
        }
        return {kind: items for kind, items in found.items() if items}


def _summary(found: dict[str, list[str]]) -> str:
    """The first few findings of each kind, for a readable failure."""
    lines = []
    for kind, items in found.items():
        lines.append(f"{kind}: {len(items)}")
        lines.extend(f"    {item[:200]}" for item in items[:8])
    return "\n".join(lines)


def _allowed(watch: PageWatch, url: str) -> bool:
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != watch.origin:
        return False
    return parts.path.startswith("/static/") or parts.path in watch.allowed_paths


def watch_page(context: Any, page: Any, watch: PageWatch) -> None:
    """Instrument ``page`` (of ``context``) to fill ``watch`` (see the module docstring)."""

    def on_route(route: Any) -> None:
        url = route.request.url
        if _allowed(watch, url):
            watch.allowed_requests.append(url)
            route.continue_()
        else:
            watch.requests.append(f"{route.request.method} {url}")
            route.abort()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_navigated(frame: Any) -> None:
        if frame == page.main_frame and watch.main_url and frame.url != watch.main_url:
            watch.navigations.append(frame.url)

    def on_script(event: dict[str, Any]) -> None:
        aux = event.get("executionContextAuxData") or {}
        url = str(event.get("url", ""))
        if not aux.get("isDefault", False) or url == _INSTRUMENT_URL:
            return  # Playwright's isolated worlds, our instrumentation
        if url and _allowed(watch, url) and urlsplit(url).path.startswith("/static/"):
            return  # app.js, htmx
        watch.parsed.append((str(event["scriptId"]), url, int(event.get("startLine", 0))))

    context.expose_binding(
        "__xssReport", lambda _source, kind, detail: watch.reports.append(f"{kind}: {detail}")
    )
    context.add_init_script(script=_INSTRUMENT)
    context.route("**/*", on_route)
    context.on("page", lambda p: watch.popups.append(f"popup {p.url}") if p != page else None)
    page.on("dialog", on_dialog)
    page.on("framenavigated", on_navigated)
    page.on("frameattached", lambda frame: watch.frames.append(frame.url or "(about:blank)"))
    page.on("download", lambda d: watch.popups.append(f"download {d.url}"))
    page.on("websocket", lambda ws: watch.popups.append(f"websocket {ws.url}"))
    page.on("console", lambda msg: watch.console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: watch.console.append(f"pageerror: {err}"))
    cdp = context.new_cdp_session(page)
    cdp.on("Debugger.scriptParsed", on_script)
    cdp.send("Debugger.enable")
    watch.parsed.clear()  # scripts of the document already shown (reported on enable)
    watch.cdp = cdp


def judge_scripts(watch: PageWatch) -> None:
    """Move every script the page compiled that is not ours into ``watch.scripts``.

    Scripts with a URL (an inline ``<script>`` or event handler has the document's) are never
    ours. Scripts without one are Playwright's own helpers (the harness's evaluate calls) or
    ``javascript:`` URLs and eval of a payload; their source tells which.
    """
    for script_id, url, line in watch.parsed:
        if url:
            watch.scripts.append(f"{url} line {line}")
            continue
        try:
            source = watch.cdp.send("Debugger.getScriptSource", {"scriptId": script_id})
        except Exception:
            source = {"scriptSource": ""}
        text = str(source.get("scriptSource", ""))
        if not _PLAYWRIGHT_HELPER.search(text[:400]) and text.strip() not in _HARNESS_EXPRESSIONS:
            watch.scripts.append("(no URL) " + text[:160])


def _user_id(base_url: str, member: Member) -> int:
    response = httpx.get(base_url + "/api/v1/me", headers=member.headers)
    assert response.status_code == 200
    return int(response.json()["user_id"])


def _sync_corpus(
    runtime: Runtime, emulator: EmulatorHandle, user_id: int, corpus: list[HostileMail]
) -> int:
    emulator.create_user(MAILBOX)
    for mail in corpus:
        emulator.deliver(MAILBOX, mail.raw)
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Hostile", last_name="Sender", emails=[SENDER])
        account = make_mail_account(
            uow, user_id=user_id, email=MAILBOX, status="connected",
            settings={"lookback_days": 3650},
        )  # fmt: skip
        contact_id, account_id = contact.id, account.id
    mailbox = GmailProvider(emulator.url).open_mailbox(emulator.credentials(MAILBOX))
    report = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert report.status == "ok", report
    assert report.stored == len(corpus), report
    return contact_id


def _load_every_page(page: Any, expected: int) -> None:
    """Follow "Load older activity" until every message is on the page (bounded)."""
    articles = page.locator("article.message")
    for _ in range(expected // 10 + 5):
        more = page.locator("li.tl-more a")
        if more.count() == 0:
            break
        shown = articles.count()
        more.first.click()
        articles.nth(shown).wait_for(state="attached")
    assert page.locator("li.tl-more").count() == 0
    assert articles.count() == expected


def _exercise(page: Any) -> None:
    """Open every thread, fire every common event at every element of every body (synthetic
    events run inline handlers just as real ones do; ``click`` is left out, it would follow
    links), move the real mouse across the page, tab once, and let the network settle."""
    page.locator("details.thread").evaluate_all(_OPEN_THREADS)
    page.locator("article.message .mail-body").evaluate_all(_FIRE_EVENTS)
    page.mouse.move(40, 40)
    page.mouse.move(1240, _VIEWPORT["height"] - 40, steps=20)
    page.keyboard.press("Tab")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("csp", ["enforced", "switched-off"])
def test_no_hostile_mail_body_runs_script_loads_anything_or_navigates(
    csp: str,
    live_server: str,
    chromium_browser: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    corpus = load_corpus()
    assert len(corpus) >= MIN_CORPUS
    rep = tenants.member("acme", "rep")
    contact_id = _sync_corpus(runtime, emulator, _user_id(live_server, rep), corpus)
    record_path = f"/contacts/{contact_id}"

    context = chromium_browser.new_context(viewport=_VIEWPORT, bypass_csp=csp == "switched-off")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        sign_in(page, live_server, rep)
        watch = PageWatch(live_server, (record_path, record_path + "/timeline"))
        watch_page(context, page, watch)
        watch.main_url = live_server + record_path
        page.goto(watch.main_url)
        _load_every_page(page, len(corpus))
        _exercise(page)
        markup = page.locator("article.message .mail-body").evaluate_all(_AUDIT_EXPRESSION)
        subjects = set(page.locator(".thread-subject").all_inner_texts())
        judge_scripts(watch)
    finally:
        context.close()

    assert watch.violations() == {}, _summary(watch.violations())
    assert markup == []
    missing = [
        m.name
        for m in corpus
        if not any(s == f"XSS {m.name}" or s.startswith(f"XSS {m.name} ") for s in subjects)
    ]
    assert missing == []
    assert len([u for u in watch.allowed_requests if "/timeline?" in u]) >= len(corpus) // 30


def test_load_images_fetches_remote_images_only_through_the_proxy(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    image_servers: ImageServers,
) -> None:
    rep = tenants.member("acme", "rep")
    user_id = _user_id(live_server, rep)
    internal = image_servers.internal.url
    body = (
        f'<p>Our new logo:</p><img id="logo" src="{image_servers.images.url}/cat.png" alt="logo">'
        f'<img id="pixel" src="{internal}/track.gif" width="1" height="1">'
    )
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=[SENDER])
        account = make_mail_account(uow, user_id=user_id, email=MAILBOX)
        message = make_email_message(
            uow, mail_account=account, link_to=[("contact", contact.id)], body_html=body
        )
        message_id, contact_id = message.id, contact.id
    page = browser_page
    context = page.context
    sign_in(page, live_server, rep)
    record_path = f"/contacts/{contact_id}"
    paths = (record_path, f"/email-messages/{message_id}/body", "/image-proxy")
    watch = PageWatch(live_server, paths)
    watch_page(context, page, watch)
    watch.main_url = live_server + record_path
    page.goto(watch.main_url)
    page.locator("details.thread summary").first.click()
    mail_body = page.locator(f"#mail-body-{message_id}")
    assert "2 remote images blocked" in mail_body.inner_text()
    assert image_servers.images.requests == []
    page.screenshot(path=BLOCKED_SCREENSHOT)

    mail_body.locator("button.load-images").click()
    logo = page.locator(f"#mail-body-{message_id} img[alt=logo]")
    logo.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth === 2", arg=logo.element_handle())
    page.wait_for_load_state("networkidle")
    assert page.locator(f"#mail-body-{message_id} .remote-images").count() == 0
    page.screenshot(path=LOADED_SCREENSHOT)

    proxied = [u for u in watch.allowed_requests if urlsplit(u).path == "/image-proxy"]
    assert len(proxied) == 2
    assert watch.requests == []  # the browser itself contacted no other host
    assert [path for path, _ in image_servers.images.requests] == ["/cat.png"]
    assert image_servers.images.requests[0][1]["user-agent"].startswith("inboxcrm-image-proxy")
    assert image_servers.internal.requests == []  # the pixel on loopback was refused
    assert watch.navigations == []
