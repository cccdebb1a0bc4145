"""The path every emulated Google API call takes, direct or inside a batch.

fault injection → bearer token → scopes → ``userId`` → per-user concurrency → quota (per
user per second and per minute, and project-wide per minute, in Google's units) → usage
counters → handler. Handlers receive an :class:`ApiContext` naming the authenticated user.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from inboxcrm.emulator.errors import (
    ApiError,
    injected_failure,
    insufficient_scopes,
    quota_exceeded,
    rate_limited,
    too_many_concurrent,
)
from inboxcrm.emulator.http_core import Request, Response, Router
from inboxcrm.emulator.oauth import Grant
from inboxcrm.emulator.quota import QuotaMeter, method_cost

if TYPE_CHECKING:
    from inboxcrm.emulator.state import EmulatorState

G = "https://www.googleapis.com/auth/"
MAIL_FULL = "https://mail.google.com/"
GMAIL_READ = frozenset({MAIL_FULL, G + "gmail.readonly", G + "gmail.modify", G + "gmail.metadata"})
GMAIL_MODIFY = frozenset({MAIL_FULL, G + "gmail.modify"})
GMAIL_SEND = frozenset({MAIL_FULL, G + "gmail.send", G + "gmail.compose", G + "gmail.modify"})
GMAIL_INSERT = frozenset({MAIL_FULL, G + "gmail.modify", G + "gmail.insert"})
GMAIL_LABELS_READ = GMAIL_READ | {G + "gmail.labels"}
GMAIL_LABELS_WRITE = frozenset({MAIL_FULL, G + "gmail.modify", G + "gmail.labels"})
GMAIL_DELETE = frozenset({MAIL_FULL})
GMAIL_SETTINGS = GMAIL_READ | {G + "gmail.settings.basic"}
PEOPLE_READ = frozenset({G + "contacts", G + "contacts.readonly"})
CALENDAR_READ = frozenset(
    {G + "calendar", G + "calendar.readonly", G + "calendar.events", G + "calendar.events.readonly"}
)
CALENDAR_WRITE = frozenset({G + "calendar", G + "calendar.events"})
METADATA_ONLY = G + "gmail.metadata"


@dataclass
class ApiContext:
    """Who is calling: the grant's user and which API method runs."""

    email: str
    grant: Grant
    method_id: str

    @property
    def metadata_only(self) -> bool:
        scopes = self.grant.scopes
        return METADATA_ONLY in scopes and not (scopes & (GMAIL_READ - {METADATA_ONLY}))


ApiHandler = Callable[[ApiContext, Request, "re.Match[str]"], Response]


class ApiRegistry:
    """Registers API handlers on the router, wrapped in the common pipeline."""

    def __init__(self, state: EmulatorState, router: Router) -> None:
        self.state = state
        self.router = router

    def add(
        self,
        http_method: str,
        path_regex: str,
        method_id: str,
        scopes: frozenset[str],
        handler: ApiHandler,
    ) -> None:
        def run(req: Request, match: re.Match[str]) -> Response:
            return self.call(req, match, method_id, scopes, handler)

        self.router.add(http_method, path_regex, run)

    def call(
        self,
        req: Request,
        match: re.Match[str],
        method_id: str,
        scopes: frozenset[str],
        handler: ApiHandler,
    ) -> Response:
        state = self.state
        settings = state.settings
        state.faults.reseed(settings.fault_seed)
        decision = state.faults.decide(
            fault_rate=settings.fault_rate,
            statuses=list(settings.fault_statuses),
            drop_rate=settings.drop_rate,
            slow_rate=settings.slow_rate,
            slow_ms=settings.slow_ms,
            latency_ms=settings.latency_ms,
            allow_drop=not req.in_batch,
        )
        if decision.delay_s > 0:
            if req.batch_delays is not None and settings.batch_parts_parallel:
                req.batch_delays.append(decision.delay_s)  # the batch waits its slowest part
            else:
                time.sleep(decision.delay_s)
        grant = state.oauth_routes.authenticate(req)
        if decision.drop:
            state.stats.faulted(grant.email, method_id)
            return Response(drop=True)
        if decision.status is not None:
            state.stats.faulted(grant.email, method_id)
            return Response.from_api_error(injected_failure(decision.status))
        if not grant.scopes & scopes:
            raise insufficient_scopes()
        user_id = match.groupdict().get("user")
        if user_id is not None:
            user_id = unquote(user_id)
        if user_id is not None and user_id != "me" and user_id.lower() != grant.email:
            raise ApiError(403, f"Delegation denied for {grant.email}", reason="forbidden")
        units = method_cost(method_id)
        email = grant.email
        if not state.concurrency.try_enter(email, settings.max_concurrent_per_user):
            state.stats.limited(email, method_id)
            raise too_many_concurrent()
        admitted = False
        try:
            self._charge(email, method_id, units)
            if req.batch_calls is not None:
                # Held until the whole batch is answered (see batch.py).
                req.batch_calls[email] = req.batch_calls.get(email, 0) + 1
                admitted = True
            return handler(ApiContext(email, grant, method_id), req, match)
        finally:
            if not admitted:
                state.concurrency.leave(email)

    def _charge(self, email: str, method_id: str, units: int) -> None:
        """Charge the per-user (per second and per minute) and project-wide budgets."""
        state = self.state
        settings = state.settings
        per_s = settings.quota_units_per_s
        minute = float(settings.quota_minute_s)
        refused = state.meter.try_charge_all(
            units,
            [
                (
                    email,
                    per_s * settings.quota_window_s if per_s else None,
                    settings.quota_window_s,
                ),
                ("minute:" + email, settings.quota_units_per_minute, minute),
                (QuotaMeter.PROJECT, settings.project_quota_units_per_minute, minute),
            ],
        )
        if refused is None:
            state.stats.charged(email, method_id, units)
            return
        state.stats.limited(email, method_id)
        key, wait = refused
        if key == email:
            raise rate_limited(settings.quota_error_status)
        if key == QuotaMeter.PROJECT:
            raise quota_exceeded("Queries per minute", wait)
        raise quota_exceeded("Queries per minute per user", wait)
