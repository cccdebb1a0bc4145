"""Setup → Email → Google: the optional Google features (Contacts, Calendar), what each mailbox
granted, the Google Contacts import, and the new-customer-mail alert toggle.

GET  /setup/email/google                        the section's content (a fragment the page loads)
POST /setup/email/google/features               enable or disable the features (admins)
POST /setup/email/{account_id}/authorize-scopes 303 to Google's consent page for ``feature``
                                                (incremental authorization; the OAuth callback
                                                comes back to /setup/email)
POST /setup/email/{account_id}/contacts-import  queue an import of the mailbox's Google contacts
POST /setup/email/customer-alerts               the caller's new-customer-mail notifications

Every write goes through the service functions of the API (``services.mail_settings``,
``services.google_features``, ``services.contact_import``, ``services.customer_alerts``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from inboxcrm.domain.errors import Conflict
from inboxcrm.domain.roles import can_write, is_admin
from inboxcrm.providers.gmail import scopes as gmail_scopes
from inboxcrm.services import (
    contact_import,
    customer_alerts,
    google_features,
    mail_accounts,
    mail_settings,
)
from inboxcrm.services.contact_import import ContactImport
from inboxcrm.web.api.params import PathId
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

__all__ = ["GOOGLE_SETUP", "SCOPE_LABELS", "router"]

router = page_router()

GOOGLE_SETUP = "/setup/email/google"
SECTION = "/setup/email"

SCOPE_LABELS = {
    gmail_scopes.READONLY: "Read mail",
    gmail_scopes.SEND: "Send mail",
    gmail_scopes.MODIFY: "Label mail",
    gmail_scopes.USERINFO_EMAIL: "Email address",
    gmail_scopes.OPENID: "Sign-in",
    gmail_scopes.CONTACTS_READONLY: "Read contacts",
    gmail_scopes.CALENDAR_EVENTS: "Calendar events",
}


@dataclass(frozen=True)
class MailboxGrants:
    account: mail_accounts.MailAccount
    granted: dict[str, bool]
    contacts_import: ContactImport


def _back(notice: str) -> RedirectResponse:
    return RedirectResponse(f"{SECTION}?notice={notice}#section-google", status_code=303)


@router.get(GOOGLE_SETUP)
def google_setup_fragment(
    request: Request, principal: CurrentPrincipal, uow: TenantUow
) -> Response:
    own = [
        a
        for a in mail_accounts.list_mail_accounts(uow, principal)
        if a.user_id == principal.user_id and a.status != "disconnected" and a.provider == "gmail"
    ]
    mailboxes = [
        MailboxGrants(
            account=a,
            granted=gmail_scopes.google_features_of(a.scopes),
            contacts_import=contact_import.contacts_import_status(uow, principal, a.id),
        )
        for a in own
    ]
    return render(
        request,
        "setup/_google.html",
        {
            "enabled": google_features.enabled_features(uow),
            "feature_names": google_features.FEATURE_LABELS,
            "mailboxes": mailboxes,
            "scope_labels": SCOPE_LABELS,
            "customer_alerts": customer_alerts.customer_mail_alerts_enabled(uow, principal.user_id),
            "admin": is_admin(principal.role),
            "writer": can_write(principal.role),
        },
    )


@router.post(GOOGLE_SETUP + "/features")
def save_google_features(principal: AdminPrincipal, uow: TenantUow, form: PostedForm) -> Response:
    values = form_texts(form, ["google_contacts_enabled", "google_calendar_enabled"])
    mail_settings.update_mail_settings(
        uow,
        principal,
        google_contacts_enabled=values["google_contacts_enabled"] == "1",
        google_calendar_enabled=values["google_calendar_enabled"] == "1",
    )
    return _back("google_features_saved")


@router.post(SECTION + "/{account_id}/authorize-scopes")
def authorize_feature_scopes(
    principal: WriterPrincipal, runtime: RuntimeDep, account_id: PathId, form: PostedForm
) -> Response:
    """Opt in to one feature for the caller's mailbox: on to Google's consent page, or back
    with a notice when an admin has not enabled it or it is granted already."""
    feature = form_texts(form, ["feature"])["feature"]
    if feature not in gmail_scopes.GOOGLE_FEATURES:
        return _back("google_feature_unknown")
    try:
        url = google_features.start_feature_authorization(runtime, principal, account_id, [feature])
    except google_features.FeatureDisabled:
        return _back("google_feature_disabled")
    except Conflict:
        return _back("google_feature_granted")
    return RedirectResponse(url, status_code=303)


@router.post(SECTION + "/{account_id}/contacts-import")
def start_contacts_import(
    principal: WriterPrincipal, uow: TenantUow, account_id: PathId
) -> Response:
    try:
        contact_import.request_contacts_import(uow, principal, account_id)
    except google_features.FeatureDisabled:
        return _back("google_feature_disabled")
    except google_features.FeatureNotGranted:
        return _back("contacts_not_granted")
    return _back("contacts_import_queued")


@router.post(SECTION + "/customer-alerts")
def save_customer_alerts(principal: CurrentPrincipal, uow: TenantUow, form: PostedForm) -> Response:
    enabled = form_texts(form, ["customer_mail_alerts"])["customer_mail_alerts"] == "1"
    customer_alerts.set_customer_mail_alerts(uow, principal, enabled)
    return _back("customer_alerts_saved")
