"""Deterministic, lazy mailbox generator.

``generate_messages`` adds N index records (addresses, subject, date, labels, snippet, size
estimate) to a mailbox; the RFC 822 bytes of a generated message are produced only when a client
asks for them (:func:`render_generated`), from the message's seed, so they are identical on every
call and a 100k-message mailbox costs tens of megabytes, not gigabytes.

Correspondents: ``max(40, N // 25)`` people and lists. The customer fraction (default 20%) of the
person correspondents are customers: about 80% of them get an address on a customer company domain
(``<company>.example``, a few companies) and the rest a free-mail address. Every address on a
customer domain is a customer and no non-customer uses one; free-mail addresses can be either, so
``/_emulator/users/{email}/correspondents`` (the ``customer`` flag) is the authority.
"""

from __future__ import annotations

import base64
import email.utils
import quopri
import random
import unicodedata
from collections.abc import Callable

from inboxcrm.emulator import conversation_text as talk
from inboxcrm.emulator import corpus_text as words
from inboxcrm.emulator.mail_store import Correspondent, Mailbox, MessageRecord, sys_intern
from inboxcrm.emulator.mime_payload import attachment_id, b64url, make_snippet

DAY_MS = 86_400_000
SPAN_MS = 730 * DAY_MS
CRLF = "\r\n"


#: A thread's subject as generated: (template, subject, item, day, number), shared by its messages.
Topic = tuple[str, str, str, str, int]


class GenSpec:
    """What is needed to re-create a generated message's bytes."""

    __slots__ = ("kind", "lang", "name", "refs", "seed", "topic", "variant")

    def __init__(
        self,
        seed: int,
        variant: int,
        lang: str,
        kind: str,
        refs: tuple[str, ...],
        name: str,
        topic: Topic | None = None,
    ) -> None:
        self.seed = seed
        self.variant = variant
        self.lang = lang
        self.kind = kind
        self.refs = refs
        self.name = name  # the sender's display name (signs the body)
        self.topic = topic  # what the thread is about (conversations); its replies answer it

    def snippet(self) -> str:
        return make_snippet(body_text(self, self.name, limit=200))


# Letters that NFKD cannot decompose to ASCII.
_LATIN = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "\u0131": "i", "ß": "ss", "æ": "ae"}
)


def _ascii_local(text: str) -> str:
    plain = (
        unicodedata.normalize("NFKD", text.translate(_LATIN))
        .encode("ascii", "ignore")
        .decode()
        .lower()
    )
    return "".join(ch for ch in plain if ch.isalnum() or ch in ".-") or "user"


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def build_correspondents(
    rng: random.Random, owner: str, count: int, customer_fraction: float
) -> list[Correspondent]:
    owner_domain = owner.split("@")[-1]
    customer_total = round(count * customer_fraction)
    n_domains = max(2, min(len(words.CUSTOMER_COMPANIES), customer_total // 12 + 1))
    customer_domains = [f"{c}.example" for c in rng.sample(words.CUSTOMER_COMPANIES, n_domains)]
    seen: set[str] = {owner}
    result: list[Correspondent] = []

    def person(domain_choice: str, customer: bool, kind: str) -> None:
        for _ in range(50):
            first = rng.choice(words.FIRST_NAMES)
            last = rng.choice(words.LAST_NAMES)
            style = rng.randrange(3)
            local = (
                f"{_ascii_local(first)}.{_ascii_local(last)}"
                if style == 0
                else f"{_ascii_local(first)[0]}{_ascii_local(last)}"
                if style == 1
                else f"{_ascii_local(first)}{rng.randrange(1, 99)}"
            )
            address = f"{local}@{domain_choice}"
            if address not in seen:
                seen.add(address)
                result.append(Correspondent(address, f"{first} {last}", customer, kind))
                return

    for index in range(customer_total):
        if index % 5 == 4:
            person(rng.choice(words.FREE_MAIL), True, "free-mail")
        else:
            person(rng.choice(customer_domains), True, "customer-domain")
    others = count - customer_total
    free_mail_domain = owner_domain in words.FREE_MAIL
    for index in range(max(others - len(words.LISTS), 0)):
        slot = index % 10
        if slot < 2 and not free_mail_domain:
            person(owner_domain, False, "colleague")
        elif slot < 5:
            person(rng.choice(words.FREE_MAIL), False, "free-mail")
        elif slot < 7:
            domain = f"{rng.choice(words.OTHER_COMPANIES)}.example"
            local = rng.choice(("noreply", "newsletter", "billing", "notifications", "info"))
            address = f"{local}@{domain}"
            if address not in seen:
                seen.add(address)
                result.append(
                    Correspondent(address, domain.split(".")[0].title(), False, "newsletter")
                )
        else:
            person(f"{rng.choice(words.OTHER_COMPANIES)}.example", False, "vendor")
    for name, title in words.LISTS:
        address = f"{name}@lists.community.example"
        seen.add(address)
        result.append(Correspondent(address, title, False, "list"))
    return result


def _fill(template: str, rng: random.Random) -> str:
    return _fill_topic(template, rng)[1]


def _fill_topic(template: str, rng: random.Random) -> Topic:
    """The template filled in, with the values used (draws from ``rng`` exactly as ``_fill``)."""
    if "{" not in template:
        return (template, template, "", "", 0)
    item, day, num = rng.choice(words.ITEMS), rng.choice(words.DAYS), rng.randrange(1000, 99999)
    return (template, template.format(item=item, day=day, num=num), item, day, num)


def _record_key(address: str) -> str:
    """Whose timeline a thread lands on: the company domain, or the address on free mail."""
    domain = address.rpartition("@")[2]
    return address if domain in words.FREE_MAIL else domain


def _distinct_subject(
    topic: Topic, partner: str, when_ms: int, seen: set[tuple[str, str]]
) -> Topic:
    """The topic with a subject no earlier thread with ``partner`` has (no random draws)."""
    template, subject, item, day, num = topic
    candidate = subject
    if (partner, candidate) in seen:
        month = email.utils.formatdate(when_ms / 1000, usegmt=True)[8:16]  # "Mar 2025"
        candidate = f"{subject} ({month})"
        extra = 2
        while (partner, candidate) in seen:
            candidate = f"{subject} ({month}, part {extra})"
            extra += 1
    seen.add((partner, candidate))
    return (template, candidate, item, day, num)


def _sentence_pools() -> dict[str, tuple[str, ...]]:
    rng = random.Random(7)
    return {
        lang: tuple(_fill(t, rng) for t in data[1] for _ in range(6 if "{" in t else 1))
        for lang, data in words.LANGUAGES.items()
    }


_POOLS = _sentence_pools()


def _paragraph_count(rng: random.Random, kind: str) -> int:
    count = (1, 1, 2, 2, 3, 3, 4, 5, 8)[int(rng.random() * 9)]
    if rng.random() < 0.04:
        count = 20 + int(rng.random() * 40)
    return count + 4 if kind == "newsletter" else count


def _script_lines(spec: GenSpec, rng: random.Random) -> list[str]:
    """The sentences of a conversation message: what its place in the thread calls for."""
    assert spec.topic is not None
    template, subject, item, day, num = spec.topic
    script = talk.EN_SCRIPTS.get(template) if spec.lang == "en" else None
    if script is None:
        script = talk.GENERAL_SCRIPTS.get(spec.lang, talk.GENERAL_SCRIPTS["en"])
    position = len(spec.refs)
    slot = "open" if position == 0 else "answer" if position % 2 else "follow"
    choices = script[slot]
    other_day = words.DAYS[(words.DAYS.index(day) + 2) % len(words.DAYS)] if day else "Thursday"
    values = {
        "item": item or "this",
        "day": day or "Monday",
        "other_day": other_day,
        "num": num,
        "subject": subject,
    }
    if slot == "open":
        chosen = choices[int(rng.random() * len(choices))]
    else:  # answers and their follow-ups pair up by round (see conversation_text)
        chosen = choices[(num + (position + 1) // 2) % len(choices)]
    return [chosen.format(**values)]


def _conversation_body(spec: GenSpec, sender_name: str, rng: random.Random) -> list[str]:
    lang = spec.lang if spec.lang in talk.GREETINGS else "en"
    greetings, closings = talk.GREETINGS[lang], talk.CLOSINGS[lang]
    lines = [greetings[int(rng.random() * len(greetings))], ""]
    for sentence in _script_lines(spec, rng):
        lines += [sentence, ""]
    if rng.random() < 0.04:  # now and then a long report after the answer
        pool = _POOLS[spec.lang]
        for _ in range(20 + int(rng.random() * 40)):
            lines += [" ".join(pool[int(rng.random() * len(pool))] for _ in range(3)), ""]
    lines.append(closings[int(rng.random() * len(closings))])
    lines.append(sender_name.split(" ")[0] if sender_name else "Team")
    return lines


def body_text(spec: GenSpec, sender_name: str, *, limit: int | None = None) -> str:
    """The plain-text body; with ``limit`` only (at least) that many leading characters."""
    rng = random.Random(spec.seed)
    if spec.kind == "spam":
        return "Dear friend, CLICK HERE to claim your reward now! " * (3 + spec.seed % 10)
    if spec.kind == "conversation" and spec.topic is not None:
        return CRLF.join(_conversation_body(spec, sender_name, rng))
    pool = _POOLS[spec.lang]
    size = len(pool)
    rand = rng.random
    paragraphs = _paragraph_count(rng, spec.kind)
    lines = ["Hello,", ""]
    length = 8
    for _ in range(paragraphs):
        line = " ".join(pool[int(rand() * size)] for _ in range(1 + int(rand() * 5)))
        lines.append(line)
        lines.append("")
        length += len(line) + 4
        if limit is not None and length > limit:
            return CRLF.join(lines)
    lines.append(sender_name.split(" ")[0] if sender_name else "Team")
    if spec.kind == "list":
        lines += ["", "--", "You received this because you are subscribed to the list."]
    return CRLF.join(lines)


def _text_size_guess(spec: GenSpec) -> int:
    if spec.kind == "spam":
        return 50 * (3 + spec.seed % 10)
    return 40 + (1 + (spec.seed >> 5) % 6) * 240


HUGE = 5
"""Variant of the few huge messages (one 20-40 MB attachment) in large mailboxes."""
HUGE_EVERY = 5000
"""Mailboxes generated with at least this many messages get one huge message per this many."""
HUGE_MAX = 5


def huge_default(count: int) -> int:
    """How many huge messages a generated mailbox of ``count`` gets (none in small ones)."""
    return min(HUGE_MAX, count // HUGE_EVERY)


def _attachments(spec: GenSpec) -> list[tuple[str, str, int]]:
    if spec.variant == HUGE:
        rng = random.Random(spec.seed ^ 0x4855474)
        return [("site-survey-photos.zip", "application/zip", rng.randint(20, 40) * 1_000_000)]
    if spec.variant not in (2, 3):
        return []
    rng = random.Random(spec.seed ^ 0x5DEECE66D)
    plan = []
    for _ in range(1 if spec.variant == 2 else rng.randint(1, 3)):
        filename, mime = rng.choice(words.ATTACHMENTS)
        size = int(min(rng.lognormvariate(10.3, 1.0), 3_000_000))
        plan.append((filename, mime, max(size, 300)))
    return plan


def estimate_size(spec: GenSpec) -> int:
    base = 900 + _text_size_guess(spec) * (1 if spec.variant in (0, 3) else 3)
    return base + sum(int(size * 1.37) + 200 for _, _, size in _attachments(spec))


class _Pick:
    """Per-thread random choices kept apart from the per-message seeds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def thread_size(self) -> int:
        roll = self.rng.random()
        if roll < 0.35:
            return 1
        if roll < 0.55:
            return 2
        if roll < 0.67:
            return 3
        if roll < 0.82:
            return self.rng.randint(4, 6)
        if roll < 0.94:
            return self.rng.randint(7, 12)
        return self.rng.randint(13, 30)

    def variant(self, kind: str) -> int:
        if kind == "newsletter":
            return self.rng.choice((1, 1, 4))
        if kind in ("list", "spam"):
            return 0
        roll = self.rng.random()
        if roll < 0.35:
            return 0
        if roll < 0.80:
            return 1
        if roll < 0.92:
            return 2
        if roll < 0.97:
            return 3
        return 4


def generate_messages(
    mailbox: Mailbox,
    count: int,
    *,
    seed: int,
    customer_fraction: float,
    now_ms: int,
    record_history: bool,
    huge: int | None = None,
) -> int:
    """Add ``count`` generated messages to ``mailbox``; returns how many were added.

    ``huge`` messages (default :func:`huge_default`: none below 5,000 messages) become
    customer conversations carrying one 20-40 MB attachment each.
    """
    rng = random.Random(f"inboxcrm-emulator:{seed}:{mailbox.email}")
    pick = _Pick(rng)
    owner = mailbox.email
    if not mailbox.correspondents:
        mailbox.correspondents = build_correspondents(
            rng, owner, max(40, count // 25), customer_fraction
        )
        mailbox.display_names.update({c.email: c.name for c in mailbox.correspondents})
    owner_name = mailbox.name or owner.split("@")[0].title()
    mailbox.display_names.setdefault(owner, owner_name)
    people = [c for c in mailbox.correspondents if c.kind not in ("list", "newsletter")]
    newsletters = [c for c in mailbox.correspondents if c.kind == "newsletter"] or people
    lists = [c for c in mailbox.correspondents if c.kind == "list"] or people
    colleagues = [c for c in people if c.kind == "colleague"]
    subjects_seen: set[tuple[str, str]] = set()
    produced = 0
    customers = {c.email for c in mailbox.correspondents if c.customer}
    candidates: list[MessageRecord] = []
    while produced < count:
        roll = rng.random()
        kind = (
            "conversation"
            if roll < 0.76
            else "list"
            if roll < 0.86
            else "newsletter"
            if roll < 0.985
            else "spam"
        )
        size = pick.thread_size() if kind in ("conversation", "list") else 1
        size = min(size, count - produced)
        gaps = [rng.expovariate(1 / 7_200_000) + 60_000 for _ in range(size)]
        span = int(sum(gaps))
        latest_start = now_ms - span - 60_000
        start = latest_start - int(rng.random() * max(SPAN_MS - span, DAY_MS))
        lang = _weighted(rng, words.LANGUAGE_WEIGHTS) if kind != "spam" else "en"
        subject_template = (
            rng.choice(words.SPAM_SUBJECTS)
            if kind == "spam"
            else rng.choice(words.NEWSLETTER_SUBJECTS)
            if kind == "newsletter"
            else rng.choice(words.LANGUAGES[lang][0])
        )
        topic = _fill_topic(subject_template, rng)
        partner = rng.choice(newsletters if kind == "newsletter" else people)
        if kind == "spam":
            spam_local = f"winner{rng.randrange(10_000)}"
            partner = Correspondent(
                f"{spam_local}@prize-{rng.randrange(99)}.example", "", False, "spam"
            )
        if kind == "conversation":  # one thread per subject and company, as in a real mailbox
            topic = _distinct_subject(topic, _record_key(partner.email), start, subjects_seen)
        subject = topic[1]
        reply_subject = f"Re: {subject}"
        list_addr = rng.choice(lists) if kind == "list" else None
        cc: tuple[str, ...] = ()
        if kind == "conversation" and rng.random() < 0.2:
            pool = colleagues or people
            extra = rng.choice(pool)
            if extra.email != partner.email:
                cc = (extra.email,)
        owner_turn = kind == "conversation" and rng.random() < 0.4
        thread_id = ""
        refs: list[str] = []
        when = start
        for position in range(size):
            when += int(gaps[position])
            if kind == "list":
                poster = owner if rng.random() < 0.1 else rng.choice(people).email
                sender, recipients = poster, (list_addr.email if list_addr else owner,)
            elif owner_turn:
                sender, recipients = owner, (partner.email,)
            else:
                sender, recipients = partner.email, (owner,)
            sender_name = sys_intern(mailbox.display_names.get(sender, ""))
            spec = GenSpec(
                rng.getrandbits(48),
                pick.variant(kind),
                lang,
                kind,
                tuple(refs[-10:]),
                sender_name,
                topic if kind == "conversation" else None,
            )
            if sender == owner:
                labels: tuple[str, ...] = ("SENT",)
            elif kind == "spam":
                labels = ("SPAM",)
            else:
                chosen = ["INBOX"] if rng.random() < 0.75 or kind != "conversation" else []
                if rng.random() < (0.5 if now_ms - when < 7 * DAY_MS else 0.08):
                    chosen.append("UNREAD")
                chosen.append(
                    "CATEGORY_PROMOTIONS"
                    if kind == "newsletter"
                    else "CATEGORY_FORUMS"
                    if kind == "list"
                    else "CATEGORY_PERSONAL"
                )
                if kind == "conversation" and rng.random() < 0.2:
                    chosen.append("IMPORTANT")
                labels = tuple(chosen)
            if kind != "spam" and rng.random() < 0.01:
                labels = ("TRASH",)
            msg_id = mailbox.new_message_id(when)
            thread_id = thread_id or msg_id
            domain = sender.split("@")[-1]
            message_id = f"<{msg_id}.{spec.seed % 1_000_000}@mail.{domain}>"
            display = subject if position == 0 or kind == "newsletter" else reply_subject
            rec = MessageRecord(
                msg_id=msg_id,
                thread_id=thread_id,
                internal_date=when,
                labels=tuple(sys_intern(lbl) for lbl in labels),
                history_id=0,
                size_estimate=estimate_size(spec),
                snippet="",
                subject=display,
                senders=(sender,),
                sender_names=sys_intern(sender_name.lower()),
                to=recipients,
                cc=cc if kind == "conversation" else (),
                bcc=(),
                message_id=message_id,
                has_attachment=spec.variant in (2, 3),
                list_id=f"<{list_addr.email.replace('@', '.')}>" if list_addr else "",
                gen=spec,
            )
            mailbox.add(rec, record_history=record_history)
            if kind == "conversation" and customers & {sender, *recipients}:
                candidates.append(rec)
            refs.append(message_id)
            produced += 1
            if kind == "conversation" and rng.random() < 0.85:
                owner_turn = not owner_turn
    wanted = huge_default(count) if huge is None else huge
    picker = random.Random(f"inboxcrm-emulator-huge:{seed}:{mailbox.email}")
    for rec in picker.sample(candidates, min(wanted, len(candidates))):
        old: GenSpec = rec.gen
        rec.gen = GenSpec(old.seed, HUGE, old.lang, old.kind, old.refs, old.name)
        rec.size_estimate = estimate_size(rec.gen)
        rec.has_attachment = True
    return produced


# -- rendering ---------------------------------------------------------------------------------
# A generated message is first built as a small tree of parts. The raw bytes (format=raw) are the
# tree serialised; the Gmail payload (format=full/metadata) is read from the same tree without
# parsing and without producing attachment bytes, which keeps batch gets cheap.


class GenPart:
    """One MIME part of a generated message. Headers are (name, wire value, display value)."""

    __slots__ = ("_size", "boundary", "children", "content", "filename", "headers", "mime")

    def __init__(
        self,
        mime: str,
        headers: list[tuple[str, str, str]],
        *,
        content: Callable[[], tuple[bytes, bytes]] | None = None,
        size: int | None = None,
        filename: str = "",
        children: list[GenPart] | None = None,
        boundary: str = "",
    ) -> None:
        self.mime = mime
        self.headers = headers
        self.content = content  # → (decoded bytes, transfer-encoded bytes), computed on demand
        self._size = size
        self.filename = filename
        self.children = children or []
        self.boundary = boundary

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = len(self.content()[0]) if self.content is not None else 0
        return self._size

    def serialize(self) -> bytes:
        head = "".join(f"{name}: {value}{CRLF}" for name, value, _ in self.headers).encode()
        if self.children:
            out = [head, CRLF.encode()]
            for child in self.children:
                out.append(f"--{self.boundary}{CRLF}".encode())
                out.append(child.serialize())
                out.append(CRLF.encode())
            out.append(f"--{self.boundary}--{CRLF}".encode())
            return b"".join(out)
        assert self.content is not None
        return head + CRLF.encode() + self.content()[1]


def _plain(name: str, value: str) -> tuple[str, str, str]:
    return (name, value, value.replace(CRLF, ""))


_Q_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")


def encode_words(text: str, charset: str) -> str:
    """RFC 2047 encoded-words (B for utf-8, Q for single-byte charsets), folded."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        pass
    try:
        text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        charset = "utf-8"
    if charset in ("us-ascii", "iso-2022-jp"):
        charset = "utf-8"
    words_out: list[str] = []
    chunk = ""
    limit = 45 if charset == "utf-8" else 20
    for ch in text:
        if len((chunk + ch).encode(charset)) > limit:
            words_out.append(chunk)
            chunk = ch
        else:
            chunk += ch
    if chunk:
        words_out.append(chunk)
    encoded = []
    for piece in words_out:
        data = piece.encode(charset)
        if charset == "utf-8":
            encoded.append(f"=?utf-8?b?{base64.b64encode(data).decode()}?=")
        else:
            body = "".join(
                chr(b) if b in _Q_SAFE else "_" if b == 32 else f"={b:02X}" for b in data
            )
            encoded.append(f"=?{charset}?q?{body}?=")
    return (CRLF + " ").join(encoded)


def _address(name: str, addr: str, charset: str) -> tuple[str, str]:
    """(wire form, display form) of one address."""
    if not name:
        return addr, addr
    try:
        name.encode("ascii")
        wire = email.utils.formataddr((name, addr))
        return wire, wire
    except UnicodeEncodeError:
        return f"{encode_words(name, charset)} <{addr}>", f"{name} <{addr}>"


def _address_header(name: str, pairs: list[tuple[str, str]], charset: str) -> tuple[str, str, str]:
    rendered = [_address(n, a, charset) for n, a in pairs]
    return (name, ", ".join(w for w, _ in rendered), ", ".join(d for _, d in rendered))


class _Lazy:
    """A value computed once, on first use."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], str]) -> None:
        self._fn = fn
        self._value: str | None = None

    def get(self) -> str:
        if self._value is None:
            self._value = self._fn()
        return self._value


def _text_leaf(mime: str, text: _Lazy, charset: str, choice: int) -> GenPart:
    if charset in ("us-ascii", "iso-2022-jp"):
        cte = "7bit"
    else:
        cte = ("base64", "quoted-printable", "8bit")[choice % 3]
    cache: list[tuple[bytes, bytes]] = []

    def content() -> tuple[bytes, bytes]:
        if cache:
            return cache[0]
        data = text.get().encode(charset)
        if cte == "base64":
            result = (data, base64_lines(data))
        elif cte == "quoted-printable":
            encoded = quopri.encodestring(data.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
            # what a reader decodes from the QP form (line ends are CRLF on the wire)
            result = (quopri.decodestring(encoded), encoded)
        else:
            result = (data, data)
        cache.append(result)
        return result

    headers = [
        _plain("Content-Type", f'{mime}; charset="{charset}"'),
        _plain("Content-Transfer-Encoding", cte),
    ]
    return GenPart(mime, headers, content=content)


def _html(text: str, subject: str) -> str:
    paragraphs = "".join(
        '<p style="margin:0 0 12px 0">' + p.replace("&", "&amp;").replace("<", "&lt;") + "</p>"
        for p in text.split(CRLF + CRLF)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{font-family:Arial,'
        "sans-serif;font-size:14px;color:#222}.sig{color:#888;font-size:12px}</style></head>"
        '<body><div dir="ltr">' + paragraphs + '<table class="sig"><tr><td>Sent from my office'
        "</td></tr></table></div></body></html>"
    )


_NOISE = random.Random(99).randbytes(1 << 16)


def _csv_block() -> bytes:
    rng = random.Random(98)
    rows = ["date,item,amount"]
    for _ in range(3000):
        rows.append(
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            f"item{rng.randrange(999)},{rng.randrange(10**5)}"
        )
    return CRLF.join(rows).encode()


_CSV = _csv_block()


def base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines (MIME)."""
    encoded = base64.b64encode(data)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return b"\r\n".join(lines) + (b"\r\n" if lines else b"")


def _attachment_leaf(filename: str, mime: str, size: int, seed: int) -> GenPart:
    def data() -> bytes:
        source = _CSV if mime == "text/csv" else _NOISE
        start = 0 if mime == "text/csv" else seed % len(source)
        block = source[start:] + source[:start]
        return (block * (size // len(block) + 1))[:size]

    def content() -> tuple[bytes, bytes]:
        raw = data()
        return raw, base64_lines(raw)

    try:
        filename.encode("ascii")
        disposition = f'attachment; filename="{filename}"'
        ctype = f'{mime}; name="{filename}"'
        shown_ctype = ctype
    except UnicodeEncodeError:
        disposition = "attachment; filename*=" + email.utils.encode_rfc2231(filename, "utf-8")
        ctype = f'{mime}; name="{encode_words(filename, "utf-8")}"'
        shown_ctype = f'{mime}; name="{filename}"'
    headers = [
        ("Content-Type", ctype, shown_ctype),
        _plain("Content-Disposition", disposition),
        _plain("Content-Transfer-Encoding", "base64"),
    ]
    return GenPart(mime, headers, content=content, size=size, filename=filename)


def _can_encode(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def build_tree(rec: MessageRecord, mailbox: Mailbox) -> GenPart:
    """The part tree of a generated message (deterministic; bodies are produced lazily)."""
    spec: GenSpec = rec.gen
    names = mailbox.display_names
    sender = rec.senders[0]
    charsets = words.LANGUAGES[spec.lang][2]
    charset = charsets[spec.seed % len(charsets)]
    sender_name = names.get(sender, "")
    text = _Lazy(lambda: body_text(spec, sender_name))
    date_s = (rec.internal_date - 2000 - spec.seed % 30_000) / 1000
    headers: list[tuple[str, str, str]] = []
    if sender != mailbox.email:
        host = f"mail.{sender.split('@')[-1]}"
        headers.append(_plain("Delivered-To", mailbox.email))
        headers.append(
            _plain(
                "Received",
                f"from {host} ({host} [192.0.2.{spec.seed % 250 + 1}]){CRLF}"
                f"        by mx.google.com with ESMTPS id {spec.seed:x}.{rec.id}{CRLF}"
                f"        for <{mailbox.email}>; "
                + email.utils.formatdate(rec.internal_date / 1000, usegmt=True),
            )
        )
    headers += [
        _plain("MIME-Version", "1.0"),
        _plain("Date", email.utils.formatdate(date_s, usegmt=True)),
        _plain("Message-ID", rec.message_id),
    ]
    if spec.refs:
        headers.append(_plain("In-Reply-To", spec.refs[-1]))
        headers.append(_plain("References", (CRLF + " ").join(spec.refs)))
    headers.append(("Subject", encode_words(rec.subject, charset), rec.subject))
    headers.append(_address_header("From", [(sender_name, sender)], charset))
    headers.append(_address_header("To", [(names.get(a, ""), a) for a in rec.to], charset))
    if rec.cc:
        headers.append(_address_header("Cc", [(names.get(a, ""), a) for a in rec.cc], charset))
    if rec.list_id:
        headers.append(_plain("List-Id", rec.list_id))
        headers.append(
            _plain("List-Unsubscribe", f"<mailto:unsubscribe-{rec.list_id.strip('<>')}>")
        )
        headers.append(_plain("Precedence", "list"))
    if spec.kind == "newsletter":
        headers.append(_plain("List-Unsubscribe", f"<https://{sender.split('@')[-1]}/unsubscribe>"))
    if spec.seed % 4 == 0:
        headers.append(_plain("X-Mailer", "Microsoft Outlook 16.0"))
    boundary = f"000000000000{spec.seed:012x}"
    variant = spec.variant
    choice = spec.seed >> 8
    if charset != "utf-8" and not _can_encode(text.get(), charset):
        charset = "utf-8"  # the text does not fit the chosen charset
    html = _Lazy(lambda: _html(text.get(), rec.subject))
    if variant == 0:
        root = _text_leaf("text/plain", text, charset, choice)
    elif variant == 4:
        root = _text_leaf("text/html", html, charset, choice)
    else:
        alternative = GenPart(
            "multipart/alternative",
            [_plain("Content-Type", f'multipart/alternative; boundary="{boundary}a"')],
            children=[
                _text_leaf("text/plain", text, charset, choice),
                _text_leaf("text/html", html, charset, choice >> 2),
            ],
            boundary=boundary + "a",
        )
        if variant == 1:
            root = alternative
        else:
            first = (
                alternative
                if variant in (2, HUGE)
                else _text_leaf("text/plain", text, charset, choice)
            )
            attachments = [
                _attachment_leaf(fn, mime, size, spec.seed + i)
                for i, (fn, mime, size) in enumerate(_attachments(spec))
            ]
            root = GenPart(
                "multipart/mixed",
                [_plain("Content-Type", f'multipart/mixed; boundary="{boundary}m"')],
                children=[first, *attachments],
                boundary=boundary + "m",
            )
    root.headers = headers + root.headers
    return root


def render_generated(rec: MessageRecord, mailbox: Mailbox) -> bytes:
    """The RFC 822 bytes of a generated message."""
    return build_tree(rec, mailbox).serialize()


def tree_headers(part: GenPart, wanted: set[str] | None = None) -> list[dict[str, str]]:
    return [
        {"name": n, "value": shown}
        for n, _, shown in part.headers
        if wanted is None or n.lower() in wanted
    ]


def tree_payload(part: GenPart, prefix: str, part_id: str = "") -> dict[str, object]:
    """Gmail's payload of a generated message, read from its tree (same result as parsing)."""
    node: dict[str, object] = {
        "partId": part_id,
        "mimeType": part.mime,
        "filename": part.filename,
        "headers": tree_headers(part),
    }
    if part.children:
        node["body"] = {"size": 0}
        node["parts"] = [
            tree_payload(child, prefix, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(part.children)
        ]
        return node
    if part.filename:
        node["body"] = {"size": part.size, "attachmentId": attachment_id(prefix, part_id)}
    else:
        assert part.content is not None
        data = part.content()[0]
        node["body"] = {"size": len(data), "data": b64url(data)} if data else {"size": 0}
    return node


def tree_find(root: GenPart, part_id: str) -> GenPart | None:
    node = root
    if part_id == "":
        return node
    for step in part_id.split("."):
        try:
            node = node.children[int(step)]
        except (ValueError, IndexError):
            return None
    return node
