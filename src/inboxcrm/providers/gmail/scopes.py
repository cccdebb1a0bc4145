"""Which Gmail features a set of granted OAuth scopes allows.

inboxcrm asks for exactly :data:`REQUESTED` on the first connect (SPEC 3.1). Google's consent
screen lets the user untick every scope but sign-in, and its token answers can carry scopes
granted earlier (``include_granted_scopes``), so the granted set may be a subset or a superset:

- ``sync`` (read mail): gmail.readonly, or a broader scope that includes reading (gmail.modify,
  ``https://mail.google.com/``). Without it nothing can be synced: the connection is refused.
- ``send``: gmail.send (or gmail.compose, gmail.modify, full mail access).
- ``labels`` (the "Synced to inboxcrm" label): gmail.modify (or full mail access).
- identity: openid and userinfo.email are needed to know which account connected.

:func:`missing_scopes` names the requested scopes whose feature is not available, for the
"grant missing permissions" button (incremental authorization).

Beyond Gmail, :data:`GOOGLE_FEATURES` names the optional Google features and their scope
(``contacts`` → contacts.readonly, ``calendar`` → calendar.events). They are never part of the
first connect: a user opts in per mailbox once a tenant admin enabled the feature, by a second
consent with ``include_granted_scopes`` (:func:`google_features_of` says what a grant allows).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "FEATURES",
    "GOOGLE_FEATURES",
    "IDENTITY",
    "REQUESTED",
    "canonical_scopes",
    "features_of",
    "google_features_of",
    "missing_identity",
    "missing_scopes",
]

G = "https://www.googleapis.com/auth/"
READONLY = G + "gmail.readonly"
SEND = G + "gmail.send"
MODIFY = G + "gmail.modify"
COMPOSE = G + "gmail.compose"
USERINFO_EMAIL = G + "userinfo.email"
OPENID = "openid"
MAIL_FULL = "https://mail.google.com/"
CONTACTS_READONLY = G + "contacts.readonly"
CONTACTS = G + "contacts"
CALENDAR_EVENTS = G + "calendar.events"
CALENDAR = G + "calendar"

REQUESTED: tuple[str, ...] = (READONLY, SEND, MODIFY, USERINFO_EMAIL, OPENID)
"""Exactly the scopes inboxcrm asks for; nothing broader."""
IDENTITY = frozenset({OPENID, USERINFO_EMAIL})

FEATURES: dict[str, tuple[frozenset[str], str]] = {
    "sync": (frozenset({READONLY, MODIFY, MAIL_FULL}), READONLY),
    "send": (frozenset({SEND, COMPOSE, MODIFY, MAIL_FULL}), SEND),
    "labels": (frozenset({MODIFY, MAIL_FULL}), MODIFY),
}
"""Feature → (scopes any of which allows it, the requested scope that grants it)."""

GOOGLE_FEATURES: dict[str, tuple[frozenset[str], str]] = {
    "contacts": (frozenset({CONTACTS_READONLY, CONTACTS}), CONTACTS_READONLY),
    "calendar": (frozenset({CALENDAR_EVENTS, CALENDAR}), CALENDAR_EVENTS),
}
"""Optional Google feature → (scopes any of which allows it, the scope inboxcrm asks for)."""

_ALIASES = {"email": USERINFO_EMAIL}


def canonical_scopes(scopes: Iterable[str] | str | None) -> set[str]:
    """Scopes as a set of full names (Google may echo ``email`` for userinfo.email)."""
    if scopes is None:
        return set()
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return {_ALIASES.get(s, s) for s in items if s}


def features_of(scopes: Iterable[str]) -> dict[str, bool]:
    granted = canonical_scopes(scopes)
    return {name: bool(granted & allowed) for name, (allowed, _) in FEATURES.items()}


def google_features_of(scopes: Iterable[str]) -> dict[str, bool]:
    """Which optional Google features (contacts, calendar) the granted ``scopes`` allow."""
    granted = canonical_scopes(scopes)
    return {name: bool(granted & allowed) for name, (allowed, _) in GOOGLE_FEATURES.items()}


def missing_scopes(scopes: Iterable[str]) -> list[str]:
    """The requested scopes to grant for the features ``scopes`` does not allow."""
    granted = canonical_scopes(scopes)
    missing = [grant for allowed, grant in FEATURES.values() if not granted & allowed]
    missing += [s for s in REQUESTED if s in IDENTITY and s not in granted]
    return missing


def missing_identity(scopes: Iterable[str]) -> list[str]:
    return sorted(IDENTITY - canonical_scopes(scopes))
