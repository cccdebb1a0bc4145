"""A wrong password, an untrusted certificate and an unreachable host each give a clear problem
document when connecting (and store nothing), and, when an existing account meets them later, a
clear error on the account with no retry storm: refusals stop the account, outages back off."""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, NotificationRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.token_vault import vault_for
from inboxcrm.services.mail_sync import accounts_due, sync_account
from tests.fixtures.mail_servers import make_certificate
from tests.integration.imap.conftest import MailServerRoom


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def _post(room: MailServerRoom, **overrides: object) -> tuple[int, dict[str, object]]:
    response = room.client.post(
        "/api/v1/mail-accounts/imap",
        json=room.connect_body(**overrides),
        headers=room.member.headers,
    )
    return response.status_code, response.json()


def _accounts(room: MailServerRoom) -> int:
    with room.runtime.tenant_uow(room.tenant) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(MailAccountRow)) or 0)


def test_connecting_with_a_wrong_password_unknown_ca_or_dead_host_is_refused_clearly(
    room: MailServerRoom,
) -> None:
    status, problem = _post(room, password="not-the-password")
    assert status == 422
    assert problem["code"] == "mail_server_login_refused"
    assert "refused the user name or password" in str(problem["detail"])
    assert "not-the-password" not in str(problem)

    status, problem = _post(room, ca_pem=None)  # the system CAs do not know the test CA
    assert status == 422
    assert problem["code"] == "mail_server_certificate_untrusted"
    assert "certificate" in str(problem["detail"])

    status, problem = _post(room, port=_closed_port())
    assert status == 422
    assert problem["code"] == "mail_server_unreachable"
    assert "refused the connection" in str(problem["detail"])

    status, problem = _post(room, host="no-such-host.invalid")
    assert status == 422 and problem["code"] == "mail_server_unreachable"

    assert _accounts(room) == 0

    # STARTTLS on the plain port works, and the test endpoint stores nothing either.
    response = room.client.post(
        "/api/v1/mail-accounts/imap/test",
        json=room.connect_body(port=room.dovecot.imap_port, security="starttls"),
        headers=room.member.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["folders"] == ["INBOX", "Sent"]
    assert _accounts(room) == 0


def _notifications(room: MailServerRoom, kind: str) -> int:
    with room.runtime.tenant_uow(room.tenant) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.kind == kind)
            )
            or 0
        )


def test_a_password_changed_on_the_server_stops_the_account_once(room: MailServerRoom) -> None:
    room.connect()
    room.sync()
    with room.runtime.tenant_uow(room.tenant) as uow:
        row = uow.session.get(MailAccountRow, room.account_id)
        assert row is not None
        row.access_token_enc = vault_for(room.runtime.settings).encrypt("changed-at-the-server")
        uow.commit()

    report = sync_account(room.runtime, room.tenant, room.account_id)

    assert report.status == "revoked"
    account = room.account()
    assert account["status"] == "refused"
    assert "refused the user name or password" in account["last_error"]
    assert account["sync_state"] == "failed"
    assert _notifications(room, "mail_account_refused") == 1
    # No retry storm: the account is neither synced again nor due for a poll.
    assert sync_account(room.runtime, room.tenant, room.account_id).status == "not_connected"
    assert room.account_id not in accounts_due(room.runtime, room.tenant, cutoff=None)
    assert _notifications(room, "mail_account_refused") == 1

    # Connecting again with the right password resumes it.
    room.connect()
    assert room.account()["status"] == "connected"
    assert room.sync().status == "ok"


def test_an_untrusted_certificate_later_stops_the_account(room: MailServerRoom, tmp_path) -> None:
    room.connect()
    other_ca, _ = make_certificate(tmp_path, "other-ca")
    with room.runtime.tenant_uow(room.tenant) as uow:
        row = uow.session.get(MailAccountRow, room.account_id)
        assert row is not None
        settings = dict(row.settings)
        settings["incoming"] = {**settings["incoming"], "ca_pem": other_ca.read_text()}
        row.settings = settings
        uow.commit()

    assert sync_account(room.runtime, room.tenant, room.account_id).status == "revoked"
    account = room.account()
    assert account["status"] == "refused"
    assert "not trusted" in account["last_error"]


def test_an_unreachable_server_backs_off_instead_of_retrying_at_once(room: MailServerRoom) -> None:
    room.connect()
    with room.runtime.tenant_uow(room.tenant) as uow:
        row = uow.session.get(MailAccountRow, room.account_id)
        assert row is not None
        settings = dict(row.settings)
        settings["incoming"] = {**settings["incoming"], "port": _closed_port()}
        row.settings = settings
        uow.commit()

    first = sync_account(room.runtime, room.tenant, room.account_id)
    assert first.status == "failed"
    account = room.account()
    assert account["status"] == "connected"  # a passing outage does not stop the account
    assert "refused the connection" in account["last_error"]
    assert account["sync_state"] == "failed"
    assert _notifications(room, "mail_sync_failed") == 1

    # The first retry goes out at the next poll; after a second failure the account waits.
    now = utcnow()
    assert room.account_id in accounts_due(room.runtime, room.tenant, cutoff=None, now=now)
    assert sync_account(room.runtime, room.tenant, room.account_id).status == "failed"
    later = utcnow()
    assert room.account_id not in accounts_due(room.runtime, room.tenant, cutoff=None, now=later)
    assert room.account_id in accounts_due(
        room.runtime, room.tenant, cutoff=None, now=later + timedelta(minutes=2)
    )
    assert _notifications(room, "mail_sync_failed") == 1  # told once per failure streak
