"""How the fetch phase splits pending messages: whole threads where two or more of a thread's
messages are to be fetched, single messages otherwise; a window never splits a thread."""

from __future__ import annotations

from inboxcrm.providers.base import MessageRef
from inboxcrm.sync.engine import _plan, _whole_threads


def _refs(*pairs: tuple[str, str]) -> list[MessageRef]:
    return [MessageRef(id=m, thread_id=t) for m, t in pairs]


def test_a_full_window_leaves_its_last_thread_to_the_next_window() -> None:
    refs = _refs(("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B"))
    assert [r.id for r in _whole_threads(refs, 4)] == ["a1", "a2"]
    assert _whole_threads(refs, 5) == refs  # not full: the thread is whole
    only = _refs(("a1", "A"), ("a2", "A"))
    assert _whole_threads(only, 2) == only  # one thread longer than a window: as it is


def test_threads_with_two_messages_to_fetch_go_whole_the_rest_alone() -> None:
    refs = _refs(("a1", "A"), ("a2", "A"), ("b1", "B"), ("c1", "C"), ("c2", "C"))
    # c2 is already stored: thread C has one message left to fetch, so it is fetched alone.
    (batch,) = _plan(refs, 50, {"c2"}, by_thread=True)
    assert batch.ids == ["a1", "a2", "b1", "c1", "c2"]
    assert batch.threads == ["A"] and batch.threaded == ["a1", "a2"]
    assert batch.singles == ["b1", "c1"]


def test_batches_end_at_thread_boundaries_and_without_threads_nothing_goes_whole() -> None:
    refs = _refs(*((f"a{i}", "A") for i in range(3)), *((f"b{i}", "B") for i in range(3)))
    batches = _plan(refs, 2, set(), by_thread=True)
    assert [b.ids for b in batches] == [["a0", "a1", "a2"], ["b0", "b1", "b2"]]
    flat = _plan(refs, 4, set(), by_thread=False)
    assert [b.singles for b in flat] == [["a0", "a1", "a2", "b0"], ["b1", "b2"]]
    assert all(not b.threads for b in flat)
