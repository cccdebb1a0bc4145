"""Adding and removing Gmail labels on many messages at once (``messages.batchModify``).

:class:`GmailLabelEditor` is built on a mailbox's OAuth credentials (gmail.modify). It only
ever sends ``addLabelIds``/``removeLabelIds`` of the caller's own labels: it never deletes,
trashes or archives (``INBOX`` is refused), so mail is never moved out of the inbox. Up to
1000 ids per call (Gmail's limit); errors as for the Gmail client (:mod:`inboxcrm.sync.backoff`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError

from inboxcrm.domain.errors import ProviderError
from inboxcrm.providers.gmail import endpoints
from inboxcrm.sync.backoff import http_status, retry_call

__all__ = ["MODIFY_CHUNK", "PROTECTED_LABELS", "GmailLabelEditor"]

MODIFY_CHUNK = 1000
PROTECTED_LABELS = frozenset({"INBOX", "TRASH", "SPAM", "SENT", "DRAFT", "UNREAD", "STARRED"})


class GmailLabelEditor:
    def __init__(self, credentials: Credentials, *, api_base: str, timeout: float = 60.0) -> None:
        self._http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=timeout)
        )
        self._users: Any = endpoints.build_service(
            "gmail", "v1", http=self._http, api_base=api_base
        ).users()

    def modify(
        self, message_ids: Sequence[str], *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> int:
        """Add ``add`` and remove ``remove`` on every message; returns the calls made."""
        if PROTECTED_LABELS & (set(add) | set(remove)):
            raise ValueError("system labels are never changed by label rules")
        ids = list(dict.fromkeys(message_ids))
        calls = 0
        for start in range(0, len(ids), MODIFY_CHUNK):
            body = {
                "ids": ids[start : start + MODIFY_CHUNK],
                "addLabelIds": list(add),
                "removeLabelIds": list(remove),
            }
            request = self._users.messages().batchModify(userId="me", body=body)
            try:
                retry_call(partial(request.execute, http=self._http, num_retries=0))
            except HttpError as exc:
                raise ProviderError(
                    f"Gmail messages.batchModify refused: HTTP {http_status(exc)}"
                ) from exc
            calls += 1
        return calls
