"""Fixtures of the quota gate tests on the real Redis server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def client(redis_server_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_server_url)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not answering: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    """A fresh key (and its ``:log`` and ``:b`` companions), deleted afterwards."""
    name = f"inboxcrm:test:quota:{uuid.uuid4().hex}"
    yield name
    client.delete(name, name + ":log", name + ":b")
