"""Domain errors, grouped by how a caller reacts to them.

    InboxCrmError
    ├── InvalidInput          the caller sent something unusable → 422 problem document
    ├── NotFound              no such thing in this tenant → 404
    ├── Conflict              would break a uniqueness rule → 409
    ├── PermissionDenied      the user's role does not allow it → 403
    │   └── MailIntegrationRequired  the user lacks the Mail Integration permission
    ├── AuthenticationFailed  no or bad credentials → 401
    └── ProviderError         a mail provider failed
        ├── ProviderAuthError       credentials revoked/expired: stop the account, notify the owner
        ├── ProviderPermissionError a scope is missing (403 insufficientPermissions): degrade
        │                           that feature and notify; the rest keeps working
        └── ProviderTransientError  rate limit, 5xx, timeout: back off and retry

Each error carries a stable machine ``code`` used in problem documents.
"""

from __future__ import annotations


class InboxCrmError(Exception):
    """Base of every error inboxcrm raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(InboxCrmError):
    code = "invalid_input"
    status = 422


class NotFound(InboxCrmError):
    code = "not_found"
    status = 404


class Conflict(InboxCrmError):
    code = "conflict"
    status = 409


class PermissionDenied(InboxCrmError):
    code = "permission_denied"
    status = 403


class MailIntegrationRequired(PermissionDenied):
    """Connecting a mailbox or sending without the Mail Integration permission."""

    code = "mail_integration_required"


class AuthenticationFailed(InboxCrmError):
    code = "authentication_failed"
    status = 401


class ProviderError(InboxCrmError):
    code = "provider_error"
    status = 502


class ProviderAuthError(ProviderError):
    code = "provider_auth_error"


class ProviderPermissionError(ProviderError):
    """The grant lacks a scope this call needs (the user did not grant it, or it was removed)."""

    code = "provider_permission_error"
    status = 403


class ProviderTransientError(ProviderError):
    code = "provider_transient_error"
    status = 503
