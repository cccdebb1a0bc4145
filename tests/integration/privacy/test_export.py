"""Exports: the JSON document and an mbox that ``mailbox.mbox`` reads back with the same
Message-IDs and bodies as the timeline; the CLI and the background API export; who may download."""

from __future__ import annotations

import io
import json
import mailbox
import zipfile
from datetime import timedelta
from email.message import Message
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from inboxcrm.adapters.db.privacy_tables import ExportJobRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.export import build_export
from tests.factories import (
    make_account,
    make_contact,
    make_deal,
    make_email_message,
    make_lead,
    make_mail_account,
    make_note,
)
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import actions
from tests.integration.privacy.conftest import CliInvoker

BODIES = [
    "Plain body one",
    "From the start of a line\nFrom me too\n>From quoted\r\nwindows line\n",
    "Ünïcödé body \u2013 with dashes and emoji \u2713",
]


def _decoded_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def _decoded_html(message: Message) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return None


def _world(runtime: Runtime) -> dict[str, int]:
    with runtime.tenant_uow("acme") as uow:
        mailbox_row = make_mail_account(uow, user_id=1)
        account = make_account(uow, name="Globex", emails=["info@globex.example"])
        contact = make_contact(uow, emails=["ann@globex.example"], account_id=account.id)
        lead = make_lead(uow, emails=["lee@lead.example"])
        make_deal(uow, name="Big deal", contact_id=contact.id)
        make_note(uow, ("contact", contact.id), body="Called Ann")
        for i, body in enumerate(BODIES):
            make_email_message(
                uow,
                mail_account=mailbox_row,
                link_to=[("contact", contact.id)],
                subject=f"Sübject {i}",
                body_text=body,
                body_html=f"<p>html {i}</p>" if i == 0 else None,
            )
        make_email_message(uow, mail_account=mailbox_row, link_to=[("lead", lead.id)])
    return {"contact": contact.id, "lead": lead.id, "account": account.id}


def _timeline(client: TestClient, headers: dict[str, str], contact_id: int) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=headers)
    assert response.status_code == 200
    return [i for i in response.json()["items"] if i["kind"] == "email"]


def test_record_export_round_trips_through_mailbox_mbox(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, cli: CliInvoker, tmp_path: Path
) -> None:
    admin = tenants.member("acme", "admin")
    ids = _world(runtime)
    out = tmp_path / "export"
    result = cli(
        ["export", "--tenant", "acme", "--record", f"contact:{ids['contact']}", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "exported 1 record(s) and 3 message(s)" in result.output

    timeline = _timeline(client, admin.headers, ids["contact"])
    box = mailbox.mbox(str(out / "mail.mbox"), create=False)
    try:
        messages = list(box)
    finally:
        box.close()
    assert len(messages) == len(timeline) == 3
    by_id = {m["Message-ID"]: m for m in messages}
    assert set(by_id) == {t["message_id_header"] for t in timeline}
    for item in timeline:
        message = by_id[item["message_id_header"]]
        assert message["X-Gmail-Message-Id"] == item["provider_message_id"]
        assert message["X-Gmail-Thread-Id"] == item["thread_id"]
    with runtime.tenant_uow("acme") as uow:
        from sqlalchemy import select

        from inboxcrm.adapters.db.tenant_tables import EmailMessageRow

        stored = {r.message_id_header: r for r in uow.session.scalars(select(EmailMessageRow))}
    for header, message in by_id.items():
        assert _decoded_text(message) == stored[header].body_text
        assert _decoded_html(message) == stored[header].body_html

    document = json.loads((out / "export.json").read_text())
    assert document["scope"] == f"contact:{ids['contact']}"
    (record,) = document["records"]
    assert record["emails"] == ["ann@globex.example"]
    assert [d["name"] for d in record["deals"]] == ["Big deal"]
    assert [n["body"] for n in record["notes"]] == ["Called Ann"]
    emails = [t for t in record["timeline"] if t["kind"] == "email"]
    assert {t["message_id_header"] for t in emails} == set(by_id)
    assert actions(runtime, "acme")[0] == "export.create"

    whole = cli(["export", "--tenant", "acme", "--out", str(tmp_path / "all")])
    assert whole.exit_code == 0, whole.output
    everything = json.loads((tmp_path / "all" / "export.json").read_text())
    assert sorted((r["kind"], r["id"]) for r in everything["records"]) == sorted(
        (kind, record_id) for kind, record_id in ids.items()
    )
    assert everything["messages"] == 4
    assert cli(["export", "--help"]).exit_code == 0
    bad = cli(["export", "--tenant", "acme", "--record", "deal:1", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "contact:ID" in bad.output


def test_api_export_is_built_in_the_background_and_only_its_requester_downloads_it(
    client: TestClient,
    tenants: TenantFactory,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
) -> None:
    admin = tenants.member("acme", "admin")
    other_admin = tenants.member("acme", "admin", email="second@acme.example.com")
    rep = tenants.member("acme", "rep")
    ids = _world(runtime)
    body = {"record": {"type": "contact", "id": ids["contact"]}}
    assert client.post("/api/v1/exports", json=body, headers=rep.headers).status_code == 403
    bad = client.post(
        "/api/v1/exports", json={"record": {"type": "deal", "id": 1}}, headers=admin.headers
    )
    assert bad.status_code == 422
    created = client.post("/api/v1/exports", json=body, headers=admin.headers)
    assert created.status_code == 202, created.text
    export = created.json()
    assert export["status"] == "pending"
    assert recorded_jobs.queued[-1] == (
        "inboxcrm.privacy.build_export",
        {"tenant": "acme", "export_id": export["id"]},
    )
    url = f"/api/v1/exports/{export['id']}"
    assert client.get(url + "/download", headers=admin.headers).status_code == 404  # not ready

    build_export(runtime, "acme", export["id"])
    build_export(runtime, "acme", export["id"])  # idempotent
    done = client.get(url, headers=admin.headers).json()
    assert done["status"] == "done" and done["counts"] == {"records": 1, "messages": 3}

    assert client.get(url + "/download", headers=other_admin.headers).status_code == 403
    download = client.get(url + "/download", headers=admin.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert sorted(archive.namelist()) == ["export.json", "mail.mbox"]

    with runtime.tenant_uow("acme") as uow:
        uow.session.execute(update(ExportJobRow).values(expires_at=utcnow() - timedelta(minutes=1)))
        uow.commit()
    assert client.get(url + "/download", headers=admin.headers).status_code == 404
    listed = client.get("/api/v1/exports", headers=admin.headers).json()["items"]
    assert [e["id"] for e in listed] == [export["id"]]
    export_actions = [a for a in actions(runtime, "acme") if a.startswith("export.")]
    assert export_actions == [
        "export.download",
        "export.download",
        "export.build",
        "export.request",
    ]
