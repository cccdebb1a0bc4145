"""Gmail's search semantics in the emulator: Pacific-time dates, token matching of addresses,
and the query-complexity limit that answers nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.emulator.conftest import USER
from tests.emulator.test_gmail_messages import mime
from tests.fixtures.emulator import EmulatorHandle


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def _ids(gmail: Any, query: str) -> set[str]:
    answer = gmail.users().messages().list(userId="me", q=query).execute()
    return {m["id"] for m in answer.get("messages", [])}


def test_dates_are_pacific_midnight_and_epoch_seconds_are_exact(
    rep: tuple[EmulatorHandle, Any, Any],
) -> None:
    emu, _, gmail = rep
    # 2025-01-10 07:00 UTC is still January 9 in California (PST, UTC-8); 08:30 UTC is not.
    early = emu.deliver(USER, mime("early"), internal_date_ms=_ms(2025, 1, 10, 7))["id"]
    late = emu.deliver(USER, mime("late"), internal_date_ms=_ms(2025, 1, 10, 8, 30))["id"]
    summer = emu.deliver(USER, mime("summer"), internal_date_ms=_ms(2025, 7, 10, 7, 30))["id"]
    assert _ids(gmail, "after:2025/01/10") == {late, summer}
    assert _ids(gmail, "before:2025/01/10") == {early}
    # In July California is on PDT (UTC-7): midnight is 07:00 UTC.
    assert summer in _ids(gmail, "after:2025/07/10")
    epoch = _ms(2025, 1, 10, 6, 59) // 1000
    assert _ids(gmail, f"after:{epoch}") == {early, late, summer}


def test_address_terms_match_by_tokens(rep: tuple[EmulatorHandle, Any, Any]) -> None:
    emu, _, gmail = rep
    exact = emu.deliver(USER, mime("a", sender="ann@acme.example"))["id"]
    longer_local = emu.deliver(USER, mime("b", sender="jo.ann@acme.example"))["id"]
    longer_domain = emu.deliver(USER, mime("c", sender="ann@acme.example.au"))["id"]
    emu.deliver(USER, mime("d", sender="joann@acme.example"))
    emu.deliver(USER, mime("e", sender="ann@acme.examples"))
    expected = {exact, longer_local, longer_domain}
    assert _ids(gmail, "from:ann@acme.example") == expected
    assert _ids(gmail, "{from:ann@acme.example to:ann@acme.example}") == expected


def test_queries_over_the_complexity_limit_answer_nothing(
    rep: tuple[EmulatorHandle, Any, Any],
) -> None:
    emu, _, gmail = rep
    found = emu.deliver(USER, mime("x", sender="ann@acme.example"))["id"]
    query = "{from:ann@acme.example from:bob@acme.example from:cy@acme.example}"
    assert _ids(gmail, query) == {found}
    emu.set_config(query_max_terms=2)
    answer = gmail.users().messages().list(userId="me", q=query).execute()
    assert answer == {"resultSizeEstimate": 0}
    assert _ids(gmail, "from:ann@acme.example") == {found}
