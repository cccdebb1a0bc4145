"""``inboxcrm bench``: measured performance of the quality bars in SPEC section 6.

Each benchmark returns :class:`~inboxcrm.benchmarks.results.BenchResult` rows; the command writes
them, with the date and a description of the machine, to docs/benchmarks.md.
"""
