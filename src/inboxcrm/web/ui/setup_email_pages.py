"""Setup → Email: connected mailboxes, their sync status, and the tenant's mail settings.

GET  /setup/email                         the page (``?connected=<id>`` after the OAuth callback,
                                          ``?notice=<code>`` after a post)
GET  /setup/email/accounts                the accounts table alone; the page polls it with htmx
                                          (every 2 s while a sync runs or a new mailbox
                                          waits for its first one, every 15 s otherwise)
POST /setup/email/connect                 303 to Google's consent page (the OAuth callback in
                                          ``web.oauth_routes`` comes back to /setup/email)
POST /setup/email/{account_id}/sync       queue a sync (``full=1``: a full resync)
POST /setup/email/{account_id}/disconnect revoke at Google, delete tokens, purge mail later
POST /setup/email/{account_id}/options    labels to sync and look-back window
POST /setup/email/{account_id}/sharing    who else sees the mailbox's mail, and how much (owner)
GET  /setup/email/{account_id}/ledger     the sync ledger (``?outcome=`` filter, ``?after=`` page)
POST /setup/email/settings                storage policy and contact auto-creation (admins)
POST /setup/email/never-log               add an address or domain to the never-log list (admins)
POST /setup/email/never-log/remove        remove one (admins)
POST /setup/email/sharing                 the most any mailbox may share (admins)

Every write goes through the same service functions as ``/api/v1/mail-accounts`` and
``/api/v1/mail-settings``. (The Connect Gmail post ends in a redirect to the consent page; the
app-wide Content-Security-Policy lists that origin under ``form-action``.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.roles import MAIL_INTEGRATION_MISSING, is_admin
from inboxcrm.domain.sharing import Detail, Visibility
from inboxcrm.services import (
    gmail_grants,
    mail_accounts,
    mail_connect,
    mail_settings,
    mail_sharing,
    prep_briefs,
)
from inboxcrm.services.identity import Principal
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.api.params import PathId, StrictDigits
from inboxcrm.web.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    RuntimeDep,
    TenantUow,
    WriterPrincipal,
)
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_forms import PostedForm, form_texts
from inboxcrm.web.ui.rendering import render

__all__ = ["EMAIL_SECTIONS", "SETUP_EMAIL", "EmailSection", "router"]

logger = logging.getLogger(__name__)

router = page_router()

SETUP_EMAIL = "/setup/email"
AccountId = PathId

RUNNING_PHASES = frozenset({"listing", "fetching", "labelling", "incremental"})
POLL_RUNNING_S = 2
POLL_IDLE_S = 15
LEDGER_PAGE = 50
LEDGER_OUTCOMES = ("skipped", "stored", "pending", "all")

PHASE_LABELS = {
    "idle": "Waiting for the first sync",
    "listing": "Finding the mail in scope",
    "fetching": "Fetching messages",
    "labelling": "Labelling synced mail in Gmail",
    "incremental": "Checking for new mail",
    "done": "Up to date",
    "error": "Last sync failed",
    "failed": "Last sync failed",
    "stalled": "Interrupted; resuming by itself",
    "starting": "Starting",
}

#: Labels offered as checkboxes; any other label id can be typed in.
COMMON_LABELS = (
    ("INBOX", "Inbox"),
    ("SENT", "Sent"),
    ("IMPORTANT", "Important"),
    ("STARRED", "Starred"),
)

STORAGE_CHOICES = (
    ("full", "Full messages", "Subject, addresses, snippet and the whole body (text and "
     "sanitised HTML) are stored."),
    ("snippet", "Snippet only", "Subject, addresses and Gmail's short snippet; no body is stored."),
    ("metadata", "Metadata only", "Addresses, subject and time; no snippet and no body."),
    ("live", "Live from Gmail", "Only ids and threading headers; subject and body are fetched "
     "from Gmail when opened, never stored, and unavailable after a disconnect."),
)  # fmt: skip
AUTOCREATE_CHOICES = (
    ("off", "Off", "Mail is only linked to existing leads, contacts and accounts."),
    ("sent", "From sent mail", "People you write to become contacts."),
    ("sent_and_received", "From sent and received mail",
     "People you write to or hear from become contacts."),
)  # fmt: skip

#: Messages shown after a post (the redirect carries only the code, never free text).
NOTICES = {
    "sync_queued": "Sync queued. New mail will appear on the timelines in a moment.",
    "nothing_missing": "This mailbox already has every permission inboxcrm asks for.",
    "full_sync_queued": "Full resync queued: the whole look-back window is scanned again.",
    "disconnected": "Mailbox disconnected: access was revoked at Google, its tokens were "
    "deleted and syncing stopped. Its synced mail is deleted after the retention period.",
    "options_saved": "Sync options saved. They apply from the next sync; run a full resync to "
    "apply them to mail already scanned.",
    "settings_saved": "Mail settings saved. They apply to mail synced from now on.",
    "never_log_added": "Added to the never-log list.",
    "never_log_removed": "Removed from the never-log list; its mail is being back-filled.",
    "sharing_saved": "Sharing saved. Colleagues see your mail this way from now on.",
    "sharing_maximum_saved": "Sharing limit saved. It applies to every mailbox at once.",
    "calendar_features_saved": "Google Calendar and deal-label settings saved.",
    "meeting_prep_saved": "Your meeting prep brief choice is saved.",
    "google_features_saved": "Google features saved. Each person can now allow them for their "
    "own mailbox.",
    "google_feature_disabled": "An admin has not enabled that Google feature for the organisation.",
    "google_feature_granted": "This mailbox has already allowed that Google feature.",
    "google_feature_unknown": "Choose Google Contacts or Google Calendar.",
    "contacts_not_granted": "Allow Google Contacts for this mailbox first.",
    "contacts_import_queued": "Google contacts import started. You get a notification when it "
    "is done.",
    "customer_alerts_saved": "Alert setting saved.",
}

VISIBILITY_CHOICES = (
    (Visibility.PRIVATE, "Only me"),
    (Visibility.TEAM, "My team"),
    (Visibility.TENANT, "Everyone in the organisation"),
)
DETAIL_CHOICES = (
    (Detail.METADATA, "Who, when and which way (no subject, no content)"),
    (Detail.SUBJECT, "Also the subject"),
    (Detail.EVERYTHING, "Everything: subject, snippet, body and attachments"),
)

SKIP_REASONS = {
    "no_match": "No lead, contact or account address in the message",
    "no_match_headers": "Headers showed no CRM address (the body was never fetched)",
    "never_log": "An address or domain on the never-log list",
    "label_excluded": "Its labels are not among the synced labels",
    "draft": "A draft",
    "vanished": "Deleted from the mailbox before it could be fetched",
    "storage_policy": "Not stored under the tenant's storage policy",
}


FEATURE_LABELS = {
    "sync": "read mail (sync)",
    "send": "send mail",
    "labels": 'label synced mail ("Synced to inboxcrm")',
}


def skip_reason_text(reason: str | None) -> str:
    """A sentence for a ledger skip reason (``unparseable:<why>`` keeps its detail)."""
    if not reason:
        return ""
    if reason.startswith("unparseable"):
        why = reason.partition(":")[2]
        return "The message could not be parsed" + (f" ({why})" if why else "")
    return SKIP_REASONS.get(reason, reason)


@dataclass(frozen=True)
class EmailSection:
    """One tab of Setup → Email: its anchor (``#section-<slug>``), label and template."""

    slug: str
    label: str
    admin_only: bool = False

    @property
    def template(self) -> str:
        return f"setup/sections/{self.slug.replace('-', '_')}.html"


#: The page's sections, in tab order; a new one is one entry here and one template.
EMAIL_SECTIONS = (
    EmailSection("mailboxes", "Mailboxes"),
    EmailSection("sync", "Sync"),
    EmailSection("sharing", "Sharing"),
    EmailSection("privacy", "Privacy & storage"),
    EmailSection("never-log", "Never log", admin_only=True),
    EmailSection("tracking", "Tracking"),
    EmailSection("google", "Google"),
    EmailSection("calendar", "Calendar & labels"),
)


# -- view models --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountStatus:
    """A mail account with what the status table shows of its sync (from ``sync.status``)."""

    account: mail_accounts.MailAccount
    running: bool
    scanned: int
    stored: int
    skipped: int
    total: int
    percent: int | None
    mode: str
    stored_total: int = 0
    skipped_total: int = 0
    conversations: int = 0

    @property
    def status(self) -> str:
        """``connected``, ``disconnected``, ``stalled`` or ``error`` (the last run failed)."""
        if self.account.status == "connected" and self.account.sync_state == "failed":
            return "error"
        if self.account.status == "connected" and self.account.sync_state == "stalled":
            return "stalled"
        return self.account.status

    @property
    def connected(self) -> bool:
        return self.account.status != "disconnected"

    @property
    def awaiting_first_sync(self) -> bool:
        """Just connected: the first sync is queued and about to start."""
        return self.account.status == "connected" and self.account.sync_state == "waiting"


def _count(progress: dict[str, Any], key: str) -> int:
    value = progress.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def account_status(account: mail_accounts.MailAccount) -> AccountStatus:
    """The figures of the status fragment: the running (or last) run's, and the totals."""
    facts = account.sync_status
    run = facts.get("run") or {}
    totals = facts.get("totals") or {}
    percent = facts.get("percent")
    return AccountStatus(
        account=account,
        running=account.sync_state == "running",
        scanned=_count(run, "scanned"),
        stored=_count(run, "stored"),
        skipped=_count(run, "skipped"),
        total=_count(run, "total_estimate"),
        percent=percent if isinstance(percent, int) else None,
        mode=str(facts.get("mode") or ""),
        stored_total=_count(totals, "stored"),
        skipped_total=_count(totals, "skipped"),
        conversations=_count(totals, "conversations"),
    )


def _statuses(uow: UnitOfWork, principal: Principal) -> list[AccountStatus]:
    return [account_status(a) for a in mail_accounts.list_mail_accounts(uow, principal)]


def _accounts_context(runtime: Runtime, statuses: list[AccountStatus]) -> dict[str, Any]:
    busy = any(s.running or s.awaiting_first_sync for s in statuses)
    return {
        "statuses": statuses,
        "poll_seconds": POLL_RUNNING_S if busy else POLL_IDLE_S,
        "phase_labels": PHASE_LABELS,
        "feature_labels": FEATURE_LABELS,
        "purge_days": runtime.settings.account_purge_days,
    }


def _setup_page(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    uow: UnitOfWork,
    *,
    notice: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    statuses = _statuses(uow, principal)
    options = {
        s.account.id: mail_settings.account_sync_options(uow, principal, s.account.id)
        for s in statuses
        if s.connected
    }
    context: dict[str, Any] = {
        **_accounts_context(runtime, statuses),
        "notice": notice,
        "email_sections": [
            s for s in EMAIL_SECTIONS if is_admin(principal.role) or not s.admin_only
        ],
        "mail_integration": principal.mail_integration,
        "mail_integration_missing": MAIL_INTEGRATION_MISSING,
        "errors": errors or {},
        "values": values or {},
        "options": options,
        "common_labels": COMMON_LABELS,
        "default_lookback": runtime.settings.sync_lookback_days,
        "mail_settings": mail_settings.get_mail_settings(uow),
        "storage_choices": STORAGE_CHOICES,
        "autocreate_choices": AUTOCREATE_CHOICES,
        "never_log": mail_settings.list_never_log(uow) if is_admin(principal.role) else [],
        "sharing": {
            s.account.id: mail_sharing.account_sharing(uow, principal, s.account.id)
            for s in statuses
            if s.account.user_id == principal.user_id
        },
        "sharing_maximum": mail_sharing.tenant_maximum(uow),
        "visibility_choices": VISIBILITY_CHOICES,
        "detail_choices": DETAIL_CHOICES,
        "meeting_prep_enabled": prep_briefs.meeting_prep_enabled(uow, principal.user_id),
    }
    return render(request, "setup/email.html", context, status_code=status_code)


def _back(notice: str, section: str = "mailboxes", **extra: str | int) -> RedirectResponse:
    """Back to the page after a post, on the tab of the section that was changed."""
    query = urlencode({"notice": notice, **extra})
    return RedirectResponse(f"{SETUP_EMAIL}?{query}#section-{section}", status_code=303)


# -- the page and its fragment ------------------------------------------------------------------


@router.get(SETUP_EMAIL)
def setup_email_page(
    request: Request,
    principal: CurrentPrincipal,
    uow: TenantUow,
    runtime: RuntimeDep,
    connected: Annotated[str, Query(max_length=12)] = "",
    notice: Annotated[str, Query(max_length=40)] = "",
    removed: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    text = NOTICES.get(notice, "")
    if notice == "never_log_added" and removed.isdigit() and int(removed):
        text += f" {int(removed)} synced messages it matched were deleted."
    if connected.isdigit():
        for account in mail_accounts.list_mail_accounts(uow, principal):
            if account.id == int(connected):
                text = f"Connected {account.email}. The first sync has started."
    return _setup_page(request, runtime, principal, uow, notice=text)


@router.get(SETUP_EMAIL + "/accounts")
def accounts_fragment(
    request: Request, principal: CurrentPrincipal, uow: TenantUow, runtime: RuntimeDep
) -> Response:
    context = _accounts_context(runtime, _statuses(uow, principal))
    context["mail_integration"] = principal.mail_integration
    return render(request, "setup/_accounts.html", context)


# -- connecting and per-account actions ---------------------------------------------------------


@router.post(SETUP_EMAIL + "/connect")
def connect_gmail(principal: WriterPrincipal, runtime: RuntimeDep) -> Response:
    url = mail_connect.start_gmail_authorization(runtime, principal)
    return RedirectResponse(url, status_code=303)


@router.post(SETUP_EMAIL + "/{account_id}/grant-missing")
def grant_missing_scopes(
    principal: WriterPrincipal, runtime: RuntimeDep, account_id: AccountId
) -> Response:
    """Incremental authorization: Google asks only for what the account lacks (a mailbox
    lacking nothing comes back to the page with a notice saying so)."""
    if not gmail_grants.missing_scopes_of(runtime, principal, account_id):
        return _back("nothing_missing")
    url = gmail_grants.start_missing_scopes_authorization(runtime, principal, account_id)
    return RedirectResponse(url, status_code=303)


@router.post(SETUP_EMAIL + "/{account_id}/sync")
def sync_account(
    principal: WriterPrincipal, uow: TenantUow, account_id: AccountId, form: PostedForm
) -> Response:
    full = form_texts(form, ["full"])["full"] in {"1", "true", "on"}
    mail_accounts.request_account_sync(uow, principal, account_id, full=full)
    return _back("full_sync_queued" if full else "sync_queued")


@router.post(SETUP_EMAIL + "/{account_id}/disconnect")
def disconnect_account(
    request: Request, principal: WriterPrincipal, runtime: RuntimeDep, account_id: AccountId
) -> Response:
    mail_accounts.disconnect_mail_account(
        runtime,
        principal,
        account_id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _back("disconnected")


def _posted_labels(form: PostedForm) -> tuple[list[str] | None, bool]:
    """(labels, clear_labels) from the options form."""
    if form_texts(form, ["labels_mode"])["labels_mode"] != "chosen":
        return None, True
    chosen = [v.strip() for v in form.getlist("labels") if isinstance(v, str) and v.strip()]
    other = form_texts(form, ["other_labels"])["other_labels"]
    chosen += [part.strip() for part in other.replace("\n", ",").split(",") if part.strip()]
    if any(len(label) > 100 for label in chosen):
        raise InvalidInput("label ids are at most 100 characters", field="labels")
    return list(dict.fromkeys(chosen)), False


@router.post(SETUP_EMAIL + "/{account_id}/options")
def save_sync_options(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    runtime: RuntimeDep,
    account_id: AccountId,
    form: PostedForm,
) -> Response:
    lookback_text = form_texts(form, ["lookback_days"])["lookback_days"]
    try:
        mail_accounts.get_mail_account(uow, principal, account_id)
        labels, clear = _posted_labels(form)
        lookback: int | None = None
        if lookback_text:
            if not lookback_text.isdigit():
                raise InvalidInput("give the look-back as a number of days", field="lookback_days")
            lookback = int(lookback_text)
        mail_settings.set_account_sync_options(
            uow, principal, account_id, labels=labels, lookback_days=lookback, clear_labels=clear
        )
    except InvalidInput as exc:
        uow.rollback()
        errors = {f"options-{account_id}": exc.message}
        return _setup_page(request, runtime, principal, uow, errors=errors, status_code=422)
    return _back("options_saved", "sync")


@router.post(SETUP_EMAIL + "/{account_id}/sharing")
def save_account_sharing(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    runtime: RuntimeDep,
    account_id: AccountId,
    form: PostedForm,
) -> Response:
    values = form_texts(form, ["visibility", "detail"])
    try:
        mail_sharing.set_account_sharing(
            uow,
            principal,
            account_id,
            visibility=values["visibility"] or None,
            detail=values["detail"] or None,
        )
    except InvalidInput as exc:
        uow.rollback()
        errors = {f"sharing-{account_id}": exc.message}
        return _setup_page(request, runtime, principal, uow, errors=errors, status_code=422)
    return _back("sharing_saved", "sharing")


@router.get(SETUP_EMAIL + "/{account_id}/ledger")
def ledger_page(
    request: Request,
    principal: CurrentPrincipal,
    uow: TenantUow,
    account_id: AccountId,
    outcome: Annotated[str, Query(max_length=10)] = "skipped",
    after: Annotated[int, StrictDigits, Query(ge=0, le=2**62)] = 0,
) -> Response:
    account = mail_accounts.get_mail_account(uow, principal, account_id)
    if outcome not in LEDGER_OUTCOMES:
        outcome = "skipped"
    summary, entries = mail_settings.account_ledger(
        uow,
        principal,
        account_id,
        outcome=None if outcome == "all" else outcome,
        after_id=after,
        limit=LEDGER_PAGE,
    )
    next_after = entries[-1][0] if len(entries) == LEDGER_PAGE else None
    return render(
        request,
        "setup/ledger.html",
        {
            "account": account,
            "summary": summary,
            "entries": [entry for _, entry in entries],
            "outcome": outcome,
            "outcomes": LEDGER_OUTCOMES,
            "after": after,
            "next_after": next_after,
            "reason_text": skip_reason_text,
        },
    )


# -- tenant mail settings (admins) --------------------------------------------------------------


@router.post(SETUP_EMAIL + "/settings")
def save_mail_settings(
    request: Request,
    principal: AdminPrincipal,
    uow: TenantUow,
    runtime: RuntimeDep,
    form: PostedForm,
) -> Response:
    values = form_texts(form, ["storage_policy", "contact_autocreate"])
    try:
        mail_settings.update_mail_settings(
            uow,
            principal,
            storage_policy=values["storage_policy"] or None,
            contact_autocreate=values["contact_autocreate"] or None,
        )
    except InvalidInput as exc:
        uow.rollback()
        return _setup_page(
            request, runtime, principal, uow, errors={"settings": exc.message}, status_code=422
        )
    return _back("settings_saved", "privacy")


@router.post(SETUP_EMAIL + "/never-log")
async def add_never_log(
    request: Request, principal: AdminPrincipal, runtime: RuntimeDep, form: PostedForm
) -> Response:
    entry = form_texts(form, ["entry"])["entry"]
    try:
        removed = await run_in_threadpool(mail_settings.add_never_log, runtime, principal, entry)
    except InvalidInput as exc:
        return await run_in_threadpool(
            _render_with_tenant_uow,
            request,
            runtime,
            principal,
            {"never_log": exc.message},
            {"entry": entry},
        )
    return _back("never_log_added", "never-log", removed=removed)


def _render_with_tenant_uow(
    request: Request,
    runtime: Runtime,
    principal: Principal,
    errors: dict[str, str],
    values: dict[str, str],
) -> Response:
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        return _setup_page(
            request, runtime, principal, uow, errors=errors, values=values, status_code=422
        )


@router.post(SETUP_EMAIL + "/never-log/remove")
def remove_never_log(principal: AdminPrincipal, uow: TenantUow, form: PostedForm) -> Response:
    entry = form_texts(form, ["entry"])["entry"]
    mail_settings.remove_never_log(uow, principal, entry)
    return _back("never_log_removed", "never-log")


@router.post(SETUP_EMAIL + "/sharing")
def save_sharing_maximum(
    request: Request,
    principal: AdminPrincipal,
    uow: TenantUow,
    runtime: RuntimeDep,
    form: PostedForm,
) -> Response:
    values = form_texts(form, ["visibility", "detail"])
    try:
        mail_sharing.set_tenant_maximum(
            uow, principal, visibility=values["visibility"] or None, detail=values["detail"] or None
        )
    except InvalidInput as exc:
        uow.rollback()
        errors = {"sharing_maximum": exc.message}
        return _setup_page(request, runtime, principal, uow, errors=errors, status_code=422)
    return _back("sharing_maximum_saved", "sharing")
