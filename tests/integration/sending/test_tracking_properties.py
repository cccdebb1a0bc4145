"""Properties of tracking (hypothesis): over arbitrary link targets and token mutations no
answer redirects anywhere but to a link of the sent message; over arbitrary sequences of hits,
opens and clicks count once per recipient and minute, and proxy and scanner fetches are
labelled and never counted."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from inboxcrm.adapters.db.sending_tables import OutboundMessageRow, TrackingEventRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.sending import SendingPorts, _tracked_bodies
from inboxcrm.services.tenants import create_tenant
from inboxcrm.services.tracking import TrackingHit, classify_hit, record_tracking_hits
from inboxcrm.services.tracking_links import TrackingSigner, is_trackable_url, location_for
from tests.factories import make_contact, make_mail_account

TENANT = "props"
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

hosts = st.one_of(
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,5}){1,2}\Z"),
    st.sampled_from(["bücher.example", "例え.jp", "xn--bcher-kva.example", "127.0.0.1:8080"]),
)
path_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Co", "Cn")),
    max_size=25,
)
link_targets = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}" + (f"?{query}" if query else ""),
    st.sampled_from(["http", "https", "HTTPS"]),
    hosts,
    path_text,
    path_text,
)
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=%"


@st.composite
def mutations(draw: Any, token: str, others: list[str]) -> str:
    kinds = ["flip", "drop", "insert", "truncate", "swap_mac", "case", "pad", "forge"]
    kind = draw(st.sampled_from(kinds))
    if kind == "forge":  # the payload rewritten to an attacker's target, the MAC kept
        payload, _, mac = token.partition(".")
        claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claim[-1] = draw(st.sampled_from(["https://evil.example/", "http://127.0.0.1:1/x"]))
        forged = base64.urlsafe_b64encode(json.dumps(claim).encode()).rstrip(b"=").decode()
        return forged + "." + mac
    if kind == "truncate":
        return token[: draw(st.integers(0, max(0, len(token) - 1)))]
    if kind == "swap_mac" and others:
        other = draw(st.sampled_from(others))
        return token.partition(".")[0] + "." + other.partition(".")[2]
    if kind == "case":
        return token.swapcase()
    if kind == "pad":
        return token + draw(st.sampled_from(["=", "==", ".", "A", "%00"]))
    position = draw(st.integers(0, max(0, len(token) - 1)))
    char = draw(st.sampled_from(TOKEN_CHARS))
    if kind == "drop":
        return token[:position] + token[position + 1 :]
    if kind == "insert":
        return token[:position] + char + token[position:]
    if token and token[position] == char:
        char = "B" if char != "B" else "C"
    return token[:position] + char + token[position + 1 :]


@pytest.fixture
def tenant_runtime(runtime: Runtime) -> Iterator[Runtime]:
    create_tenant(runtime, TENANT)
    yield runtime


def _sent_outbound(runtime: Runtime) -> int:
    with runtime.tenant_uow(TENANT) as uow:
        account = make_mail_account(uow)
        contact = make_contact(uow)
        row = OutboundMessageRow(
            mail_account_id=account.id,
            sender_user_id=1,
            record_kind="contact",
            record_id=contact.id,
            status="sent",
            from_address=account.email,
            to_addresses=["a@b.example"],
            subject="Props",
            message_id_header="<p@x.example>",
        )
        uow.session.add(row)
        uow.commit()
        return row.id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@PROPERTY_SETTINGS
@given(targets=st.lists(link_targets, min_size=1, max_size=5), data=st.data())
def test_no_token_mutation_redirects_outside_the_messages_links(
    tenant_runtime: Runtime, client: TestClient, targets: list[str], data: Any
) -> None:
    signer: TrackingSigner = TrackingSigner(tenant_runtime.settings.secret_key.get_secret_value())
    tenant_runtime.extras["tracking_signer"] = signer
    row = OutboundMessageRow(id=4242, body_text="", subject="s", to_addresses=["a@b.example"])
    row.body_html = "".join(
        f'<p><a href="{html.escape(t, quote=True)}">link</a></p>' for t in targets
    )
    ports = SendingPorts(
        tenant=TENANT,
        uow=lambda: tenant_runtime.tenant_uow(TENANT),
        mailbox=lambda _id: None,  # type: ignore[arg-type,return-value]
        signer=signer,
        public_url="http://crm.test.example",
    )
    _, body = _tracked_bodies(ports, row, "a@b.example")
    tokens = re.findall(r'href="http://crm\.test\.example/t/c/([^"]+)"', body)
    trackable = {t.strip() for t in targets if is_trackable_url(t.strip())}
    assert len(set(tokens)) == len(trackable)
    allowed = {location_for(t) for t in trackable}
    for token in tokens:
        answer = client.get(f"/t/c/{token}", follow_redirects=False)
        assert answer.status_code == 302 and answer.headers["location"] in allowed
        mutated = data.draw(mutations(token, tokens))
        if mutated == token:
            continue
        answer = client.get(f"/t/c/{mutated}", follow_redirects=False)
        if answer.status_code == 302:
            assert answer.headers["location"] in allowed
        else:
            assert "location" not in answer.headers
            assert answer.status_code in (200, 404)


AGENTS = {
    "chrome": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
    "proxy": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)",
    "curl": "curl/8.5.0",
    "none": "",
    "scanner": "Mozilla/5.0 (compatible; Barracuda Sentinel)",
}
hit_specs = st.lists(
    st.tuples(
        st.sampled_from(["open", "click"]),
        st.sampled_from(["a@b.example", "c@d.example"]),
        st.integers(0, 3),  # minute
        st.integers(0, 59),  # second
        st.sampled_from(sorted(AGENTS)),
        st.sampled_from(["GET", "GET", "HEAD"]),
        st.integers(0, 1),  # link (two links at most: never the many-links rule)
    ),
    max_size=25,
)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@PROPERTY_SETTINGS
@given(specs=hit_specs, split=st.integers(1, 5))
def test_events_count_once_per_recipient_minute_and_machines_never(
    tenant_runtime: Runtime, specs: list[tuple[str, str, int, int, str, str, int]], split: int
) -> None:
    outbound_id = _sent_outbound(tenant_runtime)
    start = 1_800_000_000 - 1_800_000_000 % 60
    hits = [
        TrackingHit(
            tenant=TENANT,
            outbound_id=outbound_id,
            recipient=recipient,
            kind=kind,  # type: ignore[arg-type]
            link=link if kind == "click" else -1,
            url=f"https://x.example/{link}" if kind == "click" else None,
            issued_at=start - 3600,
            at=start + minute * 60 + second,
            method=method,
            user_agent=AGENTS[agent],
            visitor=f"v-{agent}",
        )
        for kind, recipient, minute, second, agent, method, link in specs
    ]
    for begin in range(0, len(hits), split):
        with tenant_runtime.tenant_uow(TENANT) as uow:
            record_tracking_hits(uow, hits[begin : begin + split])

    human = [h for h in hits if classify_hit(h)[0] == "human"]
    expected_opens = {(h.recipient, int(h.at // 60)) for h in human if h.kind == "open"}
    expected_clicks = {(h.recipient, h.link, int(h.at // 60)) for h in human if h.kind == "click"}
    with tenant_runtime.tenant_uow(TENANT) as uow:
        row = uow.session.get(OutboundMessageRow, outbound_id)
        assert row is not None
        assert row.opens == len(expected_opens)
        assert row.clicks == len(expected_clicks)
        entries = uow.session.scalar(
            select(func.count())
            .select_from(ActivityRow)
            .where(ActivityRow.kind.in_(["email_opened", "email_clicked"]))
            .where(ActivityRow.deleted_at.is_(None))
            .where(ActivityRow.record_id == row.record_id)
        )
        assert entries == len(expected_opens) + len(expected_clicks)
        labels = dict(
            uow.session.execute(
                select(TrackingEventRow.visitor, TrackingEventRow.label)
                .where(TrackingEventRow.outbound_message_id == outbound_id)
                .where(TrackingEventRow.visitor.in_(["v-proxy", "v-curl", "v-none", "v-scanner"]))
            ).all()
        )
    assert labels.get("v-proxy", "proxy") == "proxy"
    assert all(labels.get(v, "scanner") == "scanner" for v in ("v-curl", "v-none", "v-scanner"))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_many_links_at_once_is_a_scanner(tenant_runtime: Runtime) -> None:
    outbound_id = _sent_outbound(tenant_runtime)
    start = 1_800_000_000
    hits = [
        TrackingHit(
            TENANT,
            outbound_id,
            "a@b.example",
            "click",
            link,
            f"https://x.example/{link}",
            start - 3600,
            start + link * 0.5,
            "GET",
            AGENTS["chrome"],
            "same-visitor",
        )
        for link in range(4)
    ]
    with tenant_runtime.tenant_uow(TENANT) as uow:
        record_tracking_hits(uow, hits[:2])
    with tenant_runtime.tenant_uow(TENANT) as uow:
        assert uow.session.get(OutboundMessageRow, outbound_id).clicks == 2  # type: ignore[union-attr]
        record_tracking_hits(uow, hits[2:])
    with tenant_runtime.tenant_uow(TENANT) as uow:
        row = uow.session.get(OutboundMessageRow, outbound_id)
        assert row is not None and row.clicks == 0
        labels = set(uow.session.scalars(select(TrackingEventRow.label)))
        live = uow.session.scalar(
            select(func.count())
            .select_from(ActivityRow)
            .where(ActivityRow.kind == "email_clicked", ActivityRow.deleted_at.is_(None))
        )
    assert labels == {"scanner"} and live == 0
