"""The generated demo mailbox reads like correspondence: one thread per subject and partner,
replies that follow the question, no sentence repeated all over, and still fully deterministic."""

from __future__ import annotations

import email
import re
from collections import Counter, defaultdict
from email import policy

from inboxcrm.emulator import conversation_text as talk
from inboxcrm.emulator.corpus_text import FREE_MAIL
from inboxcrm.emulator.generator import body_text, generate_messages, render_generated
from inboxcrm.emulator.mail_store import Mailbox

OWNER = "alex@northwind-traders.example"
NOW_MS = 1_764_000_000_000


def _mailbox(count: int = 800, seed: int = 3) -> Mailbox:
    mailbox = Mailbox(email=OWNER, name="Alex")
    generate_messages(
        mailbox, count, seed=seed, customer_fraction=0.3, now_ms=NOW_MS, record_history=False
    )
    return mailbox


def _conversations(mailbox: Mailbox) -> dict[str, list[object]]:
    threads: dict[str, list[object]] = defaultdict(list)
    for rec in sorted(mailbox.messages.values(), key=lambda r: r.internal_date):
        if rec.gen is not None and rec.gen.kind == "conversation":
            threads[rec.thread_id].append(rec)
    return threads


def _timeline_of(rec: object) -> str:
    """The record a thread lands on: the partner's company domain, or a free-mail address."""
    sender = rec.senders[0]  # type: ignore[attr-defined]
    partner: str = rec.to[0] if sender == OWNER else sender  # type: ignore[attr-defined]
    domain = partner.rpartition("@")[2]
    return partner if domain in FREE_MAIL else domain


def test_no_two_threads_on_one_record_share_a_subject() -> None:
    threads = _conversations(_mailbox(1500))
    seen = Counter((_timeline_of(msgs[0]), msgs[0].subject) for msgs in threads.values())  # type: ignore[attr-defined]
    assert len(threads) > 200
    assert [key for key, n in seen.items() if n > 1] == []


def test_replies_follow_the_question_of_their_subject() -> None:
    mailbox = _mailbox()
    checked = 0
    for msgs in _conversations(mailbox).values():
        first = msgs[0].gen  # type: ignore[attr-defined]
        if first.lang != "en" or first.topic is None or first.topic[0] not in talk.EN_SCRIPTS:
            continue
        script = talk.EN_SCRIPTS[first.topic[0]]
        for position, rec in enumerate(msgs[:6]):
            spec = rec.gen  # type: ignore[attr-defined]
            text = body_text(spec, spec.name)
            slot = "open" if position == 0 else "answer" if position % 2 else "follow"
            stems = [max(re.split(r"\{[a-z_]+\}", line), key=len) for line in script[slot]]
            assert any(stem in text for stem in stems), (rec.subject, slot, text)  # type: ignore[attr-defined]
            checked += 1
    assert checked > 100


def test_no_sentence_is_on_more_than_a_few_percent_of_the_messages() -> None:
    mailbox = _mailbox()
    counts: Counter[str] = Counter()
    total = 0
    for msgs in _conversations(mailbox).values():
        for rec in msgs:
            spec = rec.gen  # type: ignore[attr-defined]
            lines = {line.strip() for line in body_text(spec, spec.name).split("\r\n")}
            counts.update(line for line in lines if len(line) > 30)
            total += 1
    sentence, most = counts.most_common(1)[0]
    assert most / total < 0.05, (sentence, most, total)


def test_the_mailbox_is_the_same_on_every_run_and_bodies_render_as_mime() -> None:
    one, two = _mailbox(300, seed=9), _mailbox(300, seed=9)
    assert list(one.messages) == list(two.messages)
    for key in list(one.messages)[:60]:
        a, b = one.messages[key], two.messages[key]
        assert (a.subject, a.senders, a.to, a.internal_date) == (
            b.subject,
            b.senders,
            b.to,
            b.internal_date,
        )
        raw = render_generated(a, one)
        assert raw == render_generated(b, two)
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert parsed["Subject"] == a.subject
