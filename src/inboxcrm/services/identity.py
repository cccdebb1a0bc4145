"""Users, memberships, passwords, API tokens and login sessions (all in the control plane).

Secrets are stored only as hashes: passwords with argon2, API tokens and session ids with
SHA-256 (they are long random values, so a fast hash is enough and lookups stay indexed).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import (
    ApiTokenRow,
    MembershipRow,
    SessionRow,
    TenantRow,
    UserRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import normalize_email
from inboxcrm.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from inboxcrm.domain.roles import Role, has_mail_integration
from inboxcrm.services.auth_throttle import (
    account_key,
    clear_keys,
    ensure_not_locked,
    ip_key,
    record_failure,
)
from inboxcrm.services.login_audit import audit_login, audit_unknown_login

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
TOKEN_PREFIX = "icrm_"
SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which tenant, with which role."""

    user_id: int
    email: str
    display_name: str
    tenant_id: int
    tenant_slug: str
    role: Role
    via: str  # "session" or "token"
    csrf_token: str | None = None
    time_zone: str | None = None  # the user's preference (IANA name); None: the browser's
    mail_integration: bool = False
    """The Mail Integration permission: connect mailboxes and send (domain.roles)."""


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _require_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def hash_password(password: str) -> str:
    _require_password_length(password)
    return _hasher.hash(password)


def create_user(
    runtime: Runtime,
    *,
    tenant_slug: str,
    email: str,
    password: str,
    role: str,
    display_name: str = "",
    team: str | None = None,
) -> UserRow:
    """Create a user (or reuse one with that email) and make them a member of the tenant.

    A reused user keeps their password (``password`` is then only checked, not hashed: the
    hash costs a fifth of a CPU-second, which adding one person to many tenants need not pay).
    """
    canonical = normalize_email(email)
    parsed_role = Role.parse(role)
    _require_password_length(password)
    with runtime.control_uow() as uow:
        tenant = uow.session.scalar(select(TenantRow).where(TenantRow.slug == tenant_slug))
        if tenant is None:
            raise NotFound(f"no tenant {tenant_slug!r}", field="tenant")
        user = uow.session.scalar(select(UserRow).where(UserRow.email == canonical))
        if user is None:
            user = UserRow(
                email=canonical, display_name=display_name, password_hash=hash_password(password)
            )
            uow.session.add(user)
            uow.session.flush()
        existing = uow.session.scalar(
            select(MembershipRow).where(
                MembershipRow.tenant_id == tenant.id, MembershipRow.user_id == user.id
            )
        )
        if existing is not None:
            raise Conflict(f"{canonical} is already a member of {tenant_slug}", field="email")
        uow.session.add(
            MembershipRow(tenant_id=tenant.id, user_id=user.id, role=parsed_role.value, team=team)
        )
        uow.commit()
    logger.info("user %s added to tenant %s as %s", user.id, tenant_slug, parsed_role.value)
    return user


def _principal_query(user_id: Any, tenant_id: Any) -> Any:
    """User, tenant and membership of a (user, tenant) pair, in one statement."""
    return (
        select(UserRow, TenantRow, MembershipRow)
        .join(MembershipRow, MembershipRow.user_id == UserRow.id)
        .join(TenantRow, TenantRow.id == MembershipRow.tenant_id)
        .where(UserRow.id == user_id, TenantRow.id == tenant_id)
    )


def _principal_of(row: Any, via: str, csrf: str | None = None) -> Principal | None:
    if row is None:
        return None
    user, tenant, membership = row
    if not user.is_active or tenant.status != "active":
        return None
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=Role(membership.role),
        via=via,
        csrf_token=csrf,
        time_zone=user.time_zone,
        mail_integration=has_mail_integration(Role(membership.role), membership.mail_integration),
    )


def _principal(
    runtime: Runtime, user_id: int, tenant_id: int, via: str, csrf: str | None = None
) -> Principal | None:
    with runtime.control_uow() as uow:
        row = uow.session.execute(_principal_query(user_id, tenant_id)).first()
    return _principal_of(row, via, csrf)


def member_principal(runtime: Runtime, tenant_slug: str, user_id: int) -> Principal | None:
    """A tenant member as the principal of work done for them (``via="job"``), or None when
    the user, the membership or the tenant is no longer active."""
    with runtime.control_uow() as uow:
        tenant_id = uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == tenant_slug))
        if tenant_id is None:
            return None
        row = uow.session.execute(_principal_query(user_id, tenant_id)).first()
    return _principal_of(row, "job")


def verify_login(
    runtime: Runtime,
    email: str,
    password: str,
    tenant_slug: str | None = None,
    *,
    ip: str | None = None,
) -> tuple[int, int]:
    """Check a password; return (user id, tenant id) of the tenant to log in to.

    Throttled per submitted account and per client IP (see ``services.auth_throttle``):
    raises ``TooManyAttempts`` (429) while either is locked, before the password is looked
    at; a wrong email, password or tenant all raise the same AuthenticationFailed. Every
    success and failure is audited (``services.login_audit``).
    """
    account = account_key(email)
    keys = [account, *ip_key("login_ip", ip)]
    ensure_not_locked(runtime, keys)
    try:
        found = _check_password(runtime, email, password, tenant_slug, ip=ip)
    except AuthenticationFailed:
        record_failure(runtime, keys)
        raise
    clear_keys(runtime, [account])
    return found


def _check_password(
    runtime: Runtime, email: str, password: str, tenant_slug: str | None, *, ip: str | None
) -> tuple[int, int]:
    failure = AuthenticationFailed("wrong email or password")
    wanted = tenant_slug.strip().lower() if tenant_slug else None
    try:
        canonical = normalize_email(email)
    except InvalidInput:
        _hasher.hash("timing-equaliser")
        audit_unknown_login(runtime, ip=ip)
        raise failure from None
    with runtime.control_uow() as uow:
        user = uow.session.scalar(select(UserRow).where(UserRow.email == canonical))
        if user is None:
            _hasher.hash("timing-equaliser")
            audit_unknown_login(runtime, ip=ip)
            raise failure
        query = (
            select(TenantRow)
            .join(MembershipRow, MembershipRow.tenant_id == TenantRow.id)
            .where(MembershipRow.user_id == user.id, TenantRow.status == "active")
            .order_by(TenantRow.id)
        )
        tenants = list(uow.session.scalars(query))
        if wanted:
            tenants = [t for t in tenants if t.slug == wanted]
        slugs = [t.slug for t in tenants]
        user_id = user.id
        if not user.is_active:
            _hasher.hash("timing-equaliser")
            reason: str | None = "deactivated"
        else:
            try:
                _hasher.verify(user.password_hash, password)
                reason = None if tenants else "no_membership"
            except (VerificationError, InvalidHashError):
                reason = "wrong_password"
        if reason is not None:
            uow.rollback()
            audit_login(
                runtime, tenant_slugs=slugs, user_id=user_id, outcome="failure", ip=ip,
                reason=reason,
            )  # fmt: skip
            if not slugs:
                audit_unknown_login(runtime, ip=ip)
            raise failure
        user.last_login_at = utcnow()
        uow.commit()
        tenant_id = tenants[0].id
    audit_login(runtime, tenant_slugs=slugs[:1], user_id=user_id, outcome="success", ip=ip)
    return user_id, tenant_id


def create_session(
    runtime: Runtime, user_id: int, tenant_id: int, *, ip: str | None, user_agent: str | None
) -> tuple[str, str]:
    """Start a login session; returns (session id for the cookie, CSRF token)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with runtime.control_uow() as uow:
        uow.session.add(
            SessionRow(
                session_hash=_sha256(session_id),
                tenant_id=tenant_id,
                user_id=user_id,
                csrf_token=csrf,
                expires_at=utcnow() + SESSION_LIFETIME,
                ip=ip,
                user_agent=(user_agent or "")[:300],
            )
        )
        uow.commit()
    return session_id, csrf


def resolve_session(runtime: Runtime, session_id: str) -> Principal | None:
    with runtime.control_uow() as uow:
        row = uow.session.scalar(
            select(SessionRow).where(SessionRow.session_hash == _sha256(session_id))
        )
    if row is None or row.expires_at <= utcnow():
        return None
    return _principal(runtime, row.user_id, row.tenant_id, "session", row.csrf_token)


def end_session(runtime: Runtime, session_id: str) -> None:
    with runtime.control_uow() as uow:
        row = uow.session.scalar(
            select(SessionRow).where(SessionRow.session_hash == _sha256(session_id))
        )
        if row is not None:
            uow.session.delete(row)
            uow.commit()


def create_api_token(runtime: Runtime, *, tenant_slug: str, email: str, name: str = "") -> str:
    """Create a bearer API token for a member of the tenant; the plain token is shown once."""
    canonical = normalize_email(email)
    with runtime.control_uow() as uow:
        row = uow.session.execute(
            select(UserRow.id, TenantRow.id)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .join(TenantRow, TenantRow.id == MembershipRow.tenant_id)
            .where(UserRow.email == canonical, TenantRow.slug == tenant_slug)
        ).first()
        if row is None:
            raise NotFound(f"{canonical} is not a member of tenant {tenant_slug!r}")
        user_id, tenant_id = row
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        uow.session.add(
            ApiTokenRow(
                tenant_id=tenant_id,
                user_id=user_id,
                name=name,
                token_hash=_sha256(token),
                prefix=token[:12],
            )
        )
        uow.commit()
    return token


def resolve_api_token(runtime: Runtime, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    # One session and one statement per request: the token with its user, tenant and membership.
    with runtime.control_uow() as uow:
        found = uow.session.execute(
            _principal_query(ApiTokenRow.user_id, ApiTokenRow.tenant_id)
            .add_columns(ApiTokenRow)
            .where(ApiTokenRow.token_hash == _sha256(token))
        ).first()
        if found is None:
            return None
        user, tenant, membership, row = found
        if row.revoked_at is not None:
            return None
        principal = _principal_of((user, tenant, membership), "token")
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            row.last_used_at = now
            uow.commit()
    return principal
