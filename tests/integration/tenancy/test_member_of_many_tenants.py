"""Adding an existing person to another tenant keeps their password and still checks the one
given (the password is hashed only for a new user, see ``services.identity.create_user``)."""

from __future__ import annotations

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import AuthenticationFailed, InvalidInput
from inboxcrm.services.identity import create_user, verify_login
from inboxcrm.services.tenants import create_tenant, get_tenant


def test_a_second_membership_keeps_the_password(runtime: Runtime) -> None:
    create_tenant(runtime, "first-co")
    create_tenant(runtime, "second-co")
    user = create_user(
        runtime, tenant_slug="first-co", email="ann@x.example", password="first-secret", role="rep"
    )
    again = create_user(
        runtime, tenant_slug="second-co", email="ann@x.example", password="other-secret", role="rep"
    )
    assert again.id == user.id
    second = get_tenant(runtime, "second-co")
    assert verify_login(runtime, "ann@x.example", "first-secret", "second-co") == (
        user.id,
        second.id,
    )
    with pytest.raises(AuthenticationFailed):
        verify_login(runtime, "ann@x.example", "other-secret", "second-co")


def test_a_short_password_is_refused_for_an_existing_user_too(runtime: Runtime) -> None:
    create_tenant(runtime, "first-co")
    create_tenant(runtime, "second-co")
    create_user(
        runtime, tenant_slug="first-co", email="bo@x.example", password="first-secret", role="rep"
    )
    with pytest.raises(InvalidInput):
        create_user(
            runtime, tenant_slug="second-co", email="bo@x.example", password="x", role="rep"
        )
