"""Contact auto-creation is atomic: two syncs meeting a new address at once make one contact.

Two threads, each in its own unit of work (as two mailboxes' sync runs are), both find no
record for the address and then create one; a barrier holds both until each has checked, so
the database's uniqueness is all that stands between them and a duplicate. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, select

from inboxcrm.adapters.db.tenant_tables import ContactRow, RecordEmailRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.matching import NeverLogList
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.autocreate import ContactAutoCreator
from tests.factories import make_contact

ADDRESS = "frank@client.example"


def _race(runtime: Runtime, creators: int = 2) -> list[str]:
    """Run ``creators`` concurrent creations of a contact for ADDRESS; their record keys."""
    checked = threading.Barrier(creators, timeout=60)
    keys: list[str] = []
    errors: list[BaseException] = []

    def create(owner: int) -> None:
        try:
            with runtime.tenant_uow("acme") as uow:
                first_flush = [True]

                @event.listens_for(uow.session, "before_flush")
                def _both_checked(*_: Any) -> None:
                    if first_flush[0]:  # after the lookup, before any insert
                        first_flush[0] = False
                        checked.wait()

                creator = ContactAutoCreator(
                    mode="sent",
                    records_by_address={},
                    never_log=NeverLogList.from_entries([]),
                    owner_user_id=owner,
                )
                made = creator.create(uow.session, [ADDRESS], {ADDRESS: "Frank New"})
                uow.commit()
                keys.append(made[ADDRESS])
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(1, creators + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a creator hung"
    assert errors == []
    return keys


def _contacts_with(runtime: Runtime, address: str) -> list[tuple[int, bool]]:
    with runtime.tenant_uow("acme") as uow:
        return [
            (row.record_id, row.auto_created)
            for row in uow.session.scalars(
                select(RecordEmailRow).where(RecordEmailRow.email == address)
            )
        ]


def test_two_concurrent_creators_make_one_contact(runtime: Runtime) -> None:
    create_tenant(runtime, "acme")
    keys = _race(runtime)
    rows = _contacts_with(runtime, ADDRESS)
    assert len(rows) == 1 and rows[0][1] is True
    assert keys == [f"contact:{rows[0][0]}"] * 2
    with runtime.tenant_uow("acme") as uow:
        contacts = uow.session.scalars(select(ContactRow)).all()
    assert [(c.first_name, c.last_name) for c in contacts] == [("Frank", "New")]


def test_manual_duplicates_stay_allowed(runtime: Runtime) -> None:
    """The uniqueness covers auto-created addresses only: people may still enter a second
    contact with an existing address, and auto-creation reuses a record that has it."""
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=[ADDRESS])
        make_contact(uow, emails=[ADDRESS])
        creator = ContactAutoCreator(
            mode="sent",
            records_by_address={},
            never_log=NeverLogList.from_entries([]),
            owner_user_id=1,
        )
        made = creator.create(uow.session, [ADDRESS], {})
        uow.commit()
    rows = _contacts_with(runtime, ADDRESS)
    assert len(rows) == 2 and not any(auto for _, auto in rows)
    assert made[ADDRESS] in {f"contact:{record_id}" for record_id, _ in rows}
    assert creator.created == 0
